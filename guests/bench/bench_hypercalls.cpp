// SPDX-License-Identifier: MIT
// Benchmarks of single hypercalls: the guest's own share of a hypercall loop (guest_call), the
// null hypercall (xen_version), yield with nothing else to run, and the three memory-management
// paths a PV kernel uses most (update_va_mapping, mmu_update on an L1 and on an L4 entry,
// mmuext_op local TLB flush). [pv-abi.md §3.8-3.10, §3.12]
#include "bench.hpp"

extern "C" void bench_null_stub();

namespace guest::bench {
namespace {

// A data page of the image, remapped in place (same frame, same flags) by the mm benchmarks, so
// every iteration does the same work and leaves the guest unchanged.
alignas(4096) u8 scratch_page[4096];

constexpr u64 kPteKernelRw = 0x63;  // P|RW|A|D: as XTF remaps a page read-write

}  // namespace

// The loop of fast_hypercall with two arguments, calling a `ret` in the guest instead of the
// hypercall page: what every hypercall row contains besides the hypervisor (a few instructions).
Timing bench_guest_call(u64 iterations) {
    const auto call = [] {
        long result;
        u64 a1 = xen::kXenVersionVersion, a2 = 0;
        asm volatile("call bench_null_stub"
                     : "=a"(result), "+D"(a1), "+S"(a2)
                     :
                     : "rcx", "rdx", "r8", "r9", "r10", "r11", "memory");
        return 0L;
    };
    return time_calls("guest_call", "call", iterations, call);
}

// The null hypercall: XENVER_version returns the version number and touches nothing.
Timing bench_xen_version(u64 iterations) {
    const long version = fast_hypercall<xen::kXenVersion>(xen::kXenVersionVersion, 0);
    if (version <= 0) return report_refused("xen_version", "xen_version(XENVER_version)", version);
    return time_calls("xen_version", "xen_version(XENVER_version)", iterations, [] {
        fast_hypercall<xen::kXenVersion>(xen::kXenVersionVersion, 0);  // a version, not 0: ignored
        return 0L;
    });
}

// SCHEDOP_yield with no other vCPU runnable on this pCPU: the scheduler's fast "nothing to do".
Timing bench_yield(u64 iterations) {
    return time_calls("yield", "sched_op(SCHEDOP_yield)", iterations,
                      [] { return fast_hypercall<xen::kSchedOp>(xen::kSchedOpYield, 0); });
}

// update_va_mapping(scratch, same entry, UVMF_INVLPG): L1 update rules plus one INVLPG.
Timing bench_update_va_mapping(u64 iterations) {
    const u64 va = reinterpret_cast<u64>(scratch_page);
    const u64 pte = maddr_of(scratch_page) | kPteKernelRw;
    return time_calls("update_va_mapping", "update_va_mapping(UVMF_INVLPG)", iterations,
                      [=] { return fast_hypercall<xen::kUpdateVaMapping>(va, pte, xen::kUvmfInvlpg); });
}

// mmu_update(MMU_NORMAL_PT_UPDATE) of the L1 entry mapping the scratch page, same value.
Timing bench_mmu_update(u64 iterations) {
    const xen::MmuUpdate update{l1e_maddr(scratch_page) | xen::kMmuNormalPtUpdate,
                                maddr_of(scratch_page) | kPteKernelRw};
    const u64 request = reinterpret_cast<u64>(&update);
    return time_calls("mmu_update", "mmu_update(L1 entry)", iterations,
                      [=] { return fast_hypercall<xen::kMmuUpdate>(request, 1, 0, xen::kDomidSelf); });
}

// mmu_update(MMU_NORMAL_PT_UPDATE) of an unused entry of the running kernel L4, alternately set
// to the L3 that maps the scratch page (a second reference to it) and cleared: the path a kernel
// takes when it fills or empties a top-level slot, and with asi vcpu-pt the one that updates the
// vCPU's shadow roots entry by entry. One operation is one entry update, set or clear.
Timing bench_mmu_update_l4(u64 iterations) {
    const u64 l4_va = start_info->pt_base;  // VA == PFN << 12, like every bootstrap table
    const auto* l4 = reinterpret_cast<const volatile u64*>(l4_va);
    const unsigned used = (reinterpret_cast<u64>(scratch_page) >> 39) & 511;
    unsigned slot = used + 1;
    while (slot < 256 && l4[slot] != 0) ++slot;  // guest slots only: 256-271 are the hypervisor's
    if (slot >= 256) return report_error("mmu_update_l4", "find an unused L4 slot", -1);
    const u64 entry_maddr = maddr_of(reinterpret_cast<const void*>(l4_va)) + slot * 8;
    const xen::MmuUpdate updates[2] = {{entry_maddr | xen::kMmuNormalPtUpdate, l4[used]},
                                       {entry_maddr | xen::kMmuNormalPtUpdate, 0}};
    unsigned next = 0;
    const Timing timing = time_calls("mmu_update_l4", "mmu_update(L4 entry)", iterations, [&] {
        const u64 request = reinterpret_cast<u64>(&updates[next]);
        next ^= 1;
        return fast_hypercall<xen::kMmuUpdate>(request, 1, 0, xen::kDomidSelf);
    });
    fast_hypercall<xen::kMmuUpdate>(reinterpret_cast<u64>(&updates[1]), 1, 0, xen::kDomidSelf);  // leave it empty
    return timing;
}

// mmuext_op(MMUEXT_TLB_FLUSH_LOCAL): a full flush of this vCPU's TLB.
Timing bench_mmuext_flush(u64 iterations) {
    const xen::MmuextOp op{xen::kMmuextTlbFlushLocal, 0, 0, 0};
    const u64 request = reinterpret_cast<u64>(&op);
    return time_calls("mmuext_flush", "mmuext_op(TLB_FLUSH_LOCAL)", iterations,
                      [=] { return fast_hypercall<xen::kMmuextOp>(request, 1, 0, xen::kDomidSelf); });
}

}  // namespace guest::bench
