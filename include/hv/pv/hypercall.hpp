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

// ---- Preemption (Xen's hypercall continuations) ----
// A batch hypercall (mmu_update, mmuext_op, multicall) checks every kOpsPerPreemptCheck entries
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

// A hypercall exactly as the guest made it: number in regs.rax, arguments in the argument
// registers, result to regs.rax. The iret hypercall and multicall are dispatched here because
// they need the frame itself (iret replaces it, and a multicall may contain an iret); everything
// else goes through do_hypercall.
void do_hypercall_frame(Vcpu& vcpu, arch::TrapFrame& regs);
// multicall (13): runs the entries at `list`; see multicall.cpp for the stop rules.
long do_multicall(Vcpu& vcpu, arch::TrapFrame& regs, u64 list, u64 count);

}  // namespace hv::pv
