// SPDX-License-Identifier: MIT
// ACPI: just enough to find the pCPUs (MADT local APIC entries) and the local APIC address.
#pragma once

#include "hv/boot/multiboot.hpp"
#include "hv/core/result.hpp"
#include "hv/core/types.hpp"

namespace hv::boot {

inline constexpr usize kMaxCpusFound = 64;

struct CpuList {
    unsigned count;
    u32 apic_id[kMaxCpusFound];  // in MADT order; the boot CPU is usually first
    u64 lapic_maddr;
};

// Finds the RSDP in the EBDA or the BIOS area, then the MADT through the RSDT or XSDT.
// Every table is checksummed and bounded; the result lists enabled (or online-capable) CPUs.
Result<void, const char*> find_cpus(const PhysReader& memory, CpuList& out);

}  // namespace hv::boot
