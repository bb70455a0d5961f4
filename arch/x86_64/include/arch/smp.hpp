// SPDX-License-Identifier: MIT
// pCPU discovery (ACPI MADT) and bring-up of the application processors (INIT-SIPI-SIPI).
#pragma once

#include "hv/core/types.hpp"

namespace hv::arch {

// Index (0 = boot CPU) of the pCPU running this code; found from the local APIC ID so it works
// in any context, fault paths included.
unsigned current_cpu_index();

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
