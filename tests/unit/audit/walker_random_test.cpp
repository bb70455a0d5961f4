// SPDX-License-Identifier: MIT
// Isolation audit walker on random trees, checked against a brute-force reference: expand every
// leaf into its 4 KiB pages (one (va, mfn) pair each), then count, dedupe and coalesce with std
// containers. The walker's range handling, bitmap and run coalescing must agree exactly.
//
// Trees mix 4K/2M/1G leaves, shared subtrees, unreadable table entries, frames outside RAM,
// random tags in blocks, and (x86 format only) a self-map slot.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "arch/pte.hpp"
#include "hv/audit/walker.hpp"
#include "support/fake_audit_env.hpp"
#include "support/fake_machine_memory.hpp"
#include "support/skewed_pte_format.hpp"

namespace hv::audit {
namespace {

using mm::Level;

struct Page {
    u64 va;
    u64 mfn;
};

// What the reference computes.
struct Expected {
    AuditTotals totals;
    std::vector<Finding> findings;
    std::vector<VaRun> runs;
};

// Brute force: every present leaf, expanded page by page, levels as the MMU reads them.
template <class Format>
void expand(test::FakeMachineMemory& memory, u64 frame_count, Mfn table, Level level, u64 base,
            std::vector<Page>& pages, u64& unreadable) {
    if (table.raw() >= frame_count || !memory.contains(table)) {
        ++unreadable;
        return;
    }
    const std::vector<u64> entries(memory.words(table), memory.words(table) + mm::kEntriesPerTable);
    for (unsigned i = 0; i < mm::kEntriesPerTable; ++i) {
        if (!Format::present(level, entries[i])) continue;
        u64 va = base + (u64{i} << mm::level_shift(level));
        if (level == mm::kRootLevel && i >= 256) va |= 0xffff000000000000;
        const u64 mfn = Format::address(level, entries[i]).mfn().raw();
        if (level == Level::Pt || Format::is_leaf(level, entries[i])) {
            for (u64 k = 0; k < mm::level_size(level) / kPageSize; ++k) pages.push_back({va + k * kPageSize, mfn + k});
        } else {
            expand<Format>(memory, frame_count, Mfn(mfn), mm::lower(level), va, pages, unreadable);
        }
    }
}

Expected reference(const std::vector<Page>& pages, const test::FakeAuditEnv& env, u64 frame_count, u64 unreadable,
                   const Subject& subject) {
    Expected out;
    out.totals.unreadable_tables = unreadable;
    std::set<u64> seen;
    for (const Page& page : pages) {
        const bool in_ram = page.mfn < frame_count;
        const FrameTag tag = in_ram ? env.tag_of(page.mfn) : FrameTag{FrameKind::OutsideRam, 0, 0};
        const Verdict verdict = verdict_of(tag, subject);
        // VA map: extend the last run or start a new one.
        if (!out.runs.empty() && out.runs.back().last + 1 == page.va && out.runs.back().tag == tag &&
            out.runs.back().verdict == verdict) {
            out.runs.back().last += kPageSize;
        } else {
            out.runs.push_back(VaRun{page.va, page.va + kPageSize - 1, tag, verdict});
        }
        if (in_ram && !seen.insert(page.mfn).second) continue;  // outside RAM: counted per page
        ++out.totals.frames;
        ++out.totals.by_kind[static_cast<unsigned>(tag.kind)];
        if (verdict == Verdict::Foreign) ++out.totals.foreign;
        if (verdict == Verdict::Bad) ++out.totals.bad;
        const bool flagged = verdict == Verdict::Foreign || verdict == Verdict::Bad;  // granted: shared on purpose
        if (flagged && out.findings.size() < kMaxFindings)
            out.findings.push_back(Finding{Vaddr(page.va), Mfn(page.mfn), tag, verdict});
    }
    return out;
}

// A random tree: few entries per table so that the reference stays cheap, but every kind of
// entry, at random indices, lower and upper half.
template <class Format>
class RandomTree {
  public:
    RandomTree(std::mt19937& random, test::FakeMachineMemory& memory, u64 frame_count, bool allow_1g)
        : random_(random), memory_(memory), frame_count_(frame_count), allow_1g_(allow_1g) {
        root_ = memory_.alloc_frame();
        fill(root_, mm::kRootLevel);
        if (std::is_same_v<Format, arch::X86PteFormat> && pick(2) == 0)
            memory_.words(root_)[258] = Format::make_table(mm::kRootLevel, root_);
    }
    Mfn root() const { return root_; }

  private:
    u64 pick(u64 n) { return random_() % n; }

    // Some random mfn, sometimes beyond the top of RAM, aligned for a leaf of `level`.
    u64 leaf_mfn(Level level) {
        const u64 frames = mm::level_size(level) / kPageSize;
        const u64 limit = frame_count_ + frame_count_ / 4 + frames;
        return pick(limit) / frames * frames;
    }

    void fill(Mfn table, Level level) {
        const unsigned entries = 1 + static_cast<unsigned>(pick(level == mm::kRootLevel ? 5 : 4));
        for (unsigned n = 0; n < entries; ++n) {
            const unsigned index = static_cast<unsigned>(pick(mm::kEntriesPerTable));
            memory_.words(table)[index] = make_entry(level);
        }
    }

    u64 make_entry(Level level) {
        const u64 choice = pick(10);
        if (level == Level::Pt) return Format::make_leaf(level, Mfn(leaf_mfn(level)).maddr(), mm::Attrs{});
        const bool large_ok = level == Level::Pd || (level == Level::Pdpt && allow_1g_ && pick(4) == 0);
        if (large_ok && choice < 3) return Format::make_leaf(level, Mfn(leaf_mfn(level)).maddr(), mm::Attrs{});
        if (choice == 3) return Format::make_table(level, Mfn(frame_count_ + pick(100)));  // unreadable
        std::vector<Mfn>& pool = shared_[mm::level_number(level)];
        if (choice < 6 && !pool.empty()) return Format::make_table(level, pool[pick(pool.size())]);
        const Mfn child = memory_.alloc_frame();
        pool.push_back(child);
        fill(child, mm::lower(level));
        return Format::make_table(level, child);
    }

