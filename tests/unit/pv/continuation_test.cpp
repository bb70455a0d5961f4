// SPDX-License-Identifier: MIT
// Hypercall continuations: mmu_update, mmuext_op and multicall stop every kOpsPerPreemptCheck ops
// when the pCPU has work, and the guest's registers are rewritten so that its SYSCALL re-executes
// the rest (RIP back 2 bytes, the list advanced, MMU_UPDATE_PREEMPTED in the count, `done` summed
// over the rounds; a preempted multicall entry keeps its rewritten arguments in the guest's list).
// The guest's view on Isola and Xen is checked by guests/tests/long_batches.cpp.
#include <gtest/gtest.h>

#include "hv/pv/domain.hpp"
#include "hv/pv/hypercall.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_domain_mm.hpp"
#include "support/fake_event_channel.hpp"
#include "support/fake_guest_mode.hpp"
#include "support/fake_pv_frames.hpp"
#include "support/fake_pv_vcpu.hpp"

namespace hv::pv {
namespace {

constexpr u64 kFrameCount = 128;
constexpr u64 kFirstData = 20;  // frames kFirstData.. are the domain's data frames
constexpr u64 kOps = 0x15000000, kDone = 0x15100000, kList = 0x15200000;
constexpr u64 kGuestRip = 0x401002;  // just past the guest's SYSCALL
constexpr u64 kPreempted = xen::kMmuUpdatePreempted;

struct ContinuationTest : ::testing::Test, test::PvVcpuFixture {
    test::FakePvFrames mem{kFrameCount};
    arch::TrapFrame regs{};

    void SetUp() override {
        test::fake_guest_memory() = test::FakeGuestMemory{};  // no region of an earlier test overlaps ours
        test::fake_domain_mm() = {};
        test::fake_domain_mm().frames = &mem;
        for (u64 mfn = 16; mfn < kFrameCount; ++mfn) mem.give(Mfn(mfn), domain.id);
        for (u64 mfn = kFirstData; mfn < kFrameCount; ++mfn) mem.word(Mfn(mfn), 1) = 0xdead;
        test::fake_vcpu_platform().work_pending = true;  // every check finds work
    }
    void TearDown() override { test::fake_domain_mm().frames = nullptr; }

