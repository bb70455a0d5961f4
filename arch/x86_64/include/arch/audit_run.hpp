// SPDX-License-Identifier: MIT
// The `audit` hypervisor option: the isolation audit of every root at the end of a run.
#pragma once

#include "hv/core/types.hpp"

namespace hv::pv {
struct Domain;
struct Vcpu;
}

namespace hv::arch {

// Audits the roots of every vCPU that ran (on the pCPU it last ran on) and every pCPU's idle
// root, and prints the audit protocol.
void run_isolation_audit();

// The audit point (option audit-point=<cpu>): pCPU `cpu` stops at its first guest entry.
void set_audit_point_cpu(u64 cpu);
bool audit_point_due(unsigned cpu);
// Prints the mappings of the root loaded now (`vcpu`'s, on this pCPU), then halts for good with
// interrupts off, so QEMU's monitor can be asked what this pCPU's CR3 maps.
[[noreturn]] void stop_at_audit_point(const pv::Vcpu& vcpu, unsigned cpu);

}  // namespace hv::arch
