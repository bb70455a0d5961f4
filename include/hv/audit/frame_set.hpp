// SPDX-License-Identifier: MIT
// Isolation audit: the set of frames already counted for one root (a bitmap, caller's memory).
//
// The audit counts each frame once per root, however many VAs map it (the directmap and the
// image alias the same frames). The bits live in memory the caller provides, one bit per frame
// below the top of RAM, so the image can take them from its pool: no heap.
#pragma once

#include "hv/core/types.hpp"

namespace hv::audit {

inline constexpr u64 kBitsPerWord = 64;

constexpr usize frame_set_words(u64 frame_count) { return static_cast<usize>((frame_count + kBitsPerWord - 1) / kBitsPerWord); }

class FrameSet {
  public:
    // Precondition: `words` holds at least frame_set_words(frame_count) words. Clears them.
    FrameSet(u64* words, u64 frame_count);

    // Adds frames [first, first + count) and returns how many of them were not in the set yet.
    // Precondition: first + count <= frame_count. Works a word at a time.
    u64 add_range(u64 first, u64 count);
    // Adds one frame; true if it was not in the set yet.
    bool add(u64 frame);
    bool contains(u64 frame) const;

  private:
    u64* words_;
    u64 frame_count_;
};

}  // namespace hv::audit
