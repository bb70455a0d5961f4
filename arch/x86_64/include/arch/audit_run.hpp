// SPDX-License-Identifier: MIT
// The `audit` hypervisor option: the isolation audit of every root at the end of a run.
#pragma once

namespace hv::pv {
struct Domain;
}

namespace hv::arch {

// Audits the roots of every vCPU that ran (on the pCPU it last ran on) and every pCPU's idle
// root, and prints the audit protocol.
void run_isolation_audit();

}  // namespace hv::arch
