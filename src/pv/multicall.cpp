// SPDX-License-Identifier: MIT
// Hypercalls that need the guest's whole register frame: the iret hypercall (which replaces it)
// and multicall (whose entries may include an iret). [pv-abi.md §3.20, §4.6]
#include <cstddef>

#include "hv/pv/domain.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/guest_traps.hpp"
#include "hv/pv/hypercall.hpp"
#include "hv/pv/xen_abi.hpp"
#include "hypercall_handlers.hpp"

namespace hv::pv {
namespace {

constexpr u64 kResultOffset = offsetof(xen::MulticallEntry, result);
constexpr u64 kSyscallLength = 2;  // the hypercall page's SYSCALL, which a continuation re-executes

// The entry at `entry_va` asked to continue: its arguments in the guest's list become the
// continuation's, so the multicall can continue from that entry. False when the entry cannot be
// written back (the continuation is dropped, as Xen's hypercall_cancel_continuation).
bool continue_at_entry(Vcpu& vcpu, u64 entry_va, xen::MulticallEntry& entry) {
    HypercallContinuation& continuation = vcpu.continuation;
    continuation.pending = false;
    for (unsigned i = 0; i < 5; ++i) entry.args[i] = continuation.args[i];
    return copy_to_guest(vcpu, entry_va, &entry, sizeof entry);
}

long continue_multicall(Vcpu& vcpu, u64 list, u32 index, u32 count) {
    const HypercallArgs rest{{list + u64{index} * sizeof(xen::MulticallEntry), count - index, 0, 0, 0}};
    return create_continuation(vcpu, xen::kMulticall, rest);
}

bool running(const Vcpu& vcpu) { return vcpu.domain->state == DomainState::Running; }

}  // namespace

// Runs each entry as a hypercall and stores its return value in the entry's `result`:
//  - the list's start must be a guest address, else -EFAULT before anything runs;
//  - an entry that cannot be read, or whose result cannot be written, ends the list with -EFAULT
//    (the entry itself has run by then, as in Xen);
//  - an iret entry ends the list at once: the vCPU resumes where the iret frame (at the guest RSP)
//    says, and the multicall returns the RAX that frame restores;
//  - a multicall entry gets -EINVAL (no nesting), and the list goes on;
//  - once the domain stops (shutdown, crash), nothing more runs;
//  - every kOpsPerPreemptCheck entries, pending work on the pCPU stops the list: the multicall
//    continues from the next entry; an entry that itself asks to continue (a long mmu_update)
//    gets its rewritten arguments stored in the list and the multicall continues from it.
// Otherwise returns 0.
long do_multicall(Vcpu& vcpu, arch::TrapFrame& regs, u64 list, u64 count_argument) {
    const u32 count = static_cast<u32>(count_argument);  // Xen's nr_calls is 32 bits
    if (!guest_range_ok(list, 1)) return -xen::kEFAULT;
    for (u32 i = 0; i < count; ++i) {
        if (i != 0 && i % kOpsPerPreemptCheck == 0 && hypercall_preempt_check(vcpu))
            return continue_multicall(vcpu, list, i, count);
        const u64 entry_va = list + u64{i} * sizeof(xen::MulticallEntry);
        xen::MulticallEntry entry{};
        if (!copy_from_guest(vcpu, &entry, entry_va, sizeof entry)) return -xen::kEFAULT;
        if (entry.op == xen::kIret) {
            do_iret(vcpu, regs);
            if (!running(vcpu)) return 0;
            // Best effort, as Xen: the write goes through the address space iret switched to.
            (void)copy_to_guest(vcpu, entry_va + kResultOffset, &regs.rax, sizeof regs.rax);
            return static_cast<long>(regs.rax);
        }
        const HypercallArgs args{{entry.args[0], entry.args[1], entry.args[2], entry.args[3], entry.args[4]}};
        entry.result = static_cast<u64>(do_hypercall(vcpu, entry.op, args));
        if (vcpu.continuation.pending) {
            if (!continue_at_entry(vcpu, entry_va, entry)) return -xen::kEFAULT;
            return continue_multicall(vcpu, list, i, count);
        }
        if (!copy_to_guest(vcpu, entry_va + kResultOffset, &entry.result, sizeof entry.result)) return -xen::kEFAULT;
        if (!running(vcpu)) return 0;
    }
    return 0;
}

// Reached through do_hypercall only from inside a multicall: nesting is refused, as in Xen.
long nested_multicall(Vcpu&, const HypercallArgs&) { return -xen::kEINVAL; }

void apply_continuation(Vcpu& vcpu, arch::TrapFrame& regs) {
    HypercallContinuation& continuation = vcpu.continuation;
    if (!continuation.pending) return;
    continuation.pending = false;
    regs.rip -= kSyscallLength;
    regs.rax = continuation.number;
    regs.rdi = continuation.args[0], regs.rsi = continuation.args[1], regs.rdx = continuation.args[2];
    regs.r10 = continuation.args[3], regs.r8 = continuation.args[4];
}

namespace {

// The hypercalls that may continue: the continuation is applied after them only, so every other
// hypercall keeps its plain call-and-return path (no work after the handler returns).
void run_preemptible(Vcpu& vcpu, arch::TrapFrame& regs) {
    const HypercallArgs args{{regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8}};
    regs.rax = static_cast<u64>(do_hypercall(vcpu, regs.rax, args));
    apply_continuation(vcpu, regs);
}

}  // namespace

void do_preemptible_hypercall(Vcpu& vcpu, arch::TrapFrame& regs) {
    switch (regs.rax) {
        case xen::kMulticall:
            regs.rax = static_cast<u64>(do_multicall(vcpu, regs, regs.rdi, regs.rsi));
            return apply_continuation(vcpu, regs);
        case xen::kMmuUpdate:
        case xen::kMmuextOp:
        case xen::kGrantTableOp: return run_preemptible(vcpu, regs);
        default: {
            const HypercallArgs args{{regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8}};
            regs.rax = static_cast<u64>(do_hypercall(vcpu, regs.rax, args));
            return;
        }
    }
}

}  // namespace hv::pv
