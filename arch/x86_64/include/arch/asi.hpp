// SPDX-License-Identifier: MIT
// Address Space Isolation in force for this boot (the asi= option), and the per-pCPU roots it
// needs. The policy is fixed before memory_init() and never changes afterwards.
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/types.hpp"

namespace hv::arch {

struct AsiPolicy {
    bool vcpu_pt;     // every PV vCPU runs on its own root tables (kernel and user shadow L4s)
    bool cpu_stack;   // a root maps only the stacks, GDT and mapcache window of its own pCPU
    bool zero_stack;  // a full context switch zeroes the used part of the pCPU's stacks
};

void set_asi_policy(const AsiPolicy& policy);
const AsiPolicy& asi_policy();

// The root a pCPU runs on when no vCPU is loaded, and the slot-261 entry every root loaded on
// that pCPU carries: with cpu-stack, a per-pCPU L3 mapping only that pCPU's windows; without,
// the global L3 mapping every pCPU's windows (as Xen does).
Mfn cpu_idle_root(unsigned cpu);
u64 cpu_global_slot_entry(unsigned cpu);

}  // namespace hv::arch
