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

bool running(const Vcpu& vcpu) { return vcpu.domain->state == DomainState::Running; }

}  // namespace

// Runs each entry as a hypercall and stores its return value in the entry's `result`:
//  - the list's start must be a guest address, else -EFAULT before anything runs;
//  - an entry that cannot be read, or whose result cannot be written, ends the list with -EFAULT
//    (the entry itself has run by then, as in Xen);
//  - an iret entry ends the list at once: the vCPU resumes where the iret frame (at the guest RSP)
//    says, and the multicall returns the RAX that frame restores;
//  - a multicall entry gets -EINVAL (no nesting), and the list goes on;
//  - once the domain stops (shutdown, crash), nothing more runs.
// Otherwise returns 0.
long do_multicall(Vcpu& vcpu, arch::TrapFrame& regs, u64 list, u64 count_argument) {
    const u32 count = static_cast<u32>(count_argument);  // Xen's nr_calls is 32 bits
    if (!guest_range_ok(list, 1)) return -xen::kEFAULT;
    for (u32 i = 0; i < count; ++i) {
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
        const u64 result = static_cast<u64>(do_hypercall(vcpu, entry.op, args));
        if (!copy_to_guest(vcpu, entry_va + kResultOffset, &result, sizeof result)) return -xen::kEFAULT;
        if (!running(vcpu)) return 0;
    }
    return 0;
}

// Reached through do_hypercall only from inside a multicall: nesting is refused, as in Xen.
long nested_multicall(Vcpu&, const HypercallArgs&) { return -xen::kEINVAL; }

}  // namespace hv::pv
