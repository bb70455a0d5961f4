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

// ---- Preemption (Xen's hypercall continuations) ----
// A batch hypercall (mmu_update, mmuext_op, multicall, grant_table_op's batches) checks every
// kOpsPerPreemptCheck entries
// whether the pCPU has other work; if so it stops and asks to be re-executed with its arguments
// rewritten to cover what is left. The guest's SYSCALL then runs again once interrupts, events
// and the scheduler have had their turn, so no hypercall runs unbounded in the hypervisor.
inline constexpr u32 kOpsPerPreemptCheck = 16;
// True when an interrupt waits for this pCPU, the scheduler wants it, or an event upcall is
// deliverable to `vcpu` (Xen's hypercall_preempt_check).
bool hypercall_preempt_check(Vcpu& vcpu);
// Records that the running hypercall continues as `number(args)`; returns the value the handler
// returns in the meantime (the number, as Xen; the re-execution overwrites RAX anyway). Inside a
// multicall the entry is rewritten instead and the multicall itself continues.
long create_continuation(Vcpu& vcpu, u64 number, const HypercallArgs& args);
// After a hypercall returned: when it asked to continue, moves the guest's RIP back over its
// SYSCALL (2 bytes) and loads the number and arguments into RAX, RDI, RSI, RDX, R10 and R8.
void apply_continuation(Vcpu& vcpu, arch::TrapFrame& regs);

// mmu_update, mmuext_op, grant_table_op and multicall from a guest's frame: the hypercall, then
// its continuation if it asked for one (apply_continuation). Out of line: only these can continue.
void do_preemptible_hypercall(Vcpu& vcpu, arch::TrapFrame& regs);

// multicall (13): runs the entries at `list`; see multicall.cpp for the stop rules.
long do_multicall(Vcpu& vcpu, arch::TrapFrame& regs, u64 list, u64 count);

// A hypercall exactly as the guest made it: number in regs.rax, arguments in the argument
// registers, result to regs.rax. The iret hypercall and multicall are dispatched here because
// they need the frame itself (iret replaces it, and a multicall may contain an iret); everything
// else goes through do_hypercall. Inline: it is on every hypercall's path.
inline void do_hypercall_frame(Vcpu& vcpu, arch::TrapFrame& regs) {
    if (regs.rax == xen::kIret) return do_iret(vcpu, regs);
    if (regs.rax == xen::kMulticall || regs.rax == xen::kMmuUpdate || regs.rax == xen::kMmuextOp ||
        regs.rax == xen::kGrantTableOp) [[unlikely]]
        return do_preemptible_hypercall(vcpu, regs);
    const auto& args = *reinterpret_cast<const HypercallArgs*>(&regs.rdi);  // RDI, RSI, RDX, R10, R8
    regs.rax = static_cast<u64>(do_hypercall(vcpu, regs.rax, args));
}

}  // namespace hv::pv
