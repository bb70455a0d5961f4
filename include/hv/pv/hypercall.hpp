// SPDX-License-Identifier: MIT
// Hypercall dispatch: number in RAX, arguments in RDI, RSI, RDX, R10, R8; result in RAX
// (>= 0, or a negated Xen errno). Unknown numbers give -ENOSYS. [pv-abi.md §2.2]
#pragma once

#include "arch/trap_frame.hpp"
#include "hv/core/types.hpp"

namespace hv::pv {

struct Vcpu;

struct HypercallArgs {
    u64 arg[5];
};

long do_hypercall(Vcpu& vcpu, u64 number, const HypercallArgs& args);

// A hypercall exactly as the guest made it: number in regs.rax, arguments in the argument
// registers, result to regs.rax. The iret hypercall and multicall are dispatched here because
// they need the frame itself (iret replaces it, and a multicall may contain an iret); everything
// else goes through do_hypercall.
void do_hypercall_frame(Vcpu& vcpu, arch::TrapFrame& regs);
// multicall (13): runs the entries at `list`; see multicall.cpp for the stop rules.
long do_multicall(Vcpu& vcpu, arch::TrapFrame& regs, u64 list, u64 count);

}  // namespace hv::pv
