// SPDX-License-Identifier: MIT
// Isolation audit walker on hand-built trees with known reachable frames: 4K, 2M and 1G leaves,
// shared subtrees, aliases, the self-map slot, foreign and free frames, frames outside RAM.
// Generic cases run with the x86 format and the level-skewed fake format (which panics when an
// entry is decoded at the wrong level); the self-map cases need x86 (the MMU's own reading).
#include "hv/audit/walker.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "arch/pte.hpp"
#include "arch/va_layout.hpp"
#include "hv/mm/page_table.hpp"
#include "support/fake_audit_env.hpp"
#include "support/fake_machine_memory.hpp"
#include "support/skewed_pte_format.hpp"

namespace hv::audit {
namespace {

using mm::Level;
using mm::PageSize;

constexpr u64 kSlot258 = 0xffff810000000000;  // the linear self-map slot
constexpr u64 kSlot262 = 0xffff830000000000;
constexpr u64 kFrameCount = 0x80000;  // 2 GiB of RAM: room for one 1 GiB page below the top

constexpr Subject kSubject{.domain = 1, .vcpu = 0, .pcpu = 0};
constexpr FrameTag kGlobal{FrameKind::Global, 0, 0};
constexpr FrameTag kMyVcpu{FrameKind::PerVcpu, 1, 0};
constexpr FrameTag kOtherVcpu{FrameKind::PerVcpu, 1, 1};
constexpr FrameTag kMyGuest{FrameKind::Guest, 1, 0};
constexpr FrameTag kOtherGuest{FrameKind::Guest, 2, 0};
constexpr FrameTag kFree{FrameKind::Free, 0, kFreeInDomainPool};
constexpr FrameTag kOutside{FrameKind::OutsideRam, 0, 0};

// A tree built with PageTable::map over fake memory, and an audit env over the same memory.
template <class Format>
struct Machine {
    test::FakePagingEnv paging;
    mm::PageTable<Format, test::FakePagingEnv> tables{paging, paging.memory().alloc_frame()};
    test::FakeAuditEnv env;
    std::vector<u64> scratch;
    std::vector<VaRun> runs;

    explicit Machine(u64 frame_count = kFrameCount)
        : env(paging.memory(), frame_count), scratch(audit_scratch_words(frame_count)) {
        env.tag(tables.root(), 1, kMyVcpu);
    }

    void map(u64 va, u64 mfn, u64 size, PageSize granule) {
        ASSERT_TRUE(tables.map(Vaddr(va), Mfn(mfn).maddr(), size, mm::Attrs{}, granule).ok());
    }
    u64* root_entries() { return paging.table(tables.root()); }

    AuditResult audit(const Subject& subject = kSubject) {
        runs.clear();
        const RunSink sink{[](void* self, const VaRun& run) { static_cast<std::vector<VaRun>*>(self)->push_back(run); },
                           &runs};
        return audit_root<Format>(env, tables.root(), subject, AuditScratch{scratch.data(), scratch.size()}, sink);
    }
};

bool same_run(const VaRun& run, u64 first, u64 last, FrameTag tag, Verdict verdict) {
    return run.first == first && run.last == last && run.tag == tag && run.verdict == verdict;
}

template <class Format>
class AuditWalker : public ::testing::Test {};
using Formats = ::testing::Types<arch::X86PteFormat, test::SkewedPteFormat>;
TYPED_TEST_SUITE(AuditWalker, Formats);

// An empty root reaches nothing and emits no run.
TYPED_TEST(AuditWalker, EmptyRoot) {
    Machine<TypeParam> m;
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.frames, 0U);
    EXPECT_EQ(result.finding_count, 0U);
    EXPECT_TRUE(m.runs.empty());
}

// Three 4 KiB pages of global frames: three frames, one coalesced run.
TYPED_TEST(AuditWalker, FourKilobytePages) {
    Machine<TypeParam> m;
    m.env.tag(Mfn(0x100), 3, kGlobal);
    m.map(kSlot262, 0x100, 3 * kPageSize, PageSize::k4K);
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.frames, 3U);
    EXPECT_EQ(result.totals.of(FrameKind::Global), 3U);
    EXPECT_EQ(result.totals.foreign, 0U);
    ASSERT_EQ(m.runs.size(), 1U);
    EXPECT_TRUE(same_run(m.runs[0], kSlot262, kSlot262 + 3 * kPageSize - 1, kGlobal, Verdict::Own));
}

