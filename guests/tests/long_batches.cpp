// SPDX-License-Identifier: MIT
// Very long batches, which the hypervisor may split with continuations (pv-abi.md §2, §3.8-3.10,
// §3.20): whatever the split, every entry takes effect exactly once and `done` is the total.
//   - mmu_update with 4096 MMU_MACHPHYS_UPDATE requests (M2P entries of our own frames, checked
//     through the read-only M2P, then restored by a second batch);
//   - mmuext_op with 4096 ops: 512 CLEAR_PAGE of filled pages between INVLPG_LOCALs, then a batch
//     that fails at op 3000 (done = 3000);
//   - multicall with 2048 entries, one of them a 1024-request mmu_update, every result checked;
//   - with a 1 ms periodic timer ticking and events unmasked, so continuations do happen on Isola
//     (how many upcalls arrived, and how many at a SYSCALL about to be re-executed, i.e. inside a
//     continued hypercall, is printed, never checked: it is timing).
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "long_batches: 4096-entry mmu_update, mmuext_op and multicall, done counts exact";

namespace {

constexpr unsigned kUpdates = 4096, kOps = 4096, kClears = 512, kCalls = 2048, kInnerUpdates = 1024;
constexpr u64 kM2pTag = u64{1} << 40;  // added to a pfn: a value no real pfn has
constexpr long kVersion = (4 << 16) | 17;

const volatile u64* const m2p = reinterpret_cast<const volatile u64*>(xen::kMachToPhysVirtStart);

xen::MmuUpdate updates[kUpdates];
xen::MmuUpdate inner_updates[kInnerUpdates];
xen::MmuextOp ops[kOps];
xen::MulticallEntry calls[kCalls];
alignas(4096) u64 pages[kClears][512];
volatile unsigned upcalls;
volatile unsigned upcalls_at_syscall;  // delivered at a SYSCALL: the hypercall was continued
u32 timer_port;

u64 va_of(const void* p) { return reinterpret_cast<u64>(p); }

bool count_upcalls(ExceptionFrame& frame) {
    if (frame.vector != kVecEvent) return false;
    upcalls = upcalls + 1;
    const u64 page = va_of(hypercall_page);
    const auto* insn = reinterpret_cast<const u8*>(frame.rip);
    if (frame.rip >= page && frame.rip < page + 4096 && insn[0] == 0x0f && insn[1] == 0x05)
        upcalls_at_syscall = upcalls_at_syscall + 1;
    volatile xen::SharedInfo* shared = shared_info();
    shared->vcpu_info[0].evtchn_upcall_pending = 0;
    __atomic_exchange_n(&shared->vcpu_info[0].evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    take_port(timer_port);
    return true;
}

void start_ticking() {
    xen::VcpuSetPeriodicTimer timer{1'000'000};
    expect_eq("periodic timer 1 ms", vcpu_op(xen::kVcpuOpSetPeriodicTimer, 0, &timer), 0);
    xen::EvtchnBindVirq bind{xen::kVirqTimer, 0, 0};
    expect_eq("bind VIRQ_TIMER", evtchn_op(xen::kEvtchnOpBindVirq, &bind), 0);
    timer_port = bind.port;
    set_exception_hook(count_upcalls);
    shared_info()->vcpu_info[0].evtchn_upcall_mask = 0;
}

void stop_ticking() {
    shared_info()->vcpu_info[0].evtchn_upcall_mask = 1;
    expect_eq("stop periodic timer", vcpu_op(xen::kVcpuOpStopPeriodicTimer, 0, nullptr), 0);
}

long mmu_update(const xen::MmuUpdate* list, unsigned count, u32* done) {
    return hypercall(xen::kMmuUpdate, va_of(list), count, va_of(done), xen::kDomidSelf);
}

// M2P entries of the first kUpdates pfns: tagged, checked, restored.
void machphys_batch() {
    if (start_info->nr_pages < kUpdates) return error("needs %u pages, has %lu\n", kUpdates, start_info->nr_pages);
    for (u64 pfn = 0; pfn < kUpdates; ++pfn)
        updates[pfn] = {(pfn_to_mfn(pfn) << 12) | xen::kMmuMachphysUpdate, pfn + kM2pTag};
    u32 done = 0;
    expect_eq("mmu_update 4096 machphys", mmu_update(updates, kUpdates, &done), 0);
    expect_eq("mmu_update done", done, kUpdates);
    unsigned wrong = 0;
    for (u64 pfn = 0; pfn < kUpdates; ++pfn) wrong += m2p[pfn_to_mfn(pfn)] != pfn + kM2pTag;
    expect_eq("M2P entries tagged", wrong, 0);
    for (u64 pfn = 0; pfn < kUpdates; ++pfn) updates[pfn].val = pfn;
    done = 0;
    expect_eq("mmu_update 4096 restore", mmu_update(updates, kUpdates, &done), 0);
    expect_eq("restore done", done, kUpdates);
    wrong = 0;
    for (u64 pfn = 0; pfn < kUpdates; ++pfn) wrong += m2p[pfn_to_mfn(pfn)] != pfn;
    expect_eq("M2P entries restored", wrong, 0);
}

long mmuext(unsigned count, u32* done) {
    return hypercall(xen::kMmuextOp, va_of(ops), count, va_of(done), xen::kDomidSelf);
}

void mmuext_batch() {
    for (unsigned p = 0; p < kClears; ++p)
        for (unsigned i = 0; i < 512; ++i) pages[p][i] = p * 512 + i + 1;
    const unsigned stride = kOps / kClears;  // one CLEAR_PAGE every 8 ops
    for (unsigned i = 0; i < kOps; ++i) {
        const unsigned page = i / stride;
        ops[i] = i % stride == 0 ? xen::MmuextOp{xen::kMmuextClearPage, 0, pfn_to_mfn(va_of(pages[page]) >> 12), 0}
                                 : xen::MmuextOp{xen::kMmuextInvlpgLocal, 0, va_of(pages[page]), 0};
    }
    u32 done = 0;
    expect_eq("mmuext_op 4096", mmuext(kOps, &done), 0);
    expect_eq("mmuext_op done", done, kOps);
    unsigned dirty = 0;
    for (unsigned p = 0; p < kClears; ++p)
        for (unsigned i = 0; i < 512; ++i) dirty += pages[p][i] != 0;
    expect_eq("words left after 512 CLEAR_PAGE", dirty, 0);

    ops[3000] = {xen::kMmuextClearPage, 0, ~u64{0}, 0};  // no such frame
    pages[kClears - 1][0] = 99;                          // op 4088 clears it: must not run
    done = 0;
    expect_eq("mmuext_op failing at op 3000", mmuext(kOps, &done), -xen::kEINVAL);
    expect_eq("done before the failure", done, 3000);
    expect_eq("ops after the failure did not run", static_cast<long>(pages[kClears - 1][0]), 99);
}

void multicall_batch() {
    for (u64 pfn = 0; pfn < kInnerUpdates; ++pfn) inner_updates[pfn] = {(pfn_to_mfn(pfn) << 12) | xen::kMmuMachphysUpdate, pfn};
    static u32 inner_done;
    inner_done = 0;
    for (unsigned i = 0; i < kCalls; ++i) calls[i] = {xen::kXenVersion, 0x5a5a, {xen::kXenVersionVersion, 0, 0, 0, 0, 0}};
    calls[1000] = {xen::kMmuUpdate, 0x5a5a, {va_of(inner_updates), kInnerUpdates, va_of(&inner_done), xen::kDomidSelf, 0, 0}};
    expect_eq("multicall 2048", hypercall(xen::kMulticall, va_of(calls), kCalls), 0);
    unsigned wrong = 0;
    for (unsigned i = 0; i < kCalls; ++i)
        if (i != 1000) wrong += static_cast<long>(calls[i].result) != kVersion;
    expect_eq("xen_version results", wrong, 0);
    expect_eq("the mmu_update entry's result", static_cast<long>(calls[1000].result), 0);
    expect_eq("the mmu_update entry's done", inner_done, kInnerUpdates);
}

}  // namespace

void test_main() {
    if (!setup_traps() || map_shared_info() == nullptr) return;
    start_ticking();
    machphys_batch();
    mmuext_batch();
    multicall_batch();
    stop_ticking();
    print("event upcalls during the batches: %u, %u of them at a re-executed SYSCALL\n", upcalls, upcalls_at_syscall);
}

}  // namespace guest