    // The guest's SYSCALL: the dispatch as hypercall_from runs it, on the guest's registers.
    void syscall(u64 number, u64 a1, u64 a2, u64 a3, u64 a4) {
        regs.rip = kGuestRip;
        regs.rax = number, regs.rdi = a1, regs.rsi = a2, regs.rdx = a3, regs.r10 = a4, regs.r8 = 0;
        do_hypercall_frame(vcpu, regs);
    }
    bool continued() const { return regs.rip == kGuestRip - 2; }
    // Re-executes the SYSCALL with the registers the continuation left until it completes;
    // returns how many rounds that took.
    unsigned run_to_completion() {
        unsigned rounds = 1;
        while (continued()) {
            syscall(regs.rax, regs.rdi, regs.rsi, regs.rdx, regs.r10);
            ++rounds;
        }
        return rounds;
    }
    // `count` CLEAR_PAGE ops of the data frames; op `bad` (if any) names an mfn beyond RAM.
    void put_clear_ops(unsigned count, unsigned bad = ~0u) {
        std::vector<xen::MmuextOp> ops;
        for (unsigned i = 0; i < count; ++i) ops.push_back({xen::kMmuextClearPage, 0, i == bad ? ~u64{0} : kFirstData + i, 0});
        const auto* bytes = reinterpret_cast<const u8*>(ops.data());
        test::fake_guest_memory().map(kOps, std::vector<u8>(bytes, bytes + count * sizeof(xen::MmuextOp)));
    }
};

// One round: the first 16 ops run, then the registers say "mmuext_op(list + 16, rest | PREEMPTED,
// done, DOMID_SELF)" at the SYSCALL again, and `done` holds 16.
TEST_F(ContinuationTest, MmuextOpRewritesItsArguments) {
    put_clear_ops(40);
    put(kDone, u32{0xffff});
    syscall(xen::kMmuextOp, kOps, 40, kDone, xen::kDomidSelf);
    ASSERT_TRUE(continued());
    EXPECT_EQ(regs.rax, xen::kMmuextOp);
    EXPECT_EQ(regs.rdi, kOps + kOpsPerPreemptCheck * sizeof(xen::MmuextOp));
    EXPECT_EQ(regs.rsi, (40 - kOpsPerPreemptCheck) | kPreempted);
    EXPECT_EQ(regs.rdx, kDone);
    EXPECT_EQ(regs.r10, xen::kDomidSelf);
    EXPECT_EQ(get<u32>(kDone), kOpsPerPreemptCheck);
    EXPECT_EQ(mem.word(Mfn(kFirstData + kOpsPerPreemptCheck - 1), 1), 0u);
    EXPECT_EQ(mem.word(Mfn(kFirstData + kOpsPerPreemptCheck), 1), 0xdeadu) << "op 16 waits for the next round";
    EXPECT_FALSE(vcpu.continuation.pending) << "consumed by the dispatch";
}

// Re-executed until done: every op ran once, `done` is the total, the last round returns 0.
TEST_F(ContinuationTest, MmuextOpCompletesOverRounds) {
    put_clear_ops(100);
    put(kDone, u32{0});
    syscall(xen::kMmuextOp, kOps, 100, kDone, xen::kDomidSelf);
    EXPECT_EQ(run_to_completion(), 7u);  // 16 per round
    EXPECT_EQ(regs.rax, 0u);
    EXPECT_EQ(regs.rip, kGuestRip);
    EXPECT_EQ(get<u32>(kDone), 100u);
    for (u64 i = 0; i < 100; ++i) ASSERT_EQ(mem.word(Mfn(kFirstData + i), 1), 0u) << i;
}

// No pending work: one round, whatever the size.
TEST_F(ContinuationTest, NoWorkNoContinuation) {
    test::fake_vcpu_platform().work_pending = false;
    put_clear_ops(100);
    syscall(xen::kMmuextOp, kOps, 100, 0, xen::kDomidSelf);
    EXPECT_FALSE(continued());
    EXPECT_EQ(regs.rax, 0u);
}

// A failing op ends the batch with its error, continuation or not; `done` counts every round.
TEST_F(ContinuationTest, ErrorAfterARoundReportsTheTotal) {
    put_clear_ops(40, 20);
    put(kDone, u32{0});
    syscall(xen::kMmuextOp, kOps, 40, kDone, xen::kDomidSelf);
    run_to_completion();
    EXPECT_EQ(static_cast<long>(regs.rax), -xen::kEINVAL);
    EXPECT_EQ(get<u32>(kDone), 20u);
}

// MMU_UPDATE_PREEMPTED set by the guest itself: `done` is read back and added to (as Xen).
TEST_F(ContinuationTest, PreemptedBitReadsDoneBack) {
    test::fake_vcpu_platform().work_pending = false;
    put_clear_ops(3);
    put(kDone, u32{1000});
    syscall(xen::kMmuextOp, kOps, 3 | kPreempted, kDone, xen::kDomidSelf);
    EXPECT_EQ(regs.rax, 0u);
    EXPECT_EQ(get<u32>(kDone), 1003u);
}

// mmu_update: the same rewriting with 16-byte requests.
TEST_F(ContinuationTest, MmuUpdateContinues) {
    std::vector<xen::MmuUpdate> updates;
    for (u64 i = 0; i < 50; ++i) updates.push_back({((kFirstData + i) << 12) | xen::kMmuMachphysUpdate, 0x100 + i});
    const auto* bytes = reinterpret_cast<const u8*>(updates.data());
    test::fake_guest_memory().map(kOps, std::vector<u8>(bytes, bytes + updates.size() * sizeof(xen::MmuUpdate)));
    put(kDone, u32{0});
    syscall(xen::kMmuUpdate, kOps, 50, kDone, xen::kDomidSelf);
    ASSERT_TRUE(continued());
    EXPECT_EQ(regs.rdi, kOps + kOpsPerPreemptCheck * sizeof(xen::MmuUpdate));
    EXPECT_EQ(regs.rsi, (50 - kOpsPerPreemptCheck) | kPreempted);
    run_to_completion();
    EXPECT_EQ(get<u32>(kDone), 50u);
    ASSERT_EQ(test::fake_domain_mm().m2p_writes.size(), 50u);
    EXPECT_EQ(test::fake_domain_mm().m2p_writes.back(), std::make_pair(kFirstData + 49, u64{0x100 + 49}));
}

// A multicall stops between entries: it continues at the next entry with the count left.
TEST_F(ContinuationTest, MulticallContinuesAtTheNextEntry) {
    std::vector<xen::MulticallEntry> list(20, xen::MulticallEntry{xen::kXenVersion, 0x5a5a, {0, 0, 0, 0, 0, 0}});
    const auto* bytes = reinterpret_cast<const u8*>(list.data());
    test::fake_guest_memory().map(kList, std::vector<u8>(bytes, bytes + list.size() * sizeof list[0]));
    syscall(xen::kMulticall, kList, 20, 0, 0);
    ASSERT_TRUE(continued());
    EXPECT_EQ(regs.rax, xen::kMulticall);
    EXPECT_EQ(regs.rdi, kList + kOpsPerPreemptCheck * sizeof(xen::MulticallEntry));
    EXPECT_EQ(regs.rsi, 20 - kOpsPerPreemptCheck);
    EXPECT_EQ(get<xen::MulticallEntry>(kList + (kOpsPerPreemptCheck - 1) * sizeof list[0]).result, u64{(4 << 16) | 17});
    EXPECT_EQ(get<xen::MulticallEntry>(kList + kOpsPerPreemptCheck * sizeof list[0]).result, 0x5a5au);
    run_to_completion();
    EXPECT_EQ(regs.rax, 0u);
    EXPECT_EQ(get<xen::MulticallEntry>(kList + 19 * sizeof list[0]).result, u64{(4 << 16) | 17});
}

// An entry that continues itself (a long mmuext_op): its rewritten arguments go into the list and
// the multicall continues at that same entry; the rounds finish the entry, then the rest.
TEST_F(ContinuationTest, MulticallEntryContinuesInPlace) {
    put_clear_ops(40);
    put(kDone, u32{0});
    const xen::MulticallEntry list[2] = {
        {xen::kMmuextOp, 0, {kOps, 40, kDone, xen::kDomidSelf, 0, 0}},
        {xen::kXenVersion, 0x5a5a, {0, 0, 0, 0, 0, 0}},
    };
    put(kList, list);
    syscall(xen::kMulticall, kList, 2, 0, 0);
    ASSERT_TRUE(continued());
    EXPECT_EQ(regs.rdi, kList) << "the same entry again";
    EXPECT_EQ(regs.rsi, 2u);
    const auto first = get<xen::MulticallEntry>(kList);
    EXPECT_EQ(first.args[0], kOps + kOpsPerPreemptCheck * sizeof(xen::MmuextOp));
    EXPECT_EQ(first.args[1], (40 - kOpsPerPreemptCheck) | kPreempted);
    run_to_completion();
    EXPECT_EQ(regs.rax, 0u);
    EXPECT_EQ(get<u32>(kDone), 40u);
    EXPECT_EQ(get<xen::MulticallEntry>(kList).result, 0u);
    EXPECT_EQ(get<xen::MulticallEntry>(kList + sizeof list[0]).result, u64{(4 << 16) | 17});
    for (u64 i = 0; i < 40; ++i) ASSERT_EQ(mem.word(Mfn(kFirstData + i), 1), 0u) << i;
}

// An unmasked pending event upcall is work too (Xen's local_events_need_delivery).
TEST_F(ContinuationTest, PendingEventPreempts) {
    test::fake_vcpu_platform().work_pending = false;
    test::fake_vcpu_platform().upcall_mask = 0;
    test::fake_shared_info(domain).vcpu_info[0].evtchn_upcall_pending = 1;
    put_clear_ops(40);
    syscall(xen::kMmuextOp, kOps, 40, 0, xen::kDomidSelf);
    EXPECT_TRUE(continued());
    test::fake_vcpu_platform().upcall_mask = 1;
    syscall(xen::kMmuextOp, kOps, 40, 0, xen::kDomidSelf);
    EXPECT_FALSE(continued()) << "a masked event waits";
    test::fake_shared_info(domain).vcpu_info[0].evtchn_upcall_pending = 0;
}

// grant_table_op batches continue like Xen's: the same command, the list advanced past the ops
// done, the count of those left; each op's status is written once. (The domain has no grant
// table here, so every swap is bad_gntref and every unmap bad_handle: the batch still runs.)
TEST_F(ContinuationTest, GrantTableBatchContinues) {
    std::vector<xen::GnttabSwapGrantRef> swaps(40, xen::GnttabSwapGrantRef{8, 9, 0x7777});
    const auto* bytes = reinterpret_cast<const u8*>(swaps.data());
    test::fake_guest_memory().map(kOps, std::vector<u8>(bytes, bytes + swaps.size() * sizeof swaps[0]));
    syscall(xen::kGrantTableOp, xen::kGnttabOpSwapGrantRef, kOps, 40, 0);
    ASSERT_TRUE(continued());
    EXPECT_EQ(regs.rax, xen::kGrantTableOp);
    EXPECT_EQ(regs.rdi, xen::kGnttabOpSwapGrantRef);
    EXPECT_EQ(regs.rsi, kOps + kOpsPerPreemptCheck * sizeof(xen::GnttabSwapGrantRef));
    EXPECT_EQ(regs.rdx, 40 - kOpsPerPreemptCheck);
    const auto status = [&](u64 i) { return get<xen::GnttabSwapGrantRef>(kOps + i * sizeof swaps[0]).status; };
    EXPECT_EQ(status(kOpsPerPreemptCheck - 1), xen::kGntstBadGntref);
    EXPECT_EQ(status(kOpsPerPreemptCheck), 0x7777) << "op 16 waits for the next round";
    EXPECT_EQ(run_to_completion(), 3u);
    EXPECT_EQ(regs.rax, 0u);
    for (u64 i = 0; i < 40; ++i) ASSERT_EQ(status(i), xen::kGntstBadGntref) << i;

    // An unmap batch flushes the TLB before it continues (its PTEs are gone before the rest runs).
    std::vector<xen::GnttabUnmapGrantRef> unmaps(20, xen::GnttabUnmapGrantRef{0x1000, 0, 5, 0x7777});
    const auto* unmap_bytes = reinterpret_cast<const u8*>(unmaps.data());
    test::fake_guest_memory().map(kList, std::vector<u8>(unmap_bytes, unmap_bytes + unmaps.size() * sizeof unmaps[0]));
    const unsigned flushes = test::fake_domain_mm().full_flushes;
    syscall(xen::kGrantTableOp, xen::kGnttabOpUnmapGrantRef, kList, 20, 0);
    ASSERT_TRUE(continued());
    EXPECT_EQ(regs.rdx, 20 - kOpsPerPreemptCheck);
    EXPECT_EQ(test::fake_domain_mm().full_flushes, flushes + 1);
}

}  // namespace
}  // namespace hv::pv