// Pages that are adjacent in VA but not in MA still coalesce into one run.
TYPED_TEST(AuditWalker, RunsFollowVaNotMa) {
    Machine<TypeParam> m;
    m.env.tag(Mfn(0x100), 0x20, kGlobal);
    m.map(kSlot262, 0x110, kPageSize, PageSize::k4K);
    m.map(kSlot262 + kPageSize, 0x100, kPageSize, PageSize::k4K);
    m.map(kSlot262 + 3 * kPageSize, 0x101, kPageSize, PageSize::k4K);  // after a hole: new run
    m.audit();
    ASSERT_EQ(m.runs.size(), 2U);
    EXPECT_TRUE(same_run(m.runs[0], kSlot262, kSlot262 + 2 * kPageSize - 1, kGlobal, Verdict::Own));
    EXPECT_EQ(m.runs[1].first, kSlot262 + 3 * kPageSize);
}

// A 2 MiB page with one foreign per-vCPU frame in the middle: 512 frames, one foreign, three runs,
// and the finding names the frame and its VA.
TYPED_TEST(AuditWalker, ForeignPerVcpuFrameInTwoMegabytePage) {
    Machine<TypeParam> m;
    m.env.tag(Mfn(0x200), 512, kGlobal);
    m.env.tag(Mfn(0x280), 1, kOtherVcpu);
    m.map(kSlot262, 0x200, 2 * MiB, PageSize::k2M);
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.frames, 512U);
    EXPECT_EQ(result.totals.of(FrameKind::Global), 511U);
    EXPECT_EQ(result.totals.of(FrameKind::PerVcpu), 1U);
    EXPECT_EQ(result.totals.foreign, 1U);
    ASSERT_EQ(result.finding_count, 1U);
    EXPECT_EQ(result.findings[0].mfn, Mfn(0x280));
    EXPECT_EQ(result.findings[0].va, Vaddr(kSlot262 + 0x80 * kPageSize));
    EXPECT_EQ(result.findings[0].tag, kOtherVcpu);
    EXPECT_EQ(result.findings[0].verdict, Verdict::Foreign);
    ASSERT_EQ(m.runs.size(), 3U);
    EXPECT_TRUE(same_run(m.runs[1], kSlot262 + 0x80 * kPageSize, kSlot262 + 0x81 * kPageSize - 1, kOtherVcpu,
                         Verdict::Foreign));
}

// The subject's own per-vCPU frame is not foreign.
TYPED_TEST(AuditWalker, OwnPerVcpuFrameIsOwn) {
    Machine<TypeParam> m;
    m.env.tag(Mfn(0x100), 1, kMyVcpu);
    m.map(kSlot262, 0x100, kPageSize, PageSize::k4K);
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.of(FrameKind::PerVcpu), 1U);
    EXPECT_EQ(result.totals.foreign, 0U);
    EXPECT_EQ(result.finding_count, 0U);
}

// A 1 GiB page of the subject's guest memory with one frame of another guest inside: every one
// of its 262144 frames counted, one foreign, classified without one call per frame per entry.
TYPED_TEST(AuditWalker, ForeignGuestFrameInOneGigabytePage) {
    Machine<TypeParam> m;
    constexpr u64 kFirst = GiB / kPageSize;  // mfn 0x40000
    constexpr u64 kFrames = GiB / kPageSize;
    m.env.tag(Mfn(kFirst), kFrames, kMyGuest);
    m.env.tag(Mfn(kFirst + 12345), 1, kOtherGuest);
    m.map(0, kFirst, GiB, PageSize::k1G);
    const u64 calls_before = m.env.classify_calls();
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.frames, kFrames);
    EXPECT_EQ(result.totals.of(FrameKind::Guest), kFrames);
    EXPECT_EQ(result.totals.foreign, 1U);
    ASSERT_EQ(result.finding_count, 1U);
    EXPECT_EQ(result.findings[0].va, Vaddr(12345 * kPageSize));
    EXPECT_EQ(m.runs.size(), 3U);
    EXPECT_EQ(m.env.classify_calls() - calls_before, kFrames);  // once per frame, no more
}

