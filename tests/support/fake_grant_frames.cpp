// SPDX-License-Identifier: MIT
// Host fakes for the grant-table platform hooks (hv/pv/grant_table.hpp), over the FakePvFrames
// instance the domain engine uses (fake_domain_mm().frames).
#include "hv/core/check.hpp"
#include "hv/pv/grant_table.hpp"
#include "support/fake_domain_mm.hpp"

namespace hv::pv {
namespace {

test::FakePvFrames& frames() {
    HV_CHECK(test::fake_domain_mm().frames != nullptr);
    return *test::fake_domain_mm().frames;
}

}  // namespace

bool grant_word_cmpxchg(Mfn frame, unsigned index, u64& expected, u64 desired) {
    return __atomic_compare_exchange_n(&frames().word(frame, index), &expected, desired, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}
void grant_word_and(Mfn frame, unsigned index, u64 mask) { frames().word(frame, index) &= mask; }
void grant_word_or(Mfn frame, unsigned index, u64 bits) { frames().word(frame, index) |= bits; }
void grant_frame_zero(Mfn frame) { frames().words(frame).fill(0); }
mm::FrameInfo* grant_frame_info(Mfn mfn) { return mfn.raw() < frames().frame_count() ? &frames().info(mfn) : nullptr; }

}  // namespace hv::pv
