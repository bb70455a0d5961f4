// SPDX-License-Identifier: MIT
// Tests of the boot memory-map range set.
#include "hv/mm/range_set.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace hv::mm {
namespace {

TEST(RangeSet, AddMergesOverlappingAndTouching) {
    RangeSet set;
    ASSERT_TRUE(set.add({0x1000, 0x2000}));
    ASSERT_TRUE(set.add({0x3000, 0x4000}));
    ASSERT_TRUE(set.add({0x2000, 0x3000}));  // touches both: one range remains
    ASSERT_EQ(set.count(), 1u);
    EXPECT_EQ(set[0].start, 0x1000u);
    EXPECT_EQ(set[0].end, 0x4000u);
}

TEST(RangeSet, RemoveSplitsAndTrims) {
    RangeSet set;
    ASSERT_TRUE(set.add({0, 0x10000}));
    ASSERT_TRUE(set.remove({0x4000, 0x5000}));
    ASSERT_EQ(set.count(), 2u);
    EXPECT_EQ(set[0].end, 0x4000u);
    EXPECT_EQ(set[1].start, 0x5000u);
    ASSERT_TRUE(set.remove({0, 0x1000}));
    EXPECT_EQ(set[0].start, 0x1000u);
    EXPECT_EQ(set.total_bytes(), 0x10000u - 0x2000u);
}

TEST(RangeSet, FullSetRefusesWithoutChange) {
    RangeSet set;
    for (u64 i = 0; i < RangeSet::kCapacity; ++i) ASSERT_TRUE(set.add({i * 0x10000, i * 0x10000 + 0x1000}));
    EXPECT_FALSE(set.add({0xf0000000, 0xf0001000}));
    EXPECT_FALSE(set.remove({0x10100, 0x10200}));  // would split: no room
    EXPECT_EQ(set.count(), RangeSet::kCapacity);
    EXPECT_EQ(set[1].start, 0x10000u);
    EXPECT_EQ(set[1].end, 0x11000u);
}

TEST(RangeSet, FindAlignedRespectsAlignmentAndLimit) {
    RangeSet set;
    ASSERT_TRUE(set.add({0x1000, 0x300000}));
    Range found{};
    ASSERT_TRUE(set.find_aligned(0x100000, 0x200000, ~u64{0}, found));
    EXPECT_EQ(found.start, 0x200000u);
    EXPECT_FALSE(set.find_aligned(0x200000, 0x200000, ~u64{0}, found));
    EXPECT_FALSE(set.find_aligned(0x100000, 0x200000, 0x280000, found));
}

// Random adds and removes agree with a page-granular reference set.
TEST(RangeSet, RandomAgainstReference) {
    std::mt19937_64 rng(1);
    RangeSet set;
    std::set<u64> pages;
    for (int step = 0; step < 2000; ++step) {
        const u64 start = rng() % 256;
        const u64 end = start + rng() % 8;
        const bool adding = rng() % 2 == 0;
        const bool ok = adding ? set.add({start << 12, end << 12}) : set.remove({start << 12, end << 12});
        if (!ok) continue;
        for (u64 p = start; p < end; ++p) adding ? (void)pages.insert(p) : (void)pages.erase(p);
        u64 total = 0;
        for (usize i = 0; i < set.count(); ++i) {
            if (i > 0) ASSERT_LT(set[i - 1].end, set[i].start) << "ranges must stay sorted and apart";
            total += set[i].size();
        }
        ASSERT_EQ(total, pages.size() << 12);
        for (u64 p : pages) ASSERT_TRUE(set.contains({p << 12, (p + 1) << 12}));
    }
}

}  // namespace
}  // namespace hv::mm
