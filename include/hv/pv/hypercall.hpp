// SPDX-License-Identifier: MIT
// Hypercall dispatch: number in RAX, arguments in RDI, RSI, RDX, R10, R8; result in RAX
// (>= 0, or a negated Xen errno). Unknown numbers give -ENOSYS. [pv-abi.md §2.2]
#pragma once

#include "hv/core/types.hpp"

namespace hv::pv {

struct Vcpu;

struct HypercallArgs {
    u64 arg[5];
};

long do_hypercall(Vcpu& vcpu, u64 number, const HypercallArgs& args);

}  // namespace hv::pv
