// SPDX-License-Identifier: MIT
// Boot steps of the boot CPU, in the order boot.cpp calls them.
#pragma once

#include "hv/boot/acpi.hpp"
#include "hv/boot/multiboot.hpp"
#include "hv/boot/options.hpp"

namespace hv::arch {

inline constexpr const char kIsolaVersion[] = "0.1.0";

// Keeps up to max_cpus of the MADT's pCPUs, the boot CPU first.
void record_cpus(const boot::CpuList& cpus, unsigned max_cpus);
// Copies the real-mode AP trampoline below 1 MiB (needs the boot identity map).
void install_ap_trampoline();
// Loads `cpu`'s GDT window, TSS and IDT with its guarded stacks (after memory_init).
void load_final_descriptors(unsigned cpu);
// INIT-SIPI-SIPI to every recorded AP; each loads its descriptors and parks.
void start_secondary_cpus();
// What was found and how memory is laid out.
void report_boot(const boot::BootInfo& boot, const boot::HvOptions& options);
void run_selftest(boot::Selftest selftest);

}  // namespace hv::arch
