// SPDX-License-Identifier: MIT
// Tests of mmuext_op MMUEXT_CLEAR_PAGE and MMUEXT_COPY_PAGE: Xen's rules (own frames only, a
// destination that can take the writable type, any readable source), -EINVAL for every refusal,
// the `done` count, and references left as they were. The guest's view on Isola and Xen is checked
// by guests/tests/page_ops.cpp. [pv-abi.md §3.9]
#include <gtest/gtest.h>

#include "hv/pv/domain_mm.hpp"
#include "hv/pv/page_types.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_domain_mm.hpp"
#include "support/fake_pv_frames.hpp"
#include "support/fake_pv_vcpu.hpp"

namespace hv::pv {
namespace {

constexpr u64 kFrameCount = 64;
constexpr u64 kData = 20, kOther = 21, kL1 = 22, kForeign = 23, kUnowned = 24;
constexpr u64 kOps = 0x14000000, kDone = 0x14100000;

struct PageOpsTest : ::testing::Test, test::PvVcpuFixture {
    test::FakePvFrames mem{kFrameCount};

    void SetUp() override {
        test::fake_guest_memory() = test::FakeGuestMemory{};  // no region of an earlier test overlaps ours
        test::fake_domain_mm() = {};
        test::fake_domain_mm().frames = &mem;
        for (u64 mfn = 16; mfn < kFrameCount; ++mfn) mem.give(Mfn(mfn), domain.id);
        mem.give(Mfn(kForeign), domain.id + 1);
        mem.set_owner(Mfn(kUnowned), mm::FrameOwner::Hypervisor, mm::FrameClass::Global, 0);
        for (unsigned i = 0; i < 512; ++i) {
            mem.word(Mfn(kData), i) = 0x1000 + i;
            mem.word(Mfn(kForeign), i) = 0xf00 + i;
            mem.word(Mfn(kUnowned), i) = 0xbad;
        }
        ASSERT_TRUE(domain_engine(domain).pin(Mfn(kL1), PageType::L1).ok());
    }
    // One mmuext_op with `ops`, done count at kDone.
    long run(std::initializer_list<xen::MmuextOp> ops) {
        zeros(kOps, ops.size() * sizeof(xen::MmuextOp));
        u64 va = kOps;
        for (const auto& op : ops) put(va, op), va += sizeof op;
        put(kDone, u32{0xffff});
        return call(xen::kMmuextOp, kOps, ops.size(), kDone, xen::kDomidSelf);
    }
    u32 done() { return get<u32>(kDone); }
    static xen::MmuextOp clear(u64 mfn) { return {xen::kMmuextClearPage, 0, mfn, 0}; }
    static xen::MmuextOp copy(u64 to, u64 from) { return {xen::kMmuextCopyPage, 0, to, from}; }
    u32 refs(u64 mfn) { return mem.info(Mfn(mfn)).ref_count; }
    u32 types(u64 mfn) { return type_count(mem.info(Mfn(mfn))); }
};

TEST_F(PageOpsTest, ClearZeroesTheWholeFrame) {
    EXPECT_EQ(run({clear(kData)}), 0);
    EXPECT_EQ(done(), 1u);
    for (unsigned i = 0; i < 512; ++i) ASSERT_EQ(mem.word(Mfn(kData), i), 0u) << i;
    EXPECT_EQ(refs(kData), 0u) << "references given back";
    EXPECT_EQ(types(kData), 0u);
}

TEST_F(PageOpsTest, CopyCopiesTheWholeFrame) {
    EXPECT_EQ(run({copy(kOther, kData)}), 0);
    EXPECT_EQ(mem.words(Mfn(kOther)), mem.words(Mfn(kData)));
    EXPECT_EQ(refs(kOther), 0u);
    EXPECT_EQ(refs(kData), 0u);
}

// A page table may be read (copy source) but never written.
TEST_F(PageOpsTest, PageTablesAreSourcesOnly) {
    mem.word(Mfn(kL1), 7) = 0;
    const u32 l1_refs = refs(kL1), l1_types = types(kL1);
    EXPECT_EQ(run({clear(kL1)}), -xen::kEINVAL);
    EXPECT_EQ(done(), 0u);
    EXPECT_EQ(run({copy(kL1, kData)}), -xen::kEINVAL);
    EXPECT_EQ(mem.word(Mfn(kL1), 0), 0u) << "the L1 was not written";
    EXPECT_EQ(run({copy(kOther, kL1)}), 0);
    EXPECT_EQ(refs(kL1), l1_refs);
    EXPECT_EQ(types(kL1), l1_types);
}

// Another domain's frame, a hypervisor frame and an mfn beyond RAM: -EINVAL, nothing touched,
// and a refused destination gives the source's reference back.
TEST_F(PageOpsTest, ForeignAndInvalidFramesAreRefused) {
    for (u64 bad : {kForeign, kUnowned, kFrameCount, u64{1} << 40, ~u64{0}}) {
        EXPECT_EQ(run({clear(bad)}), -xen::kEINVAL) << bad;
        EXPECT_EQ(run({copy(kOther, bad)}), -xen::kEINVAL) << bad;
        EXPECT_EQ(run({copy(bad, kData)}), -xen::kEINVAL) << bad;
        EXPECT_EQ(refs(kData), 0u) << bad;
    }
    EXPECT_EQ(mem.word(Mfn(kForeign), 3), 0xf03u);
    EXPECT_EQ(mem.word(Mfn(kUnowned), 3), 0xbadu);
    EXPECT_EQ(mem.word(Mfn(kOther), 3), 0u) << "no foreign data copied in";
}

// A batch stops at the first refused op; `done` counts the ones before it.
TEST_F(PageOpsTest, BatchStopsAtTheFirstRefusal) {
    EXPECT_EQ(run({copy(kOther, kData), clear(kData), clear(kL1), clear(kOther)}), -xen::kEINVAL);
    EXPECT_EQ(done(), 2u);
    EXPECT_EQ(mem.word(Mfn(kData), 5), 0u);
    EXPECT_EQ(mem.word(Mfn(kOther), 5), 0x1005u) << "the op after the refusal did not run";
}

}  // namespace
}  // namespace hv::pv