// A 1 GiB page that crosses the top of RAM: the part above is OutsideRam, counted per page and
// never classified.
TYPED_TEST(AuditWalker, LargePageAcrossTopOfRam) {
    constexpr u64 kRam = 0x50000;  // 1.25 GiB
    Machine<TypeParam> m(kRam);
    constexpr u64 kFrames = GiB / kPageSize;
    constexpr u64 kBase = kFrames;  // the second GiB: a quarter of it is RAM
    m.env.tag(Mfn(kBase), kRam - kBase, kGlobal);
    m.map(kSlot262, kBase, GiB, PageSize::k1G);
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.of(FrameKind::Global), kRam - kBase);
    EXPECT_EQ(result.totals.of(FrameKind::OutsideRam), kFrames - (kRam - kBase));
    EXPECT_EQ(result.totals.frames, kFrames);
    ASSERT_EQ(m.runs.size(), 2U);
    EXPECT_TRUE(same_run(m.runs[1], kSlot262 + (kRam - kBase) * kPageSize, kSlot262 + GiB - 1, kOutside,
                         Verdict::Own));
}

// A page far above the top of RAM (an MMIO window) costs no classify() call.
TYPED_TEST(AuditWalker, MmioAboveRamIsOutside) {
    Machine<TypeParam> m;
    m.map(kSlot262, 0xfee00, kPageSize, PageSize::k4K);
    const u64 calls_before = m.env.classify_calls();
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.of(FrameKind::OutsideRam), 1U);
    EXPECT_EQ(m.env.classify_calls(), calls_before);
    EXPECT_EQ(result.totals.foreign, 0U);
}

// The same frames at two VAs (directmap and an alias) are counted once; the VA map shows both.
TYPED_TEST(AuditWalker, AliasesAreCountedOnce) {
    Machine<TypeParam> m;
    m.env.tag(Mfn(0x100), 4, kOtherVcpu);
    m.map(kSlot262, 0x100, 4 * kPageSize, PageSize::k4K);
    m.map(0x400000, 0x100, 4 * kPageSize, PageSize::k4K);
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.frames, 4U);
    EXPECT_EQ(result.totals.foreign, 4U);
    EXPECT_EQ(result.finding_count, 4U);
    EXPECT_EQ(result.findings[0].va, Vaddr(0x400000));  // the lowest VA, found first
    EXPECT_EQ(m.runs.size(), 2U);
}

// A subtree linked from two entries is walked at both VAs and its frames counted once.
TYPED_TEST(AuditWalker, SharedSubtree) {
    Machine<TypeParam> m;
    m.env.tag(Mfn(0x100), 8, kGlobal);
    m.map(kSlot262, 0x100, 8 * kPageSize, PageSize::k4K);
    // Link slot 262's L3 again at slot 263.
    u64* root = m.root_entries();
    root[263] = root[262];
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.frames, 8U);
    ASSERT_EQ(m.runs.size(), 2U);
    EXPECT_EQ(m.runs[1].first, kSlot262 + arch::kL4SlotSize);
}

// A mapped free frame is Bad: counted, reported as a finding, never "own".
TYPED_TEST(AuditWalker, FreeFrameIsBad) {
    Machine<TypeParam> m;
    m.env.tag(Mfn(0x100), 2, kGlobal);
    m.env.tag(Mfn(0x101), 1, kFree);
    m.map(kSlot262, 0x100, 2 * kPageSize, PageSize::k4K);
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.bad, 1U);
    EXPECT_EQ(result.totals.foreign, 0U);
    EXPECT_EQ(result.totals.of(FrameKind::Free), 1U);
    ASSERT_EQ(result.finding_count, 1U);
    EXPECT_EQ(result.findings[0].verdict, Verdict::Bad);
    EXPECT_EQ(m.runs.back().verdict, Verdict::Bad);
}

