// SPDX-License-Identifier: MIT
// Platform side of grant tables (grant_table.hpp): atomic word operations on grant and status
// frames through the mapcache, and their frame-table entries.
#include "arch/mapcache.hpp"
#include "arch/memory.hpp"
#include "hv/pv/grant_table.hpp"

extern "C" void* memset(void*, int, hv::usize);

namespace hv::pv {

bool grant_word_cmpxchg(Mfn frame, unsigned index, u64& expected, u64 desired) {
    const arch::MappedFrame page = arch::map_domain_page(frame);
    return __atomic_compare_exchange_n(&page.as<u64>()[index], &expected, desired, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

void grant_word_and(Mfn frame, unsigned index, u64 mask) {
    const arch::MappedFrame page = arch::map_domain_page(frame);
    __atomic_fetch_and(&page.as<u64>()[index], mask, __ATOMIC_SEQ_CST);
}

void grant_word_or(Mfn frame, unsigned index, u64 bits) {
    const arch::MappedFrame page = arch::map_domain_page(frame);
    __atomic_fetch_or(&page.as<u64>()[index], bits, __ATOMIC_SEQ_CST);
}

void grant_frame_zero(Mfn frame) {
    const arch::MappedFrame page = arch::map_domain_page(frame);
    memset(page.bytes(), 0, kPageSize);
}

mm::FrameInfo* grant_frame_info(Mfn mfn) {
    mm::FrameAllocator& frames = arch::frame_allocator();
    return mfn.raw() < frames.frame_count() ? &frames.info(mfn) : nullptr;
}

}  // namespace hv::pv
