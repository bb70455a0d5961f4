// SPDX-License-Identifier: MIT
// Hypercall dispatch: number in RAX, arguments in RDI, RSI, RDX, R10, R8; result in RAX
// (>= 0, or a negated Xen errno). Unknown numbers give -ENOSYS. [pv-abi.md §2.2]
#pragma once

#include "arch/trap_frame.hpp"
#include "hv/core/types.hpp"
#include "hv/pv/guest_traps.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {

struct Vcpu;

// may_alias: a hypercall from a guest reads its arguments in place, from the TrapFrame's RDI..R8
// (contiguous there, trap_frame.hpp).
struct [[gnu::may_alias]] HypercallArgs {
    u64 arg[5];
};

long do_hypercall(Vcpu& vcpu, u64 number, const HypercallArgs& args);

// multicall (13): runs the entries at `list`; see multicall.cpp for the stop rules.
long do_multicall(Vcpu& vcpu, arch::TrapFrame& regs, u64 list, u64 count);

// A hypercall exactly as the guest made it: number in regs.rax, arguments in the argument
// registers, result to regs.rax. The iret hypercall and multicall are dispatched here because
// they need the frame itself (iret replaces it, and a multicall may contain an iret); everything
// else goes through do_hypercall. Inline: it is on every hypercall's path.
inline void do_hypercall_frame(Vcpu& vcpu, arch::TrapFrame& regs) {
    if (regs.rax == xen::kIret) return do_iret(vcpu, regs);
    if (regs.rax == xen::kMulticall) {
        regs.rax = static_cast<u64>(do_multicall(vcpu, regs, regs.rdi, regs.rsi));
        return;
    }
    const auto& args = *reinterpret_cast<const HypercallArgs*>(&regs.rdi);  // RDI, RSI, RDX, R10, R8
    regs.rax = static_cast<u64>(do_hypercall(vcpu, regs.rax, args));
}

}  // namespace hv::pv