// Only the first kMaxFindings foreign frames are listed; the count stays exact.
TYPED_TEST(AuditWalker, FindingsAreCappedCountsAreNot) {
    Machine<TypeParam> m;
    m.env.tag(Mfn(0x200), 512, kOtherGuest);
    m.map(kSlot262, 0x200, 2 * MiB, PageSize::k2M);
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.foreign, 512U);
    EXPECT_EQ(result.finding_count, kMaxFindings);
    EXPECT_EQ(result.findings[kMaxFindings - 1].mfn, Mfn(0x200 + kMaxFindings - 1));
}

// A table entry pointing at a frame the env cannot read is counted as unreadable, not followed.
TYPED_TEST(AuditWalker, UnreadableTable) {
    Machine<TypeParam> m;
    m.root_entries()[300] = TypeParam::make_table(Level::Pml4, Mfn(kFrameCount + 5));
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.unreadable_tables, 1U);
    EXPECT_EQ(result.totals.frames, 0U);
}

// Foreign per-pCPU and per-domain frames, and the subject's own ones.
TYPED_TEST(AuditWalker, PerCpuAndPerDomainVerdicts) {
    Machine<TypeParam> m;
    m.env.tag(Mfn(0x100), 1, FrameTag{FrameKind::PerCpu, 0, 0});
    m.env.tag(Mfn(0x101), 1, FrameTag{FrameKind::PerCpu, 0, 1});
    m.env.tag(Mfn(0x102), 1, FrameTag{FrameKind::PerDomain, 1, 0});
    m.env.tag(Mfn(0x103), 1, FrameTag{FrameKind::PerDomain, 2, 0});
    m.map(kSlot262, 0x100, 4 * kPageSize, PageSize::k4K);
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.foreign, 2U);
    ASSERT_EQ(result.finding_count, 2U);
    EXPECT_EQ(result.findings[0].mfn, Mfn(0x101));
    EXPECT_EQ(result.findings[1].mfn, Mfn(0x103));
    // The same tree seen by the other pCPU and domain: the other two are foreign.
    const AuditResult other = m.audit(Subject{.domain = 2, .vcpu = 0, .pcpu = 1});
    EXPECT_EQ(other.findings[0].mfn, Mfn(0x100));
    EXPECT_EQ(other.findings[1].mfn, Mfn(0x102));
}

// A scratch buffer too small is the caller's bug.
TYPED_TEST(AuditWalker, SmallScratchPanics) {
    Machine<TypeParam> m;
    std::vector<u64> small(audit_scratch_words(kFrameCount) - 1);
    EXPECT_DEATH(audit_root<TypeParam>(m.env, m.tables.root(), kSubject, AuditScratch{small.data(), small.size()},
                                       RunSink{}),
                 "check failed");
}

// ---- The linear self-map slot (x86 format: the MMU's reading of a recursive entry) -------------

using SelfMap = Machine<arch::X86PteFormat>;

// Root R -> L3 A -> L2 B -> L1 C -> data page X (guest), and B also holds a 2 MiB page Y.
// R[258] = R. Through slot 258 the MMU reads R as a PDPT, A as a PD, B as a PT, so it reaches
// C and Y's first frame (B's entries as PTEs), B (via R[258] then A), A (R[258], R[258], A)
// and R itself: five more pages, four new frames.
struct SelfMapTree {
    SelfMap m;
    Mfn root, l3, l2, l1;
    static constexpr u64 kX = 0x100;
    static constexpr u64 kY = 0x200;

    SelfMapTree() {
        m.env.tag(Mfn(kX), 1, kMyGuest);
        m.env.tag(Mfn(kY), 512, kGlobal);
        m.map(0, kX, kPageSize, PageSize::k4K);
        m.map(2 * MiB, kY, 2 * MiB, PageSize::k2M);
        root = m.tables.root();
        l3 = arch::X86PteFormat::address(Level::Pml4, m.root_entries()[0]).mfn();
        l2 = arch::X86PteFormat::address(Level::Pdpt, m.paging.table(l3)[0]).mfn();
        l1 = arch::X86PteFormat::address(Level::Pd, m.paging.table(l2)[0]).mfn();
        for (Mfn table : {l3, l2, l1}) m.env.tag(table, 1, kGlobal);
        m.root_entries()[258] = arch::X86PteFormat::make_table(Level::Pml4, root);
    }
};

