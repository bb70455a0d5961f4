// SPDX-License-Identifier: MIT
// Isolation audit: the per-root frame bitmap against a std::vector<bool> reference.
#include "hv/audit/frame_set.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace hv::audit {
namespace {

// The constructor clears exactly the words it needs, whatever was there before.
TEST(AuditFrameSet, StartsEmpty) {
    std::vector<u64> words(frame_set_words(130) + 1, ~u64{0});
    FrameSet set(words.data(), 130);
    for (u64 frame = 0; frame < 130; ++frame) EXPECT_FALSE(set.contains(frame));
    EXPECT_EQ(words.back(), ~u64{0});  // the word past the end is untouched
}

// Ranges inside one word, across words and ending on a word boundary count only new frames.
TEST(AuditFrameSet, RangesCountNewFramesOnly) {
    std::vector<u64> words(frame_set_words(300));
    FrameSet set(words.data(), 300);
    EXPECT_EQ(set.add_range(3, 5), 5U);
    EXPECT_EQ(set.add_range(0, 64), 59U);
    EXPECT_EQ(set.add_range(60, 70), 66U);  // 60..129, of which 64..129 are new
    EXPECT_EQ(set.add_range(128, 64), 62U);
    EXPECT_EQ(set.add_range(0, 300), 300U - 192U);
    EXPECT_EQ(set.add_range(0, 300), 0U);
    EXPECT_EQ(set.add_range(17, 0), 0U);
    EXPECT_FALSE(set.add(299));
}

// Random ranges and single frames agree with a plain reference set.
TEST(AuditFrameSet, MatchesReference) {
    std::mt19937 random(9);
    for (int round = 0; round < 200; ++round) {
        const u64 frames = 1 + random() % 1000;
        std::vector<u64> words(frame_set_words(frames));
        FrameSet set(words.data(), frames);
        std::vector<bool> reference(frames);
        for (int op = 0; op < 50; ++op) {
            const u64 first = random() % frames;
            const u64 count = random() % (frames - first + 1);
            u64 fresh = 0;
            for (u64 i = first; i < first + count; ++i) {
                fresh += reference[i] ? 0 : 1;
                reference[i] = true;
            }
            ASSERT_EQ(set.add_range(first, count), fresh);
            const u64 one = random() % frames;
            ASSERT_EQ(set.add(one), !reference[one]);
            reference[one] = true;
        }
        for (u64 i = 0; i < frames; ++i) ASSERT_EQ(set.contains(i), reference[i]) << i;
    }
}

}  // namespace
}  // namespace hv::audit
