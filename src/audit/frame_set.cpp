// SPDX-License-Identifier: MIT
// Isolation audit: the per-root frame bitmap.
#include "hv/audit/frame_set.hpp"

#include "hv/core/check.hpp"

namespace hv::audit {
namespace {

// Bits [low, high) of a word, 0 <= low < high <= 64.
u64 bit_span(u64 low, u64 high) {
    const u64 upper = high == kBitsPerWord ? ~u64{0} : (u64{1} << high) - 1;
    return upper & ~((u64{1} << low) - 1);
}

}  // namespace

FrameSet::FrameSet(u64* words, u64 frame_count) : words_(words), frame_count_(frame_count) {
    const usize count = frame_set_words(frame_count);
    for (usize i = 0; i < count; ++i) words_[i] = 0;
}

u64 FrameSet::add_range(u64 first, u64 count) {
    HV_DEBUG_ASSERT(first <= frame_count_ && count <= frame_count_ - first);
    u64 added = 0;
    u64 frame = first;
    const u64 end = first + count;
    while (frame < end) {
        // One word per step: the bits of [frame, end) that fall into it.
        const u64 word = frame / kBitsPerWord;
        const u64 low = frame % kBitsPerWord;
        const u64 high = end - word * kBitsPerWord < kBitsPerWord ? end - word * kBitsPerWord : kBitsPerWord;
        const u64 mask = bit_span(low, high);
        added += static_cast<u64>(__builtin_popcountll(mask & ~words_[word]));
        words_[word] |= mask;
        frame = word * kBitsPerWord + high;
    }
    return added;
}

bool FrameSet::add(u64 frame) {
    HV_DEBUG_ASSERT(frame < frame_count_);
    const u64 bit = u64{1} << (frame % kBitsPerWord);
    u64& word = words_[frame / kBitsPerWord];
    const bool fresh = (word & bit) == 0;
    word |= bit;
    return fresh;
}

bool FrameSet::contains(u64 frame) const {
    HV_DEBUG_ASSERT(frame < frame_count_);
    return (words_[frame / kBitsPerWord] >> (frame % kBitsPerWord) & 1) != 0;
}

}  // namespace hv::audit
