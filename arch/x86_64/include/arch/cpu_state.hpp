// SPDX-License-Identifier: MIT
// Control-register setup of every pCPU, and the guest-visible CPU state reset between domains.
#pragma once

namespace hv::arch {

// CR0.NE/MP (x87 errors as #MF), CR4.OSFXSR/OSXMMEXCPT (SSE usable, as the PV CPUID policy
// advertises), CR4.SMEP where the CPU has it (the hypervisor never runs guest pages). SMAP stays
// off: QEMU TCG does LRETQ's pops as supervisor accesses (pv-abi.md §4.10).
void init_cpu_control();

// Before a pCPU runs a different vCPU: x87/SSE registers and MXCSR to their reset values and
// null data selectors, so nothing of the previous domain is visible (no lazy FPU switch yet).
void reset_guest_cpu_state();

}  // namespace hv::arch
