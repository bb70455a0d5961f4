// SPDX-License-Identifier: MIT
// pCPU discovery (ACPI MADT) and bring-up of the application processors (INIT-SIPI-SIPI).
#pragma once

#include "arch/descriptors.hpp"
#include "arch/va_layout.hpp"
#include "hv/core/types.hpp"

namespace hv::arch {

// Index (0 = boot CPU) of the pCPU running this code, in any context, fault paths included. On a
// pCPU stack (primary or IST) its 2 MiB window says which pCPU this is: inline, one subtraction
// on every hot path. Anywhere else (the boot stack lies outside the stacks region, so its window
// number is huge) the slow path asks the local APIC ID.
unsigned current_cpu_index_from_apic();
// The stack window alone: the pCPU index on a pCPU stack, kMaxCpus or more anywhere else. For hot
// paths that keep their off-stack fallback out of line, so that they need no stack frame.
inline u64 cpu_index_from_stack() {
    u64 rsp;
    asm("movq %%rsp, %0" : "=r"(rsp));
    return (rsp - kCpuStacksBase) / kCpuStackWindow;  // huge below the base
}
inline unsigned current_cpu_index() {
    const u64 window = cpu_index_from_stack();
    if (window < kMaxCpus) [[likely]] return static_cast<unsigned>(window);
    return current_cpu_index_from_apic();
}

struct CpuTopology {
    unsigned found;     // usable pCPUs listed in the MADT
    unsigned count;     // pCPUs the hypervisor uses (at most maxcpus= and kMaxCpus), index 0 = boot CPU
    unsigned online;    // pCPUs running hypervisor code
    u8 apic_id[8];      // by index
    u64 lapic_maddr;
};
const CpuTopology& cpu_topology();

// Sends the wakeup IPI to every online AP.
void wake_secondary_cpus();
// Halts with interrupts enabled only inside HLT until *flag is true (woken by wakeup IPIs).
void halt_until(volatile bool* flag);

}  // namespace hv::arch
