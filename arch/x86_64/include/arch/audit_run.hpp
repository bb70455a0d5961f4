// SPDX-License-Identifier: MIT
// The `audit` hypervisor option: the isolation audit of every root at the end of a run.
#pragma once

namespace hv::pv {
struct Domain;
}

namespace hv::arch {

// Audits every vCPU root of `domains` and every pCPU's idle root and prints the audit protocol.
// `domain_cpu[i]`: the pCPU domain i ran on (used when its vCPU never recorded one).
void run_isolation_audit(const pv::Domain* domains, unsigned domain_count, const unsigned* domain_cpu);

}  // namespace hv::arch
