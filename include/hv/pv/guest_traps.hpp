// SPDX-License-Identifier: MIT
// What happens when a PV guest traps into the hypervisor other than by hypercall, and the iret
// hypercall that returns from a bounce. Failures crash the domain (domain.state changes).
#pragma once

#include "arch/trap_frame.hpp"
#include "hv/core/types.hpp"

namespace hv::pv {

struct Vcpu;

// A CPU exception in guest context. `cr2` is the faulting address for #PF.
void handle_guest_exception(Vcpu& vcpu, arch::TrapFrame& regs, u64 cr2);
// SYSCALL executed in guest user mode: the syscall callback, or #UD when there is none.
void handle_user_syscall(Vcpu& vcpu, arch::TrapFrame& regs);
// The iret hypercall: `regs` is the state at its SYSCALL; afterwards it is the state to resume.
void do_iret(Vcpu& vcpu, arch::TrapFrame& regs);

// Length and vector of an `INT n` (0xCD ib, after prefixes) in `bytes`, or 0 if it is not one.
unsigned decode_int_n(const u8* bytes, usize length, u8& vector);

}  // namespace hv::pv