    std::mt19937& random_;
    test::FakeMachineMemory& memory_;
    u64 frame_count_;
    bool allow_1g_;
    Mfn root_;
    std::vector<Mfn> shared_[mm::kLevelCount];  // tables already built, by the level linking them
};

// Random tags in blocks, so that stretches and runs have some length.
void random_tags(std::mt19937& random, test::FakeAuditEnv& env, u64 frame_count) {
    constexpr FrameKind kKinds[] = {FrameKind::Global, FrameKind::PerCpu,   FrameKind::PerDomain,
                                    FrameKind::PerVcpu, FrameKind::Guest,   FrameKind::Free,
                                    FrameKind::Unusable, FrameKind::BootModule};
    for (u64 mfn = 0; mfn < frame_count;) {
        const u64 length = std::min<u64>(1 + random() % 700, frame_count - mfn);
        const FrameTag tag{kKinds[random() % std::size(kKinds)], static_cast<u32>(random() % 3),
                           static_cast<u32>(random() % 2)};
        env.tag(Mfn(mfn), length, tag);
        mfn += length;
    }
}

void expect_same_findings(const AuditResult& got, const Expected& want) {
    ASSERT_EQ(got.finding_count, want.findings.size());
    for (unsigned i = 0; i < got.finding_count; ++i) {
        EXPECT_EQ(got.findings[i].va, want.findings[i].va) << i;
        EXPECT_EQ(got.findings[i].mfn, want.findings[i].mfn) << i;
        EXPECT_EQ(got.findings[i].tag, want.findings[i].tag) << i;
        EXPECT_EQ(got.findings[i].verdict, want.findings[i].verdict) << i;
    }
}

void expect_same_runs(const std::vector<VaRun>& got, const std::vector<VaRun>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (usize i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].first, want[i].first) << i;
        EXPECT_EQ(got[i].last, want[i].last) << i;
        EXPECT_EQ(got[i].tag, want[i].tag) << i;
        EXPECT_EQ(got[i].verdict, want[i].verdict) << i;
    }
}

void expect_same_totals(const AuditTotals& got, const AuditTotals& want) {
    EXPECT_EQ(got.frames, want.frames);
    for (unsigned k = 0; k < kFrameKindCount; ++k) EXPECT_EQ(got.by_kind[k], want.by_kind[k]) << "kind " << k;
    EXPECT_EQ(got.foreign, want.foreign);
    EXPECT_EQ(got.bad, want.bad);
    EXPECT_EQ(got.unreadable_tables, want.unreadable_tables);
}

template <class Format>
void check_random_trees(unsigned seed, int rounds) {
    std::mt19937 random(seed);
    u64 pages_seen = 0, runs_seen = 0, foreign_seen = 0, unreadable_seen = 0;
    for (int round = 0; round < rounds; ++round) {
        SCOPED_TRACE(::testing::Message() << "seed " << seed << " round " << round);
        test::FakeMachineMemory memory;
        // Tables start at FakeMachineMemory::kFirstMfn; RAM ends a little above them.
        const u64 frame_count = test::FakeMachineMemory::kFirstMfn + 0x400 + random() % 0x3000;
        RandomTree<Format> tree(random, memory, frame_count, round % 4 == 0);
        test::FakeAuditEnv env(memory, frame_count);
        random_tags(random, env, frame_count);
        const Subject subject{static_cast<u32>(random() % 3), static_cast<u32>(random() % 2),
                              static_cast<u32>(random() % 2)};

        std::vector<Page> pages;
        u64 unreadable = 0;
        expand<Format>(memory, frame_count, tree.root(), mm::kRootLevel, 0, pages, unreadable);
        const Expected want = reference(pages, env, frame_count, unreadable, subject);

        std::vector<u64> scratch(audit_scratch_words(frame_count), ~u64{0});  // dirty on purpose
        std::vector<VaRun> runs;
        const RunSink sink{[](void* out, const VaRun& run) { static_cast<std::vector<VaRun>*>(out)->push_back(run); },
                           &runs};
        const AuditResult got =
            audit_root<Format>(env, tree.root(), subject, AuditScratch{scratch.data(), scratch.size()}, sink);
        expect_same_totals(got.totals, want.totals);
        expect_same_findings(got, want);
        expect_same_runs(runs, want.runs);
        if (::testing::Test::HasFailure()) return;
        pages_seen += pages.size();
        runs_seen += runs.size();
        foreign_seen += got.totals.foreign;
        unreadable_seen += got.totals.unreadable_tables;
    }
    // The trees are not trivial: many pages, many runs, foreign frames, unreadable entries.
    EXPECT_GT(pages_seen, 500000U);
    EXPECT_GT(runs_seen, 2000U);
    EXPECT_GT(foreign_seen, 1000U);
    EXPECT_GT(unreadable_seen, 50U);
}

// Random trees in the x86 format (with self-map slots) agree with the brute-force reference.
TEST(AuditWalkerRandom, X86MatchesBruteForce) { check_random_trees<arch::X86PteFormat>(61, 100); }

// Random trees in the level-skewed format agree with the brute-force reference.
TEST(AuditWalkerRandom, SkewedMatchesBruteForce) { check_random_trees<test::SkewedPteFormat>(62, 100); }

}  // namespace
}  // namespace hv::audit
