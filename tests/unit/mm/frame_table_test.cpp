// SPDX-License-Identifier: MIT
// Tests of frame descriptors and the two-pool frame allocator.
#include "hv/mm/frame_table.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace hv::mm {
namespace {

constexpr FrameUse kHv{FrameOwner::Hypervisor, FrameClass::Global, 0};
constexpr FrameUse kGuest{FrameOwner::Domain, FrameClass::Guest, 7};

struct FrameAllocatorTest : ::testing::Test {
    std::vector<FrameInfo> table = std::vector<FrameInfo>(1024);
    FrameAllocator alloc{table.data(), table.size()};
};

TEST_F(FrameAllocatorTest, StartsUnusableAndEmpty) {
    EXPECT_EQ(alloc.info(Mfn(5)).owner, FrameOwner::Unusable);
    EXPECT_FALSE(alloc.alloc(Pool::Hypervisor, kHv).has_value());
}

TEST_F(FrameAllocatorTest, PoolsAreSeparate) {
    alloc.add_free(Pool::Hypervisor, Mfn(16), 4);
    alloc.add_free(Pool::Domain, Mfn(100), 8);
    EXPECT_EQ(alloc.free_count(Pool::Hypervisor), 4u);
    EXPECT_EQ(alloc.free_count(Pool::Domain), 8u);
    for (int i = 0; i < 4; ++i) {
        const Mfn mfn = alloc.alloc(Pool::Hypervisor, kHv).value();
        EXPECT_GE(mfn.raw(), 16u);
        EXPECT_LT(mfn.raw(), 20u);
    }
    EXPECT_FALSE(alloc.alloc(Pool::Hypervisor, kHv).has_value()) << "must not spill into the domain pool";
    EXPECT_EQ(alloc.free_count(Pool::Domain), 8u);
}

TEST_F(FrameAllocatorTest, AllocRecordsOwnerAndClass) {
    alloc.add_free(Pool::Domain, Mfn(100), 1);
    const Mfn mfn = alloc.alloc(Pool::Domain, kGuest).value();
    const FrameInfo& info = alloc.info(mfn);
    EXPECT_EQ(info.owner, FrameOwner::Domain);
    EXPECT_EQ(info.frame_class, FrameClass::Guest);
    EXPECT_EQ(info.class_id, 7u);
    EXPECT_EQ(info.type_count, 0u);
    EXPECT_EQ(info.ref_count, 0u);
}

TEST_F(FrameAllocatorTest, FreeReturnsToOwnPoolAndFramesAreUnique) {
    alloc.add_free(Pool::Hypervisor, Mfn(0), 64);
    std::set<u64> seen;
    std::vector<Mfn> held;
    for (int i = 0; i < 64; ++i) {
        const Mfn mfn = alloc.alloc(Pool::Hypervisor, kHv).value();
        EXPECT_TRUE(seen.insert(mfn.raw()).second) << "frame handed out twice";
        held.push_back(mfn);
    }
    for (Mfn mfn : held) alloc.free(mfn);
    EXPECT_EQ(alloc.free_count(Pool::Hypervisor), 64u);
    EXPECT_EQ(alloc.free_count(Pool::Domain), 0u);
    EXPECT_EQ(alloc.info(held[3]).owner, FrameOwner::Free);
}

TEST_F(FrameAllocatorTest, ClaimMarksFramesOwned) {
    alloc.claim(Mfn(256), 3, FrameUse{FrameOwner::BootModule, FrameClass::Global, 0});
    EXPECT_EQ(alloc.info(Mfn(257)).owner, FrameOwner::BootModule);
    EXPECT_EQ(alloc.info(Mfn(259)).owner, FrameOwner::Unusable);
}

TEST_F(FrameAllocatorTest, FramesBeyondTableIgnored) {
    alloc.add_free(Pool::Domain, Mfn(1020), 10);
    EXPECT_EQ(alloc.free_count(Pool::Domain), 4u);
}

TEST_F(FrameAllocatorTest, DoubleFreeIsAHypervisorBug) {
    alloc.add_free(Pool::Hypervisor, Mfn(1), 1);
    const Mfn mfn = alloc.alloc(Pool::Hypervisor, kHv).value();
    alloc.free(mfn);
    EXPECT_DEATH(alloc.free(mfn), "check failed");
}

}  // namespace
}  // namespace hv::mm
