// SPDX-License-Identifier: MIT
// Every interrupt and exception arrives here (vectors.S) with a TrapFrame; guest SYSCALLs have
// their own entry (hv_handle_syscall, pv_run.cpp).
//   exception from a guest (CS RPL 3)   -> pv_run.cpp
//   interrupt (timer, wakeup, flush)    -> its handler, then back to the guest or the hypervisor
//   #PF on one of guest_copy's accesses -> resume at its fixup (the copy reports failure)
//   anything else in the hypervisor    -> register dump, run ends with HypervisorFault
#include "arch/boot_constants.h"
#include "arch/cpu.hpp"
#include "arch/flush.hpp"
#include "arch/lapic.hpp"
#include "arch/sched.hpp"
#include "arch/time.hpp"
#include "arch/pv_run.hpp"
#include "arch/smp.hpp"
#include "arch/trap_frame.hpp"
#include "hv/core/console.hpp"

extern "C" char guest_copy_access_quads[], guest_copy_quads_fixup[], guest_copy_access[], guest_copy_fixup[],
    guest_iret_insn[];

namespace hv::arch {
namespace {

constexpr u64 kVectorPageFault = 14;
constexpr u64 kFirstInterruptVector = 32;  // 0-31: exceptions [SDM 3A §6.3]
constexpr u64 kVectorDebug = 1;

const char* vector_name(u64 vector) {
    static const char* const kNames[] = {
        "#DE Divide error", "#DB Debug", "NMI", "#BP Breakpoint", "#OF Overflow", "#BR Bound range",
        "#UD Invalid opcode", "#NM Device not available", "#DF Double fault", "Coprocessor overrun",
        "#TS Invalid TSS", "#NP Segment not present", "#SS Stack fault", "#GP General protection",
        "#PF Page fault", "Reserved", "#MF x87 error", "#AC Alignment check", "#MC Machine check",
        "#XM SIMD error", "#VE Virtualization", "#CP Control protection"};
    if (vector < sizeof kNames / sizeof kNames[0]) return kNames[vector];
    return vector < 32 ? "Reserved exception" : "Unexpected interrupt";
}

void dump(const TrapFrame& f) {
    print("\n*** Isola: hypervisor fault on pCPU %u: %s (vector %lu), error code 0x%lx\n", current_cpu_index(),
          vector_name(f.vector), f.vector, f.error_code);
    print("RIP %016lx  CS %04lx  RFLAGS %016lx\n", f.rip, f.cs, f.rflags);
    print("RSP %016lx  SS %04lx\n", f.rsp, f.ss);
    print("RAX %016lx  RBX %016lx  RCX %016lx  RDX %016lx\n", f.rax, f.rbx, f.rcx, f.rdx);
    print("RSI %016lx  RDI %016lx  RBP %016lx  R8  %016lx\n", f.rsi, f.rdi, f.rbp, f.r8);
    print("R9  %016lx  R10 %016lx  R11 %016lx  R12 %016lx\n", f.r9, f.r10, f.r11, f.r12);
    print("R13 %016lx  R14 %016lx  R15 %016lx\n", f.r13, f.r14, f.r15);
    print("CR0 %016lx  CR2 %016lx  CR3 %016lx  CR4 %016lx\n", read_cr0(), read_cr2(), read_cr3(), read_cr4());
}

}  // namespace

const char* exception_name(u64 vector) { return vector_name(vector); }

}  // namespace hv::arch

extern "C" void hv_handle_vector(hv::arch::TrapFrame* frame) {
    using namespace hv::arch;
    // A guest's exceptions first: #PF and #GP (emulation, INT n) are the hot ones.
    if (frame->vector < kFirstInterruptVector && (frame->cs & 3) == 3) return handle_guest_exception_entry(*frame);
    // Platform interrupts, whether they hit the hypervisor or a guest.
    if (frame->vector == kVectorWakeup) {
        lapic_eoi();
        if ((frame->cs & 3) == 3) handle_guest_interrupt(*frame);  // an event for the running guest
        return;
    }
    if (frame->vector == kVectorFlush) {
        lapic_eoi();
        serve_flush_request();  // then straight back to the guest or the idle loop
        return;
    }
    if (frame->vector == kVectorTimer) {
        lapic_eoi();
        const bool from_guest = (frame->cs & 3) == 3;
        sched_tick(from_guest);
        if (from_guest) handle_guest_interrupt(*frame);  // a preemption or a timer upcall
        return;
    }
    if (frame->vector == kVectorSpurious) return;  // no EOI for spurious interrupts [SDM 3A §10.9]
    if ((frame->cs & 3) == 3) return handle_guest_exception_entry(*frame);  // any other vector that hit a guest
    if (frame->vector == kVectorDebug) return ignore_hypervisor_debug_trap();  // a trap: the access is done
    if (frame->vector == kVectorPageFault && frame->rip == reinterpret_cast<hv::u64>(guest_copy_access_quads)) {
        frame->rip = reinterpret_cast<hv::u64>(guest_copy_quads_fixup);
        return;
    }
    if (frame->vector == kVectorPageFault && frame->rip == reinterpret_cast<hv::u64>(guest_copy_access)) {
        frame->rip = reinterpret_cast<hv::u64>(guest_copy_fixup);
        return;
    }
    // Only #NP, #SS and #GP can come from the guest's own selectors or RIP; an NMI or #MC that
    // happens to land on the IRETQ is not the guest's doing.
    const bool selector_fault = frame->vector >= 11 && frame->vector <= 13;
    if (selector_fault && frame->rip == reinterpret_cast<hv::u64>(guest_iret_insn) && (frame->cs & 3) == 0) {
        // The iret frame is at our RSP: only a guest-bound (RPL 3) return is the guest's fault.
        const auto* iret_frame = reinterpret_cast<const hv::u64*>(frame->rsp);
        if ((iret_frame[1] & 3) == 3) guest_iret_failed(*frame);
    }
    dump(*frame);
    hv::machine_exit(hv::ExitCode::HypervisorFault);
}
