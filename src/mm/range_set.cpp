// SPDX-License-Identifier: MIT
// Sorted disjoint range set used for the boot memory map.
#include "hv/mm/range_set.hpp"

namespace hv::mm {

void RangeSet::erase_at(usize index) {
    for (usize i = index; i + 1 < count_; ++i) ranges_[i] = ranges_[i + 1];
    --count_;
}

bool RangeSet::insert_at(usize index, Range range) {
    if (count_ == kCapacity) return false;
    for (usize i = count_; i > index; --i) ranges_[i] = ranges_[i - 1];
    ranges_[index] = range;
    ++count_;
    return true;
}

bool RangeSet::add(Range range) {
    if (range.empty()) return true;
    // Find the first range that ends at or after the new start (touching ranges merge).
    usize first = 0;
    while (first < count_ && ranges_[first].end < range.start) ++first;
    usize last = first;
    while (last < count_ && ranges_[last].start <= range.end) ++last;
    if (first == last) return insert_at(first, range);
    // Merge ranges [first, last) with the new one into ranges_[first].
    Range merged = range;
    if (ranges_[first].start < merged.start) merged.start = ranges_[first].start;
    if (ranges_[last - 1].end > merged.end) merged.end = ranges_[last - 1].end;
    ranges_[first] = merged;
    for (usize i = first + 1; i < last; ++i) erase_at(first + 1);
    return true;
}

bool RangeSet::remove(Range range) {
    if (range.empty()) return true;
    for (usize i = 0; i < count_; ++i) {
        Range& r = ranges_[i];
        if (r.end <= range.start || r.start >= range.end) continue;
        const bool keeps_left = r.start < range.start;
        const bool keeps_right = r.end > range.end;
        if (keeps_left && keeps_right) {
            // Check capacity before changing anything so failure leaves the set intact.
            if (count_ == kCapacity) return false;
            const Range right{range.end, r.end};
            r.end = range.start;
            return insert_at(i + 1, right);
        }
        if (keeps_left) {
            r.end = range.start;
        } else if (keeps_right) {
            r.start = range.end;
        } else {
            erase_at(i);
            --i;
        }
    }
    return true;
}

bool RangeSet::contains(Range range) const {
    for (usize i = 0; i < count_; ++i)
        if (ranges_[i].start <= range.start && range.end <= ranges_[i].end) return true;
    return false;
}

bool RangeSet::intersects(Range range) const {
    for (usize i = 0; i < count_; ++i)
        if (ranges_[i].start < range.end && range.start < ranges_[i].end) return true;
    return false;
}

bool RangeSet::find_aligned(u64 size, u64 alignment, u64 limit, Range& found) const {
    for (usize i = 0; i < count_; ++i) {
        const u64 start = align_up(ranges_[i].start, alignment);
        if (start < ranges_[i].start) continue;  // wrapped
        const u64 end = start + size;
        if (end < start || end > ranges_[i].end || end > limit) continue;
        found = Range{start, end};
        return true;
    }
    return false;
}

u64 RangeSet::total_bytes() const {
    u64 total = 0;
    for (usize i = 0; i < count_; ++i) total += ranges_[i].size();
    return total;
}

}  // namespace hv::mm
