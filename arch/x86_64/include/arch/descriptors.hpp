// SPDX-License-Identifier: MIT
// Per-pCPU GDT, TSS and IDT, with Xen's selector layout (reserved GDT page 14).
#pragma once

#include "arch/boot_constants.h"
#include "hv/core/types.hpp"

namespace hv::arch {

inline constexpr unsigned kMaxCpus = HV_MAX_CPUS;

// IST slots (1-based in the IDT gate, 0-based in the stack table of va_layout.hpp).
enum class Ist : u8 { None = 0, Nmi = 1, DoubleFault = 2, MachineCheck = 3, Debug = 4 };
inline constexpr unsigned kIstStacks = 4;

struct CpuStacks {
    u64 primary_top;  // TSS.RSP0: where exceptions and interrupts from ring 3 (guests) land
    u64 ist_top[kIstStacks];  // NMI, #DF, #MC, #DB
};

// Writes the hypervisor's descriptors into `reserved_page` (the 4 KiB page GDT offset 0xe000
// maps), then loads GDTR = gdt_base (limit 0xefff), this pCPU's IDT and TSS, and the segments.
// Boot uses a static early GDT; afterwards each pCPU uses its window in the cpu_gdt region.
void load_cpu_descriptors(unsigned cpu, const CpuStacks& stacks, u64 gdt_base, u64* reserved_page);

// Points this pCPU's LDT descriptor (selector 0xe050 in `reserved_page`) at `entries` entries
// from `base` and loads LDTR; 0 entries loads a null LDTR.
void load_ldt(u64* reserved_page, u64 base, u32 entries);

// A static GDT for the boot CPU until its cpu_gdt window is mapped.
u64 early_gdt_base();

}  // namespace hv::arch
