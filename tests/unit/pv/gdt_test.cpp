// SPDX-License-Identifier: MIT
// Tests of the set_gdt hypercall's frame bookkeeping (asi-reference.md §8.5 property 34): the
// frames given become the vCPU's GDT frames, each holding one general and one segment-descriptor
// type reference; a later set_gdt takes the new frames before it drops the old ones, so every
// count returns to its value before the first call; a refused call takes nothing and leaves the
// old GDT in place. What the guest then sees through the GDT window is checked by
// guests/tests/gdt.cpp and guests/tests/ldt.cpp on Isola and Xen. [pv-abi.md §3.5]
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "hv/pv/domain_mm.hpp"
#include "hv/pv/page_types.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_domain_mm.hpp"
#include "support/fake_pv_frames.hpp"
#include "support/fake_pv_vcpu.hpp"

namespace hv::pv {
namespace {

constexpr u64 kFrameCount = 64;
constexpr u64 kFirst = 20;       // kFirst .. kFirst + 13: frames that can become GDT pages
constexpr u64 kBadDescriptors = 40;  // descriptors_ok refuses it
constexpr u64 kPinnedL1 = 41;        // a page table: never a GDT page
constexpr u64 kForeign = 42;         // another domain's frame
constexpr u64 kList = 0x15000000;    // guest VA of the frame list

struct GdtTest : ::testing::Test, test::PvVcpuFixture {
    test::FakePvFrames mem{kFrameCount};

    void SetUp() override {
        test::fake_guest_memory() = test::FakeGuestMemory{};
        test::fake_domain_mm() = {};
        test::fake_domain_mm().frames = &mem;
        for (u64 mfn = 16; mfn < kFrameCount; ++mfn) mem.give(Mfn(mfn), domain.id);
        mem.give(Mfn(kForeign), domain.id + 1);
        mem.bad_descriptor_pages.insert(kBadDescriptors);
        ASSERT_TRUE(domain_engine(domain).pin(Mfn(kPinnedL1), PageType::L1).ok());
    }
    void TearDown() override { test::fake_domain_mm().frames = nullptr; }

    // set_gdt with `frames` in guest memory and `entries` descriptors.
    long set_gdt(const std::vector<u64>& frames, u64 entries) {
        std::array<u64, 16> list{};  // one guest region: the hypercall reads the list in one copy
        for (usize i = 0; i < frames.size(); ++i) list[i] = frames[i];
        put(kList, list);
        return call(xen::kSetGdt, kList, entries);
    }
    std::vector<u64> gdt() const { return {vcpu.gdt_frames, vcpu.gdt_frames + vcpu.gdt_frame_count}; }

