// SPDX-License-Identifier: MIT
// Running PV guests: entry from a guest (SYSCALL or exception), and the loop that runs domains.
//
// The boot CPU builds every domain from the boot modules; then every pCPU runs the scheduler
// (sched.hpp). While a guest runs, its registers live in the TrapFrame at the top of the pCPU's
// primary stack; while it does not, in its Vcpu.
#pragma once

#include "arch/trap_frame.hpp"
#include "hv/boot/multiboot.hpp"

namespace hv::pv {
struct Vcpu;
}

namespace hv::arch {

// Sets EFER.SCE, STAR, LSTAR (this pCPU's stub) and SFMASK, and the stub's stack top.
void syscall_init_cpu(unsigned cpu);

// An exception from ring 3 on this pCPU (guest SYSCALLs have their own entry, hv_handle_syscall
// in pv_run.cpp). Returns to resume the guest in `frame`.
void handle_guest_exception_entry(TrapFrame& frame);
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

// A vCPU's CPU state leaves the pCPU (x87/SSE, segment bases and selectors into its Vcpu); its
// page tables stay loaded until another vCPU is loaded (the lazy switch).
void save_vcpu_state(pv::Vcpu& vcpu);
// THE function that loads a vCPU's address space and CPU state onto this pCPU (CR3 through
// pv::reload_guest_root, TLB, GDT, CR0.TS, x87/SSE, selectors, segment bases; loaded_vcpu).
void load_vcpu(pv::Vcpu& vcpu);
// Runs `vcpu` on this pCPU (already Running there for the scheduler): load_vcpu unless its
// state is still loaded here (lazy switch back), then into the guest.
[[noreturn]] void run_vcpu(pv::Vcpu& vcpu);
// The vCPU's DR0-3/DR7 into the hardware when its DR7 enables a breakpoint, else the hardware's
// breakpoints disarmed (debug_registers.cpp).
void load_debug_registers(pv::Vcpu& vcpu);
// A #DB from the guest: the hardware DR6 goes into its virtual DR6 (and is reset).
void take_guest_debug_status(pv::Vcpu& vcpu);
// A #DB in the hypervisor (a guest data breakpoint hit by a guest-memory access, or one a MOV SS
// held back past SYSCALL): dropped, and counted for this pCPU.
void ignore_hypervisor_debug_trap();
// How many #DBs this pCPU took in the hypervisor and dropped (for selftest=db-bad-stack).
u64 hypervisor_debug_traps_dropped();
// For the statistics: one switch to a vCPU, lazy or not (sched.cpp).
void note_switch(bool lazy);

// Our IRETQ back into a guest faulted on the guest's own selectors: the guest gets #GP at the
// state it tried to return to (or is crashed without a handler), then runs on.
[[noreturn]] void guest_iret_failed(const TrapFrame& fault);

}  // namespace hv::arch
