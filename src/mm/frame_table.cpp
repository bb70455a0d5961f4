// SPDX-License-Identifier: MIT
// Frame descriptors and the two-pool frame allocator.
#include "hv/mm/frame_table.hpp"

#include "hv/core/check.hpp"

namespace hv::mm {

FrameAllocator::FrameAllocator(FrameInfo* table, u64 frame_count) : table_(table), frame_count_(frame_count) {
    for (u64 mfn = 0; mfn < frame_count_; ++mfn) table_[mfn] = FrameInfo{FrameOwner::Unusable, FrameClass::Global,
                                                                        Pool::Hypervisor, 0, 0, 0, 0};
}

const FrameInfo& FrameAllocator::info(Mfn mfn) const {
    HV_CHECK(mfn.raw() < frame_count_);
    return table_[mfn.raw()];
}

FrameInfo& FrameAllocator::info(Mfn mfn) {
    HV_CHECK(mfn.raw() < frame_count_);
    return table_[mfn.raw()];
}

u64 FrameAllocator::next_of(u64 mfn) const {
    const FrameInfo& frame = table_[mfn];
    return (u64{frame.ref_count} << 32) | frame.type_count;
}

void FrameAllocator::push_free(Pool pool, u64 mfn) {
    const unsigned index = static_cast<unsigned>(pool);
    FrameInfo& frame = table_[mfn];
    frame = FrameInfo{FrameOwner::Free, FrameClass::Global, pool, 0, 0, 0, 0};
    frame.type_count = static_cast<u32>(free_head_[index]);
    frame.ref_count = static_cast<u32>(free_head_[index] >> 32);
    free_head_[index] = mfn;
    ++free_count_[index];
}

void FrameAllocator::add_free(Pool pool, Mfn first, u64 count) {
    // Push in descending order so allocation hands out ascending frames (easier to read in logs).
    for (u64 i = count; i > 0; --i) {
        const u64 mfn = first.raw() + i - 1;
        if (mfn >= frame_count_) continue;
        HV_CHECK(table_[mfn].owner == FrameOwner::Unusable);
        push_free(pool, mfn);
    }
}

void FrameAllocator::claim(Mfn first, u64 count, FrameUse use) {
    for (u64 mfn = first.raw(); mfn < first.raw() + count && mfn < frame_count_; ++mfn) {
        HV_CHECK(table_[mfn].owner == FrameOwner::Unusable);
        table_[mfn] = FrameInfo{use.owner, use.frame_class, Pool::Hypervisor, 0, use.class_id, 0, 0};
    }
}

Optional<Mfn> FrameAllocator::alloc(Pool pool, FrameUse use) {
    const unsigned index = static_cast<unsigned>(pool);
    const u64 mfn = free_head_[index];
    if (mfn == kNoFrame) return {};
    free_head_[index] = next_of(mfn);
    --free_count_[index];
    table_[mfn] = FrameInfo{use.owner, use.frame_class, pool, 0, use.class_id, 0, 0};
    return Mfn(mfn);
}

void FrameAllocator::free(Mfn mfn) {
    HV_CHECK(mfn.raw() < frame_count_);
    const FrameInfo& frame = table_[mfn.raw()];
    HV_CHECK(frame.owner != FrameOwner::Free && frame.owner != FrameOwner::Unusable);
    push_free(frame.pool, mfn.raw());
}

}  // namespace hv::mm
