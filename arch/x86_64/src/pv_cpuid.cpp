// SPDX-License-Identifier: MIT
// The host CPUID the PV CPUID policy starts from.
#include "arch/cpu.hpp"
#include "hv/pv/emulate.hpp"

namespace hv::pv {

CpuidLeaf host_cpuid(u32 leaf, u32 subleaf) {
    const arch::CpuidResult r = arch::cpuid(leaf, subleaf);
    return {r.eax, r.ebx, r.ecx, r.edx};
}

}  // namespace hv::pv
