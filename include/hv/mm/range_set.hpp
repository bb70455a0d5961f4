// SPDX-License-Identifier: MIT
// A small sorted set of disjoint byte ranges with fixed capacity (no heap): the boot memory map.
#pragma once

#include "hv/core/types.hpp"

namespace hv::mm {

struct Range {
    u64 start;  // inclusive
    u64 end;    // exclusive
    constexpr u64 size() const { return end - start; }
    constexpr bool empty() const { return end <= start; }
};

class RangeSet {
  public:
    static constexpr usize kCapacity = 64;

    // Adds a range, merging with neighbours. False if the set is full (nothing changed then).
    [[nodiscard]] bool add(Range range);
    // Removes a range, splitting where needed. False if a split would overflow (nothing changed).
    [[nodiscard]] bool remove(Range range);
    bool contains(Range range) const;
    bool intersects(Range range) const;
    // The lowest range of `size` bytes aligned to `alignment` inside the set and below `limit`.
    bool find_aligned(u64 size, u64 alignment, u64 limit, Range& found) const;

    usize count() const { return count_; }
    const Range& operator[](usize index) const { return ranges_[index]; }
    u64 total_bytes() const;
    u64 end_address() const { return count_ == 0 ? 0 : ranges_[count_ - 1].end; }

  private:
    void erase_at(usize index);
    bool insert_at(usize index, Range range);

    Range ranges_[kCapacity]{};
    usize count_ = 0;
};

}  // namespace hv::mm