// Exactly the page-table frames (and Y's first frame) appear under slot 258, at the VAs the
// MMU would use, and each frame is counted once.
TEST(AuditSelfMap, PageTablesBecomeData) {
    SelfMapTree t;
    const AuditResult result = t.m.audit();
    EXPECT_EQ(result.totals.frames, 1U + 512U + 4U);  // X, Y's 512, and R, A, B, C
    EXPECT_EQ(result.totals.of(FrameKind::PerVcpu), 1U);  // the root
    EXPECT_EQ(result.totals.of(FrameKind::Guest), 1U);
    EXPECT_EQ(result.totals.of(FrameKind::Global), 512U + 3U);
    EXPECT_EQ(result.totals.foreign, 0U);

    // (258, 0, 0, 0) -> C, (258, 0, 0, 1) -> Y, (258, 258, 0, 0) -> B, (258, 258, 258, 0) -> A,
    // (258, 258, 258, 258) -> R.
    const u64 l3 = u64{258} << 30, l2 = u64{258} << 21, l1 = u64{258} << 12;
    std::vector<u64> slot_vas;
    for (const VaRun& run : t.m.runs)
        for (u64 va = run.first; va >= kSlot258 && va < kSlot258 + arch::kL4SlotSize && va <= run.last; va += kPageSize)
            slot_vas.push_back(va);
    const std::vector<u64> expected = {kSlot258, kSlot258 + kPageSize, kSlot258 + l3, kSlot258 + l3 + l2,
                                       kSlot258 + l3 + l2 + l1};
    EXPECT_EQ(slot_vas, expected);
}

// A root whose slot 258 points at another vCPU's (self-mapped) root reaches that root as data:
// foreign. A root must only ever map itself there.
TEST(AuditSelfMap, ForeignRootInSelfMapSlot) {
    SelfMapTree t;
    const Mfn other_root = t.m.paging.memory().alloc_frame();
    t.m.env.tag(other_root, 1, kOtherVcpu);
    t.m.paging.table(other_root)[0] = t.m.root_entries()[0];
    t.m.paging.table(other_root)[258] = arch::X86PteFormat::make_table(Level::Pml4, other_root);
    t.m.root_entries()[258] = arch::X86PteFormat::make_table(Level::Pml4, other_root);
    const AuditResult result = t.m.audit();
    EXPECT_EQ(result.totals.foreign, 1U);
    EXPECT_EQ(result.findings[0].mfn, other_root);
}

// A 1 GiB leaf read one level down through the self-map maps its first 2 MiB, and read two
// levels down its first 4 KiB.
TEST(AuditSelfMap, LargeLeafReadLower) {
    SelfMap m;
    constexpr u64 kBig = GiB / kPageSize;
    m.env.tag(Mfn(kBig), kBig, kMyGuest);
    m.map(0, kBig, GiB, PageSize::k1G);
    m.root_entries()[258] = arch::X86PteFormat::make_table(Level::Pml4, m.tables.root());
    const Mfn l3 = arch::X86PteFormat::address(Level::Pml4, m.root_entries()[0]).mfn();
    m.env.tag(l3, 1, kGlobal);
    const AuditResult result = m.audit();
    EXPECT_EQ(result.totals.frames, kBig + 2U);  // the page, the L3 and the root
    std::vector<VaRun> in_slot;
    for (const VaRun& run : m.runs)
        if (run.first >= kSlot258 && run.first < kSlot258 + arch::kL4SlotSize) in_slot.push_back(run);
    ASSERT_GE(in_slot.size(), 2U);
    // (258, 0, 0, *): the L3 entry read as a PDE is a 2 MiB page at the 1 GiB page's base.
    EXPECT_TRUE(same_run(in_slot[0], kSlot258, kSlot258 + 2 * MiB - 1, kMyGuest, Verdict::Own));
}

}  // namespace
}  // namespace hv::audit