    // (general, type) reference counts of every frame, to compare before and after.
    std::vector<std::pair<u32, u32>> counts() {
        std::vector<std::pair<u32, u32>> all;
        for (u64 mfn = 0; mfn < kFrameCount; ++mfn) all.emplace_back(mem.info(Mfn(mfn)).ref_count, type_count(mem.info(Mfn(mfn))));
        return all;
    }
    u32 refs(u64 mfn) { return mem.info(Mfn(mfn)).ref_count; }
    u32 types(u64 mfn) { return type_count(mem.info(Mfn(mfn))); }
};

// N frames for up to N * 512 entries become the GDT, each typed as a descriptor page once.
TEST_F(GdtTest, FramesBecomeTheGdtWithOneReferenceEach) {
    EXPECT_EQ(set_gdt({kFirst, kFirst + 1, kFirst + 2}, 1025), 0);
    EXPECT_EQ(gdt(), (std::vector<u64>{kFirst, kFirst + 1, kFirst + 2}));
    for (u64 mfn = kFirst; mfn < kFirst + 3; ++mfn) {
        EXPECT_EQ(current_type(mem.info(Mfn(mfn))), PageType::SegDesc) << mfn;
        EXPECT_EQ(refs(mfn), 1u) << mfn;
        EXPECT_EQ(types(mfn), 1u) << mfn;
    }
    EXPECT_EQ(types(kFirst + 3), 0u) << "only as many frames as the entries need";
    for (unsigned i = 3; i < kMaxGdtFrames; ++i) EXPECT_EQ(vcpu.gdt_frames[i], 0u) << i;
    EXPECT_EQ(test::fake_domain_mm().gdt_loads, 1u) << "the window is remapped";
}

// A later set_gdt (other frames, overlapping frames, none) drops every reference the previous
// one took: after the last, every count is what it was before the first.
TEST_F(GdtTest, LaterSetGdtDropsThePreviousReferences) {
    const auto before = counts();
    ASSERT_EQ(set_gdt({kFirst, kFirst + 1}, 1024), 0);
    ASSERT_EQ(set_gdt({kFirst + 1, kFirst + 5, kFirst + 6}, 3 * 512), 0);
    EXPECT_EQ(refs(kFirst), 0u) << "dropped";
    EXPECT_EQ(types(kFirst), 0u);
    EXPECT_EQ(refs(kFirst + 1), 1u) << "kept, but referenced once, not twice";
    EXPECT_EQ(types(kFirst + 1), 1u);
    EXPECT_EQ(gdt(), (std::vector<u64>{kFirst + 1, kFirst + 5, kFirst + 6}));
    ASSERT_EQ(set_gdt({}, 0), 0);
    EXPECT_EQ(vcpu.gdt_frame_count, 0u);
    EXPECT_EQ(counts(), before) << "every reference of both GDTs given back";
    EXPECT_TRUE(mem.info(Mfn(kFirst + 5)).type_count == 0);
    EXPECT_EQ(test::fake_domain_mm().gdt_loads, 3u);
}

// The largest GDT: 14 frames (every entry below Xen's reserved ones); one entry more is -EINVAL.
TEST_F(GdtTest, FourteenFramesAtMost) {
    std::vector<u64> frames;
    for (u64 i = 0; i < kMaxGdtFrames; ++i) frames.push_back(kFirst + i);
    EXPECT_EQ(set_gdt(frames, xen::kFirstReservedGdtEntry), 0);
    EXPECT_EQ(gdt(), frames);
    const auto with_gdt = counts();
    EXPECT_EQ(set_gdt(frames, xen::kFirstReservedGdtEntry + 1), -xen::kEINVAL);
    EXPECT_EQ(counts(), with_gdt);
    EXPECT_EQ(gdt(), frames);
}

// The same frames again: one reference each still, and nothing to remap.
TEST_F(GdtTest, SameFramesAgainKeepOneReference) {
    ASSERT_EQ(set_gdt({kFirst, kFirst + 1}, 1024), 0);
    const auto with_gdt = counts();
    EXPECT_EQ(set_gdt({kFirst, kFirst + 1}, 1000), 0);
    EXPECT_EQ(counts(), with_gdt);
    EXPECT_EQ(test::fake_domain_mm().gdt_loads, 1u);
}

// Any frame that cannot be a descriptor page (refused descriptors, a page table, another domain's
// frame, no RAM, writably mapped) refuses the whole call: the frames before it in the list are
// given back and the old GDT stays, with its references.
TEST_F(GdtTest, RefusedFrameTakesNothingAndKeepsTheOldGdt) {
    ASSERT_EQ(set_gdt({kFirst, kFirst + 1}, 1024), 0);
    const auto with_gdt = counts();
    // A writable mapping: a frame with the writable type cannot become a descriptor page.
    ASSERT_TRUE(domain_engine(domain).get_page_and_type(Mfn(kFirst + 9), PageType::Writable).ok());
    const auto with_writable = counts();
    for (u64 bad : {kBadDescriptors, kPinnedL1, kForeign, kFrameCount + 5, kFirst + 9}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(set_gdt({kFirst + 2, kFirst + 3, bad}, 3 * 512), -xen::kEINVAL);
        EXPECT_EQ(counts(), with_writable);
        EXPECT_EQ(gdt(), (std::vector<u64>{kFirst, kFirst + 1}));
    }
    domain_engine(domain).put_page_and_type(Mfn(kFirst + 9));
    EXPECT_EQ(counts(), with_gdt);
    EXPECT_EQ(test::fake_domain_mm().gdt_loads, 1u) << "the old GDT was never remapped";
}

// An unreadable frame list is -EFAULT and changes nothing.
TEST_F(GdtTest, UnreadableListIsEfault) {
    ASSERT_EQ(set_gdt({kFirst}, 16), 0);
    const auto with_gdt = counts();
    EXPECT_EQ(call(xen::kSetGdt, 0x7fff0000, 1024), -xen::kEFAULT);
    EXPECT_EQ(counts(), with_gdt);
    EXPECT_EQ(gdt(), (std::vector<u64>{kFirst}));
}

}  // namespace
}  // namespace hv::pv
