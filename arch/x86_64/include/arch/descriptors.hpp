// SPDX-License-Identifier: MIT
// Per-pCPU GDT, TSS and IDT.
#pragma once

#include "arch/boot_constants.h"
#include "hv/core/types.hpp"

namespace hv::arch {

inline constexpr unsigned kMaxCpus = HV_MAX_CPUS;

// IST slots (1-based in the IDT gate, 0-based in the stack table of va_layout.hpp).
enum class Ist : u8 { None = 0, Nmi = 1, DoubleFault = 2, MachineCheck = 3 };

struct CpuStacks {
    u64 primary_top;
    u64 ist_top[3];  // NMI, #DF, #MC
};

// Loads this pCPU's GDT, TSS and IDT (built here from the vector stubs) and reloads segments.
void load_cpu_descriptors(unsigned cpu, const CpuStacks& stacks);

}  // namespace hv::arch
