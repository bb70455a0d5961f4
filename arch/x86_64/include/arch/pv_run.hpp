// SPDX-License-Identifier: MIT
// Running PV guests: entry from a guest (SYSCALL or exception), and the loop that runs domains.
//
// Until the scheduler exists (issue 4) each pCPU runs one vCPU at a time to completion: the
// boot CPU builds every domain from the boot modules, then runs them one after another. While a
// guest runs, its registers live in the TrapFrame at the top of the pCPU's primary stack.
#pragma once

#include "arch/trap_frame.hpp"
#include "hv/boot/multiboot.hpp"

namespace hv::arch {

// Sets EFER.SCE, STAR, LSTAR (this pCPU's stub) and SFMASK, and the stub's stack top.
void syscall_init_cpu(unsigned cpu);

// SYSCALL or exception from ring 3 on this pCPU. Returns to resume the guest in `frame`.
void handle_guest_entry(TrapFrame& frame);
// The wakeup IPI arrived while this pCPU ran a guest (already EOI'd): another pCPU raised an event
// for it. Returns to resume the guest, at its event callback if an upcall is now deliverable.
void handle_guest_interrupt(TrapFrame& frame);

// Builds a domain from every boot module and runs them all; ends the machine run when the last
// domain has ended (status 0 when every domain powered off, GuestFailure otherwise).
// With `audit`, the last pCPU audits every root once every domain has ended (audit_run.hpp).
[[noreturn]] void run_domains(const boot::BootInfo& boot, bool audit);
// An AP waits until run_domains has built every domain, then runs the ones placed on it.
[[noreturn]] void run_domains_on_ap();

const char* exception_name(u64 vector);

// Our IRETQ back into a guest faulted on the guest's own selectors: the guest gets #GP at the
// state it tried to return to (or is crashed without a handler), then runs on.
[[noreturn]] void guest_iret_failed(const TrapFrame& fault);

}  // namespace hv::arch
