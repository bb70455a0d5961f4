// SPDX-License-Identifier: MIT
// Tests of the PV page-type engine: one rule per test, then a randomized run from two domains
// with every invariant recomputed from scratch after each step (page_types_random_test.cpp).
#include "hv/pv/page_types.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "hv/pv/status_errno.hpp"
#include "support/fake_pv_frames.hpp"

namespace hv::pv {
namespace {

using test::FakePvFrames;

constexpr DomainId kDom = 1;
constexpr DomainId kOther = 2;
constexpr u64 kFrameCount = 64;

// Frame map of the fixture.
constexpr u64 kMmio = 2;          // Unusable (not RAM)
constexpr u64 kXenFrame = 8;      // hypervisor-owned
constexpr u64 kFreeFrame = 9;     // free
constexpr u64 kBootModule = 10;   // boot module
constexpr u64 kFirstOwn = 16;     // 16..47: domain 1
constexpr u64 kFirstForeign = 48;  // 48..55: domain 2
constexpr u64 kBeyond = 1000;     // no such frame

// Entry flags, as guests write them.
constexpr u64 kP = 1, kRw = 2, kUs = 4, kPwt = 8, kPcd = 0x10, kA = 0x20, kD = 0x40, kPs = 0x80, kG = 0x100;
constexpr u64 kNx = u64{1} << 63;
constexpr u64 kTable = kP | kRw | kUs | kA | kD;  // 0x67
constexpr u64 kData = kP | kRw | kUs | kA | kD;   // 0x67
constexpr u64 kRo = kP | kUs | kA | kD;           // 0x65

constexpr u64 pte(u64 mfn, u64 flags) { return (mfn << kPageShift) | flags; }

// Everything the engine keeps about one frame, for "nothing changed" comparisons.
struct FrameState {
    u8 page_type;
    u32 type_count;
    u32 ref_count;
    bool operator==(const FrameState&) const = default;
};

struct PageTypeTest : ::testing::Test {
    FakePvFrames mem{kFrameCount};
    PageTypeEngine engine{mem.env(), kDom};

    PageTypeTest() {
        for (u64 mfn = kFirstOwn; mfn < kFirstForeign; ++mfn) mem.give(Mfn(mfn), kDom);
        for (u64 mfn = kFirstForeign; mfn < kFirstForeign + 8; ++mfn) mem.give(Mfn(mfn), kOther);
        mem.set_owner(Mfn(kXenFrame), mm::FrameOwner::Hypervisor, mm::FrameClass::Global, 0);
        mem.set_owner(Mfn(kFreeFrame), mm::FrameOwner::Free, mm::FrameClass::Global, 0);
        mem.set_owner(Mfn(kBootModule), mm::FrameOwner::BootModule, mm::FrameClass::Global, 0);
    }

    mm::FrameInfo& info(u64 mfn) { return mem.info(Mfn(mfn)); }
    u64& at(u64 mfn, unsigned index) { return mem.word(Mfn(mfn), index); }
    PageType type(u64 mfn) { return current_type(info(mfn)); }
    u32 types(u64 mfn) { return type_count(info(mfn)); }
    u32 refs(u64 mfn) { return info(mfn).ref_count; }

    std::vector<FrameState> state() {
        std::vector<FrameState> all;
        for (u64 mfn = 0; mfn < kFrameCount; ++mfn) {
            const mm::FrameInfo& frame = info(mfn);
            // The stored type of a frame without type references is only a flush hint.
            const u8 visible = type_count(frame) != 0 ? frame.page_type : static_cast<u8>(frame.page_type & 0x80);
            all.push_back({visible, frame.type_count, frame.ref_count});
        }
        return all;
    }

    // L4 20 -> L3 21 -> L2 22 -> L1 23 -> data 24 (RW), all through entry 0 (VA 0).
    void build_chain() {
        at(20, 0) = pte(21, kTable);
        at(21, 0) = pte(22, kTable);
        at(22, 0) = pte(23, kTable);
        at(23, 0) = pte(24, kData);
    }
};

Status error_of(const Result<void>& result) { return result.ok() ? Status::Ok : result.error(); }

// --- pin / unpin ------------------------------------------------------------------------------

// Pinning an empty frame as an L1 takes one general and one type reference; unpin returns both.
TEST_F(PageTypeTest, PinAndUnpinEmptyL1) {
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    EXPECT_EQ(type(30), PageType::L1);
    EXPECT_EQ(types(30), 1u);
    EXPECT_EQ(refs(30), 1u);
    EXPECT_TRUE(is_pinned(info(30)));
    ASSERT_TRUE(engine.unpin(Mfn(30)).ok());
    EXPECT_EQ(type(30), PageType::None);
    EXPECT_EQ(refs(30), 0u);
    EXPECT_FALSE(is_pinned(info(30)));
}

// Every level can be pinned on its own and unpinned again.
TEST_F(PageTypeTest, PinUnpinEveryLevel) {
    for (PageType level : {PageType::L1, PageType::L2, PageType::L3, PageType::L4}) {
        ASSERT_TRUE(engine.pin(Mfn(31), level).ok()) << static_cast<int>(level);
        EXPECT_EQ(type(31), level);
        ASSERT_TRUE(engine.unpin(Mfn(31)).ok());
        EXPECT_EQ(types(31), 0u);
        EXPECT_EQ(refs(31), 0u);
    }
}

// A second pin is -EINVAL, and so is unpinning a frame that is not pinned. [pv-abi.md §5.1]
TEST_F(PageTypeTest, PinTwiceAndUnpinUnpinnedFail) {
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L2).ok());
    const auto before = state();
    EXPECT_EQ(error_of(engine.pin(Mfn(30), PageType::L2)), Status::InvalidArgument);
    EXPECT_EQ(error_of(engine.pin(Mfn(30), PageType::L1)), Status::InvalidArgument);
    EXPECT_EQ(state(), before);
    EXPECT_EQ(error_of(engine.unpin(Mfn(31))), Status::InvalidArgument);
    EXPECT_TRUE(engine.unpin(Mfn(30)).ok());
    EXPECT_EQ(error_of(engine.unpin(Mfn(30))), Status::InvalidArgument);
}

// Only page-table levels can be pinned, and only frames of the calling domain.
TEST_F(PageTypeTest, PinRefusesBadLevelsAndForeignFrames) {
    const auto before = state();
    for (PageType level : {PageType::None, PageType::SegDesc, PageType::Writable})
        EXPECT_EQ(error_of(engine.pin(Mfn(30), level)), Status::InvalidArgument);
    for (u64 mfn : {kMmio, kXenFrame, kFreeFrame, kBootModule, kFirstForeign, kBeyond}) {
        EXPECT_EQ(error_of(engine.pin(Mfn(mfn), PageType::L1)), Status::InvalidArgument) << mfn;
        EXPECT_EQ(error_of(engine.unpin(Mfn(mfn))), Status::InvalidArgument) << mfn;
    }
    EXPECT_EQ(state(), before);
}

// The other domain's engine cannot unpin (or touch) this domain's pinned table.
TEST_F(PageTypeTest, OtherDomainCannotUnpin) {
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    PageTypeEngine other{mem.env(), kOther};
    EXPECT_EQ(error_of(other.unpin(Mfn(30))), Status::InvalidArgument);
    EXPECT_EQ(error_of(other.update_entry(Mfn(30), 0, pte(kFirstForeign, kData))), Status::InvalidArgument);
    EXPECT_TRUE(is_pinned(info(30)));
    EXPECT_EQ(at(30, 0), 0u);
}

// Pinning an L4 validates the whole tree below it, taking exactly one reference per entry.
TEST_F(PageTypeTest, PinL4ValidatesRecursively) {
    build_chain();
    ASSERT_TRUE(engine.pin(Mfn(20), PageType::L4).ok());
    EXPECT_EQ(type(20), PageType::L4);
    EXPECT_EQ(type(21), PageType::L3);
    EXPECT_EQ(type(22), PageType::L2);
    EXPECT_EQ(type(23), PageType::L1);
    EXPECT_EQ(type(24), PageType::Writable);
    for (u64 mfn = 20; mfn <= 24; ++mfn) {
        EXPECT_EQ(types(mfn), 1u) << mfn;
        EXPECT_EQ(refs(mfn), 1u) << mfn;
    }
    ASSERT_TRUE(engine.unpin(Mfn(20)).ok());
    for (u64 mfn = 20; mfn <= 24; ++mfn) {
        EXPECT_EQ(types(mfn), 0u) << mfn;
        EXPECT_EQ(refs(mfn), 0u) << mfn;
    }
}

// A shared lower table is validated once and counted once per referencing entry.
TEST_F(PageTypeTest, SharedTableCountsEveryReference) {
    at(22, 0) = pte(23, kTable);
    at(22, 1) = pte(23, kTable);
    at(25, 7) = pte(23, kTable);
    at(23, 0) = pte(24, kData);
    ASSERT_TRUE(engine.pin(Mfn(22), PageType::L2).ok());
    ASSERT_TRUE(engine.pin(Mfn(25), PageType::L2).ok());
    EXPECT_EQ(types(23), 3u);
    EXPECT_EQ(refs(23), 3u);
    EXPECT_EQ(types(24), 1u) << "validated once";
    ASSERT_TRUE(engine.unpin(Mfn(22)).ok());
    EXPECT_EQ(types(23), 1u);
    EXPECT_EQ(type(24), PageType::Writable);
    ASSERT_TRUE(engine.unpin(Mfn(25)).ok());
    EXPECT_EQ(types(24), 0u);
    EXPECT_EQ(refs(24), 0u);
}

// --- what L1 entries may map ----------------------------------------------------------------

// A read-only mapping takes a general reference only; a writable one also the writable type.
TEST_F(PageTypeTest, L1MappingsTakeTheRightReferences) {
    at(30, 0) = pte(40, kRo);
    at(30, 1) = pte(41, kData);
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    EXPECT_EQ(refs(40), 1u);
    EXPECT_EQ(types(40), 0u);
    EXPECT_EQ(refs(41), 1u);
    EXPECT_EQ(type(41), PageType::Writable);
    EXPECT_EQ(types(41), 1u);
}

// A page-table frame of any level can never be mapped writable (-EBUSY); read-only is fine.
TEST_F(PageTypeTest, WritableMappingOfPageTableRefused) {
    for (PageType level : {PageType::L1, PageType::L2, PageType::L3, PageType::L4}) {
        ASSERT_TRUE(engine.pin(Mfn(40), level).ok());
        ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
        const auto before = state();
        EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 5, pte(40, kData))), Status::Busy);
        EXPECT_EQ(at(30, 5), 0u);
        EXPECT_EQ(state(), before);
        EXPECT_TRUE(engine.update_entry(Mfn(30), 5, pte(40, kRo)).ok());
        EXPECT_EQ(refs(40), 2u);
        ASSERT_TRUE(engine.update_entry(Mfn(30), 5, 0).ok());
        ASSERT_TRUE(engine.unpin(Mfn(30)).ok());
        ASSERT_TRUE(engine.unpin(Mfn(40)).ok());
    }
}

// An L1 cannot map itself writable, neither in validation nor by update.
TEST_F(PageTypeTest, L1CannotMapItselfWritable) {
    at(30, 0) = pte(30, kData);
    EXPECT_EQ(error_of(engine.pin(Mfn(30), PageType::L1)), Status::Busy);
    EXPECT_EQ(refs(30), 0u);
    at(30, 0) = pte(30, kRo);
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    EXPECT_EQ(refs(30), 2u);
    EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 1, pte(30, kData))), Status::Busy);
}

// Frames of another domain, of the hypervisor, free frames and boot modules: -EBUSY.
// Not RAM (Unusable, or beyond the frame table): -EPERM (no I/O memory permission).
TEST_F(PageTypeTest, L1RefusesFramesTheDomainDoesNotOwn) {
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    const auto before = state();
    for (u64 mfn : {kFirstForeign, kXenFrame, kFreeFrame, kBootModule})
        for (u64 flags : {kRo, kData})
            EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 0, pte(mfn, flags))), Status::Busy) << mfn;
    for (u64 mfn : {kMmio, kBeyond, u64{0xff'ffff'fffe}})
        EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 0, pte(mfn, kRo))), Status::PermissionDenied) << mfn;
    // All-ones is Xen's INVALID_MFN: a bad argument rather than a device frame.
    EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 0, pte(0xff'ffff'ffff, kRo))), Status::InvalidArgument);
    EXPECT_EQ(state(), before);
    EXPECT_EQ(at(30, 0), 0u);
    at(31, 3) = pte(kFirstForeign, kRo);
    EXPECT_EQ(error_of(engine.pin(Mfn(31), PageType::L1)), Status::Busy);
    EXPECT_EQ(state(), before);
}

// A frame mapped writable anywhere cannot become a page table (xsa-224/234: PIN_L1 = -EINVAL);
// after remapping it read-only it can.
TEST_F(PageTypeTest, WritablyMappedFrameCannotBecomeTable) {
    at(30, 0) = pte(40, kData);
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    const auto before = state();
    for (PageType level : {PageType::L1, PageType::L2, PageType::L3, PageType::L4})
        EXPECT_EQ(error_of(engine.pin(Mfn(40), level)), Status::InvalidArgument);
    EXPECT_EQ(error_of(engine.get_page_and_type(Mfn(40), PageType::L4)), Status::InvalidArgument);
    ASSERT_TRUE(engine.pin(Mfn(31), PageType::L2).ok());
    EXPECT_EQ(error_of(engine.update_entry(Mfn(31), 0, pte(40, kTable))), Status::InvalidArgument);
    ASSERT_TRUE(engine.unpin(Mfn(31)).ok());
    EXPECT_EQ(state(), before);
    ASSERT_TRUE(engine.update_entry(Mfn(30), 0, pte(40, kRo)).ok());
    EXPECT_TRUE(engine.pin(Mfn(40), PageType::L1).ok());
}

// A frame that was mapped writable has its stale translations flushed before it becomes a
// table; a frame re-validated with the type it had needs no flush.
TEST_F(PageTypeTest, TypeChangeFlushesStaleTranslations) {
    at(30, 0) = pte(40, kData);
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    ASSERT_TRUE(engine.update_entry(Mfn(30), 0, 0).ok());
    mem.flushes.clear();
    ASSERT_TRUE(engine.pin(Mfn(40), PageType::L1).ok());
    ASSERT_EQ(mem.flushes.size(), 1u);
    EXPECT_EQ(mem.flushes[0], Mfn(40));
    ASSERT_TRUE(engine.unpin(Mfn(40)).ok());
    ASSERT_TRUE(engine.pin(Mfn(40), PageType::L1).ok());
    EXPECT_EQ(mem.flushes.size(), 1u) << "same type again: no flush";
    ASSERT_TRUE(engine.unpin(Mfn(40)).ok());
    ASSERT_TRUE(engine.update_entry(Mfn(30), 0, pte(40, kData)).ok());
    EXPECT_EQ(mem.flushes.size(), 2u) << "a former L1 becoming writable is flushed too";
    ASSERT_TRUE(engine.pin(Mfn(41), PageType::L2).ok());
    ASSERT_TRUE(engine.unpin(Mfn(41)).ok());
    ASSERT_TRUE(engine.update_entry(Mfn(41), 0, 0x1234).ok());
    EXPECT_EQ(mem.flushes.size(), 3u) << "a store into a former table flushes it first";
}

// PWT/PCD/PAT in L1 entries need cache privilege; G is allowed in L1 entries.
TEST_F(PageTypeTest, L1CacheBitsNeedPrivilege) {
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    for (u64 bit : {kPwt, kPcd, kPs})
        EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 0, pte(40, kData | bit))), Status::InvalidArgument);
    EXPECT_TRUE(engine.update_entry(Mfn(30), 0, pte(40, kData | kG | kNx | (u64{0x7ff} << 52) | 0xe00)).ok());
    PageTypeEngine privileged{mem.env(), kDom, CacheAttrs::Allowed};
    EXPECT_TRUE(privileged.update_entry(Mfn(30), 1, pte(41, kData | kPwt | kPcd | kPs)).ok());
}

// Not-present entries are never checked and hold nothing.
TEST_F(PageTypeTest, NotPresentEntriesAreIgnored) {
    at(30, 0) = pte(kFirstForeign, kRw);
    at(30, 1) = 0xffff'ffff'ffff'fffe;
    at(31, 0) = pte(kXenFrame, kPs | kRw);
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    ASSERT_TRUE(engine.pin(Mfn(31), PageType::L2).ok());
    EXPECT_EQ(at(30, 1), 0xffff'ffff'ffff'fffeu);
    EXPECT_TRUE(engine.update_entry(Mfn(30), 2, 0x7ff0'0000'0000'0000).ok());
    EXPECT_EQ(refs(kFirstForeign), 0u);
}

// Present entries get US (the guest kernel runs in ring 3); supervisor L1 entries are tagged
// with bit 52, L4 entries get A. [pv-abi.md §1.6]
TEST_F(PageTypeTest, EntriesAreAdjusted) {
    build_chain();
    at(20, 0) = pte(21, kP | kRw);
    at(22, 0) = pte(23, kP | kRw);
    at(23, 0) = pte(24, kP | kRw);
    at(23, 1) = pte(25, kP | kUs);
    ASSERT_TRUE(engine.pin(Mfn(20), PageType::L4).ok());
    EXPECT_EQ(at(20, 0), pte(21, kP | kRw | kUs | kA));
    EXPECT_EQ(at(22, 0), pte(23, kP | kRw | kUs));
    EXPECT_EQ(at(23, 0), pte(24, kP | kRw | kUs) | kGuestKernelBit);
    EXPECT_EQ(at(23, 1), pte(25, kP | kUs));
    ASSERT_TRUE(engine.update_entry(Mfn(23), 2, pte(26, kP)).ok());
    EXPECT_EQ(at(23, 2), pte(26, kP | kUs) | kGuestKernelBit);
    ASSERT_TRUE(engine.update_entry(Mfn(23), 3, pte(27, kP | kUs | kG)).ok());
    EXPECT_EQ(at(23, 3), pte(27, kP | kUs)) << "guest translations are never global";
}

// --- L2 / L3 / L4 entries -------------------------------------------------------------------

// Superpages and PWT/PCD/G are refused in L2/L3/L4 entries.
TEST_F(PageTypeTest, TableEntriesRefuseDisallowedBits) {
    for (PageType level : {PageType::L2, PageType::L3, PageType::L4}) {
        ASSERT_TRUE(engine.pin(Mfn(30), level).ok());
        const auto before = state();
        for (u64 bit : {kPs, kPwt, kPcd, kG})
            EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 0, pte(31, kTable | bit))), Status::InvalidArgument);
        EXPECT_EQ(state(), before);
        ASSERT_TRUE(engine.unpin(Mfn(30)).ok());
        at(30, 3) = pte(31, kTable | kPs);
        EXPECT_EQ(error_of(engine.pin(Mfn(30), level)), Status::InvalidArgument);
        at(30, 3) = 0;
    }
}

// Each level must point at the next lower level: an L2 entry at a frame that is an L2 (and not
// a read-only linear entry) fails, as does one at a foreign, hypervisor or absent frame.
TEST_F(PageTypeTest, TableEntriesNeedTheNextLevel) {
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L2).ok());
    ASSERT_TRUE(engine.pin(Mfn(31), PageType::L2).ok());
    ASSERT_TRUE(engine.pin(Mfn(32), PageType::L3).ok());
    const auto before = state();
    EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 0, pte(31, kTable))), Status::InvalidArgument);
    EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 0, pte(32, kRo))), Status::InvalidArgument);
    for (u64 mfn : {kFirstForeign, kXenFrame, kFreeFrame, kMmio, kBeyond})
        EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 0, pte(mfn, kTable))), Status::InvalidArgument) << mfn;
    EXPECT_EQ(state(), before);
    EXPECT_TRUE(engine.update_entry(Mfn(32), 0, pte(30, kTable)).ok());
    EXPECT_EQ(types(30), 2u);
}

// The guest can never write L4 slots 256-271, whatever the value; slots around them are its own.
TEST_F(PageTypeTest, GuestCannotWriteHypervisorSlots) {
    ASSERT_TRUE(engine.pin(Mfn(20), PageType::L4).ok());
    ASSERT_TRUE(engine.pin(Mfn(21), PageType::L3).ok());
    for (unsigned slot = 256; slot < 272; ++slot) {
        const u64 before = at(20, slot);
        EXPECT_EQ(error_of(engine.update_entry(Mfn(20), slot, 0)), Status::InvalidArgument) << slot;
        EXPECT_EQ(error_of(engine.update_entry(Mfn(20), slot, pte(21, kRo))), Status::InvalidArgument) << slot;
        EXPECT_EQ(at(20, slot), before);
    }
    EXPECT_TRUE(engine.update_entry(Mfn(20), 255, pte(21, kTable)).ok());
    EXPECT_TRUE(engine.update_entry(Mfn(20), 272, pte(21, kTable)).ok());
    EXPECT_EQ(types(21), 3u);
}

// Validation ignores whatever the guest left in slots 256-271 and writes the hypervisor's
// entries there; devalidation takes them out again.
TEST_F(PageTypeTest, L4ValidationInstallsHypervisorSlots) {
    at(20, 256) = pte(kFirstForeign, kTable | kPs);
    at(20, 258) = pte(kXenFrame, kData);
    ASSERT_TRUE(engine.pin(Mfn(20), PageType::L4).ok());
    for (unsigned slot = 256; slot < 272; ++slot)
        EXPECT_EQ(at(20, slot), FakePvFrames::hypervisor_entry(Mfn(20), slot));
    EXPECT_EQ(at(20, 258) & ~u64{0xfff} & ~kNx, Mfn(20).maddr().raw()) << "slot 258: the L4's own linear map";
    EXPECT_EQ(refs(kFirstForeign) + refs(kXenFrame) + refs(20), 1u) << "only the pin";
    ASSERT_TRUE(engine.unpin(Mfn(20)).ok());
    for (unsigned slot = 256; slot < 272; ++slot) EXPECT_EQ(at(20, slot), 0u);
}

// A failure deep down the tree (the last L1 entry of the second L1) rolls back everything:
// every count of every frame is exactly as before, and the error of the deepest rule is
// returned.
TEST_F(PageTypeTest, DeepValidationFailureRollsBackEverything) {
    build_chain();
    at(20, 300) = pte(25, kTable);  // a second L3 ...
    at(25, 1) = pte(22, kTable);    // ... sharing the L2
    at(25, 2) = pte(26, kTable);    // and a second L2
    at(26, 9) = pte(27, kTable);
    for (unsigned i = 0; i < 511; ++i) at(27, i) = pte(28 + i % 8, i % 2 ? kRo : kData);
    at(27, 511) = pte(kFirstForeign, kRo);  // the only bad entry
    ASSERT_TRUE(engine.pin(Mfn(40), PageType::L1).ok());  // unrelated state that must survive
    const auto before = state();
    EXPECT_EQ(error_of(engine.pin(Mfn(20), PageType::L4)), Status::Busy);
    EXPECT_EQ(state(), before);
    EXPECT_EQ(at(20, 258), 0u) << "no hypervisor slots in an L4 that failed validation";
    at(27, 511) = 0;
    ASSERT_TRUE(engine.pin(Mfn(20), PageType::L4).ok());
    EXPECT_EQ(types(22), 2u);
    EXPECT_EQ(refs(28), 64u);  // entries 0, 8, ... 504: all even, so RW
    EXPECT_EQ(types(28), 64u);
    EXPECT_EQ(refs(29), 64u);  // entries 1, 9, ... 505: all odd, so read-only
    EXPECT_EQ(types(29), 0u);
    ASSERT_TRUE(engine.unpin(Mfn(20)).ok());
    EXPECT_EQ(state(), before);
}

// A failure in the middle of one table, after sibling subtrees were validated, rolls back too.
TEST_F(PageTypeTest, MidTableFailureRollsBackSiblings) {
    at(22, 0) = pte(23, kTable);
    at(22, 1) = pte(24, kTable);
    at(22, 2) = pte(25, kTable | kPwt);  // refused in an L2
    at(23, 0) = pte(26, kData);
    at(24, 0) = pte(26, kData);
    const auto before = state();
    EXPECT_EQ(error_of(engine.pin(Mfn(22), PageType::L2)), Status::InvalidArgument);
    EXPECT_EQ(state(), before);
    EXPECT_EQ(at(22, 2), pte(25, kTable | kPwt)) << "contents of a failed table are untouched";
}

// mmu_update of an L4 slot pointing at a fresh L3 -> L2 -> L1 chain validates it (xsa-7), and
// replacing the entry drops the whole subtree again.
TEST_F(PageTypeTest, TableUpdateValidatesAndDropsSubtrees) {
    ASSERT_TRUE(engine.pin(Mfn(20), PageType::L4).ok());
    at(21, 0) = pte(22, kTable);
    at(22, 0) = pte(23, kTable);
    at(23, 0) = pte(24, kData);
    ASSERT_TRUE(engine.update_entry(Mfn(20), 255, pte(21, kTable)).ok());
    EXPECT_EQ(type(23), PageType::L1);
    EXPECT_EQ(type(24), PageType::Writable);
    ASSERT_TRUE(engine.update_entry(Mfn(20), 255, 0).ok());
    for (u64 mfn = 21; mfn <= 24; ++mfn) {
        EXPECT_EQ(types(mfn), 0u) << mfn;
        EXPECT_EQ(refs(mfn), 0u) << mfn;
    }
}

// --- linear page tables [pv-abi.md §5.5] -----------------------------------------------------

// xsa-182: a read-only L4 self-map is allowed and holds nothing; RW is refused, also when only
// RW changes (the fast path does not cover RW).
TEST_F(PageTypeTest, LinearSelfMap) {
    ASSERT_TRUE(engine.pin(Mfn(20), PageType::L4).ok());
    const auto before = state();
    EXPECT_EQ(error_of(engine.update_entry(Mfn(20), 100, pte(20, kTable))), Status::InvalidArgument);
    ASSERT_TRUE(engine.update_entry(Mfn(20), 100, pte(20, kRo)).ok());
    EXPECT_EQ(state(), before);
    EXPECT_EQ(error_of(engine.update_entry(Mfn(20), 100, pte(20, kRo | kRw))), Status::InvalidArgument);
    EXPECT_TRUE(engine.update_entry(Mfn(20), 100, pte(20, kRo | kNx)).ok()) << "fast path";
    ASSERT_TRUE(engine.update_entry(Mfn(20), 100, 0).ok());
    EXPECT_EQ(state(), before);
    at(22, 5) = pte(22, kRo);
    EXPECT_TRUE(engine.pin(Mfn(22), PageType::L2).ok()) << "self-map found during validation";
    EXPECT_EQ(refs(22), 1u);
}

// A read-only linear entry to another validated table of the same level takes a type
// reference on it; chains are refused both ways; unvalidated targets are refused.
TEST_F(PageTypeTest, LinearEntriesToOtherTables) {
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L2).ok());
    ASSERT_TRUE(engine.pin(Mfn(31), PageType::L2).ok());
    ASSERT_TRUE(engine.pin(Mfn(32), PageType::L2).ok());
    EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 0, pte(33, kRo))), Status::Ok) << "33 becomes an L1";
    ASSERT_TRUE(engine.update_entry(Mfn(30), 1, pte(31, kRo)).ok());
    EXPECT_EQ(types(31), 2u);
    EXPECT_EQ(linear_count(info(30)), 1);
    EXPECT_EQ(linear_count(info(31)), -1);
    const auto before = state();
    EXPECT_EQ(error_of(engine.update_entry(Mfn(31), 0, pte(32, kRo))), Status::InvalidArgument) << "target holds";
    EXPECT_EQ(error_of(engine.update_entry(Mfn(32), 0, pte(30, kRo))), Status::InvalidArgument) << "holder targeted";
    EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 2, pte(31, kTable))), Status::InvalidArgument) << "RW";
    EXPECT_EQ(state(), before);
    ASSERT_TRUE(engine.unpin(Mfn(31)).ok());
    EXPECT_EQ(type(31), PageType::L2) << "still held by the linear entry";
    ASSERT_TRUE(engine.update_entry(Mfn(30), 1, 0).ok());
    EXPECT_EQ(types(31), 0u);
    EXPECT_EQ(linear_count(info(30)), 0);
    EXPECT_EQ(linear_count(info(31)), 0);
}

// Devalidating a table drops its linear entries too.
TEST_F(PageTypeTest, DevalidationDropsLinearEntries) {
    ASSERT_TRUE(engine.pin(Mfn(31), PageType::L3).ok());
    at(30, 0) = pte(31, kRo);
    at(30, 1) = pte(30, kRo);
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L3).ok());
    EXPECT_EQ(types(31), 2u);
    ASSERT_TRUE(engine.unpin(Mfn(30)).ok());
    EXPECT_EQ(types(31), 1u);
    EXPECT_EQ(linear_count(info(31)), 0);
    EXPECT_EQ(linear_count(info(30)), 0);
}

// --- mmu_update on other frame types --------------------------------------------------------

// Frames that are not page tables are plain data: the store is done without checks. Descriptor
// pages are refused; so are frames of other domains and bad indices.
TEST_F(PageTypeTest, UpdateOfDataFrames) {
    EXPECT_TRUE(engine.update_entry(Mfn(40), 7, pte(kXenFrame, kData)).ok());
    EXPECT_EQ(at(40, 7), pte(kXenFrame, kData));
    EXPECT_EQ(refs(kXenFrame), 0u);
    EXPECT_EQ(types(40), 0u);
    at(30, 0) = pte(41, kData);
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    EXPECT_TRUE(engine.update_entry(Mfn(41), 0, 0x1234).ok());
    EXPECT_EQ(types(41), 1u);
    ASSERT_TRUE(engine.get_page_and_type(Mfn(42), PageType::SegDesc).ok());
    EXPECT_EQ(error_of(engine.update_entry(Mfn(42), 0, 0)), Status::InvalidArgument);
    EXPECT_EQ(error_of(engine.update_entry(Mfn(kFirstForeign), 0, 0)), Status::InvalidArgument);
    EXPECT_EQ(error_of(engine.update_entry(Mfn(kBeyond), 0, 0)), Status::InvalidArgument);
    EXPECT_EQ(error_of(engine.update_entry(Mfn(40), 512, 0)), Status::InvalidArgument);
}

// MMU_PT_UPDATE_PRESERVE_AD keeps the A and D bits the entry has.
TEST_F(PageTypeTest, PreserveAd) {
    at(30, 0) = pte(40, kP | kUs | kA | kD);
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    ASSERT_TRUE(engine.update_entry(Mfn(30), 0, pte(41, kP | kUs), UpdateMode::PreserveAd).ok());
    EXPECT_EQ(at(30, 0), pte(41, kP | kUs | kA | kD));
    EXPECT_EQ(refs(40), 0u);
    EXPECT_EQ(refs(41), 1u);
}

// Changing only A/D/NX/G/AVAIL of a mapping keeps its references; changing RW re-checks.
TEST_F(PageTypeTest, FastPathKeepsReferences) {
    at(30, 0) = pte(40, kRo);
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    const auto before = state();
    ASSERT_TRUE(engine.update_entry(Mfn(30), 0, pte(40, kP | kNx | kG | 0x800)).ok());
    EXPECT_EQ(state(), before);
    ASSERT_TRUE(engine.update_entry(Mfn(30), 0, pte(40, kData)).ok());
    EXPECT_EQ(type(40), PageType::Writable);
    EXPECT_EQ(refs(40), 1u);
    ASSERT_TRUE(engine.update_entry(Mfn(30), 0, pte(40, kRo)).ok());
    EXPECT_EQ(types(40), 0u);
    EXPECT_EQ(refs(40), 1u);
}

// An update that leaves the entry as it is stores nothing (mmu_update then needs no TLB flush);
// a real change, fast path or not, is one store.
TEST_F(PageTypeTest, UnchangedEntryIsNotWritten) {
    at(30, 0) = pte(40, kRo);
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    const u64 stored = at(30, 0);  // as validation adjusted it
    const auto before = state();
    ASSERT_TRUE(engine.update_entry(Mfn(30), 0, stored).ok());
    EXPECT_EQ(engine.entry_writes(), 0u);
    EXPECT_EQ(at(30, 0), stored);
    EXPECT_EQ(state(), before);
    ASSERT_TRUE(engine.update_entry(Mfn(30), 0, pte(40, kP | kNx)).ok());
    EXPECT_EQ(engine.entry_writes(), 1u);
    ASSERT_TRUE(engine.update_entry(Mfn(30), 0, pte(40, kData)).ok());
    EXPECT_EQ(engine.entry_writes(), 2u);
}

// --- update_va_mapping ----------------------------------------------------------------------

// Walks the current L4 to the L1 mapping va and applies the L1 rules there.
TEST_F(PageTypeTest, UpdateVaMapping) {
    build_chain();
    ASSERT_TRUE(engine.pin(Mfn(20), PageType::L4).ok());
    const Vaddr va(0x5000);  // L1 index 5
    ASSERT_TRUE(engine.update_va_mapping(Mfn(20), va, pte(40, kData)).ok());
    EXPECT_EQ(at(23, 5), pte(40, kData));
    EXPECT_EQ(type(40), PageType::Writable);
    EXPECT_EQ(error_of(engine.update_va_mapping(Mfn(20), va, pte(20, kData))), Status::Busy);
    EXPECT_EQ(error_of(engine.update_va_mapping(Mfn(20), va, pte(kFirstForeign, kRo))), Status::Busy);
    ASSERT_TRUE(engine.update_va_mapping(Mfn(20), va, 0).ok());
    EXPECT_EQ(refs(40), 0u);
}

// Refused: non-canonical and hypervisor VAs, missing tables on the way, a root that is not a
// current L4 of the domain, and an "L1" that is really another level (reached through a
// linear entry). Nothing changes.
void expect_va_refusals(PageTypeTest& t, PageTypeEngine& engine) {
    const auto before = t.state();
    for (u64 va : {u64{1} << 63, u64{1} << 47, u64{0xffff'8000'0000'0000}, u64{0xffff'87ff'ffff'f000},
                   u64{0x0000'0080'0000'0000}, u64{0x4000'0000}, u64{0x20'0000}})
        EXPECT_EQ(error_of(engine.update_va_mapping(Mfn(20), Vaddr(va), pte(40, kRo))), Status::InvalidArgument)
            << std::hex << va;
    // L4[511] -> L4 (as L3), [0] -> L3 21 (as L2), [0] -> L2 22 (as "L1"): not an L1.
    EXPECT_EQ(error_of(engine.update_va_mapping(Mfn(20), Vaddr(0xffff'ff80'0000'0000), pte(40, kRo))),
              Status::InvalidArgument);
    // L4[511] -> L4 (as L3), [260] is a hypervisor slot: its tables are never read (the fake
    // aborts on a read of a frame beyond its table), the walk just fails.
    for (u64 slot : {260, 258}) {
        const Vaddr va(0xffff'ff80'0000'0000 | (slot << 30));
        EXPECT_EQ(error_of(engine.update_va_mapping(Mfn(20), va, pte(40, kRo))), Status::InvalidArgument) << slot;
    }
    EXPECT_EQ(error_of(engine.update_va_mapping(Mfn(21), Vaddr(0), pte(40, kRo))), Status::InvalidArgument);
    EXPECT_EQ(error_of(engine.update_va_mapping(Mfn(kBeyond), Vaddr(0), pte(40, kRo))), Status::InvalidArgument);
    EXPECT_EQ(t.state(), before);
    EXPECT_EQ(error_of(engine.update_va_mapping(Mfn(20), Vaddr(0xffff'8800'0000'0000), 0)), Status::InvalidArgument)
        << "a guest VA, but slot 272 has no tables";
}

TEST_F(PageTypeTest, UpdateVaMappingRefusals) {
    build_chain();
    at(20, 511) = pte(20, kRo);  // linear self-map: VA 0xffffff8000000000 + ... walks L4 as L3 ...
    ASSERT_TRUE(engine.pin(Mfn(20), PageType::L4).ok());
    expect_va_refusals(*this, engine);
}

// With `root` loaded, the walk and the old L1 entry are read through the linear tables (the
// fake's linear read aborts where the MMU would fault) and no frame is mapped; the results and
// refusals are the same. Another root takes the mapped path.
TEST_F(PageTypeTest, UpdateVaMappingThroughLoadedRoot) {
    build_chain();
    at(20, 511) = pte(20, kRo);
    ASSERT_TRUE(engine.pin(Mfn(20), PageType::L4).ok());
    mem.loaded_root = 20;
    PageTypeEngine loaded{mem.env(), kDom};
    mem.mapped_reads = 0;
    const Vaddr va(0x5000);
    ASSERT_TRUE(loaded.update_va_mapping(Mfn(20), va, pte(40, kData)).ok());
    EXPECT_EQ(at(23, 5), pte(40, kData));
    EXPECT_EQ(type(40), PageType::Writable);
    EXPECT_EQ(mem.linear_reads, 4u);
    ASSERT_TRUE(loaded.update_va_mapping(Mfn(20), va, pte(40, kData)).ok());
    EXPECT_EQ(loaded.entry_writes(), 1u) << "the same entry again is not written";
    EXPECT_EQ(refs(40), 1u);
    EXPECT_EQ(error_of(loaded.update_va_mapping(Mfn(20), va, pte(20, kData))), Status::Busy);
    EXPECT_EQ(mem.mapped_reads, 0u);
    expect_va_refusals(*this, loaded);
    EXPECT_EQ(mem.mapped_reads, 0u);
    ASSERT_TRUE(loaded.update_va_mapping(Mfn(20), va, 0).ok());
    EXPECT_EQ(refs(40), 0u);

    mem.loaded_root = 30;  // some other root is loaded: 20 is read by mapping its tables
    PageTypeEngine elsewhere{mem.env(), kDom};
    const unsigned linear = mem.linear_reads;
    ASSERT_TRUE(elsewhere.update_va_mapping(Mfn(20), va, pte(40, kRo)).ok());
    EXPECT_EQ(at(23, 5), pte(40, kRo));
    EXPECT_EQ(mem.linear_reads, linear);
    EXPECT_EQ(mem.mapped_reads, 4u);
}

// --- roots, descriptor pages, count limits, errno ------------------------------------------

// A root (NEW_BASEPTR) holds an L4 type reference like a pin does, without the pinned bit.
TEST_F(PageTypeTest, RootReference) {
    build_chain();
    ASSERT_TRUE(engine.get_page_and_type(Mfn(20), PageType::L4).ok());
    EXPECT_FALSE(is_pinned(info(20)));
    ASSERT_TRUE(engine.pin(Mfn(20), PageType::L4).ok());
    EXPECT_EQ(types(20), 2u);
    ASSERT_TRUE(engine.unpin(Mfn(20)).ok());
    EXPECT_EQ(type(23), PageType::L1) << "the root still holds the tree";
    engine.put_page_and_type(Mfn(20));
    EXPECT_EQ(types(23), 0u);
}

// Descriptor pages are validated by the environment and can never be mapped writable.
TEST_F(PageTypeTest, DescriptorPages) {
    mem.bad_descriptor_pages.insert(43);
    EXPECT_EQ(error_of(engine.get_page_and_type(Mfn(43), PageType::SegDesc)), Status::InvalidArgument);
    EXPECT_EQ(refs(43), 0u);
    ASSERT_TRUE(engine.get_page_and_type(Mfn(42), PageType::SegDesc).ok());
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 0, pte(42, kData))), Status::Busy);
    EXPECT_TRUE(engine.update_entry(Mfn(30), 0, pte(42, kRo)).ok());
    EXPECT_EQ(error_of(engine.pin(Mfn(42), PageType::L1)), Status::InvalidArgument);
    mem.offer_descriptor_check = false;
    PageTypeEngine unchecked{mem.env(), kDom};
    EXPECT_EQ(error_of(unchecked.get_page_and_type(Mfn(44), PageType::SegDesc)), Status::InvalidArgument);
}

// Counts never wrap: a general or type count at its limit refuses one more reference.
TEST_F(PageTypeTest, CountLimits) {
    ASSERT_TRUE(engine.pin(Mfn(30), PageType::L1).ok());
    info(40).ref_count = kMaxRefCount;
    const auto before = state();
    EXPECT_EQ(error_of(engine.get_page(Mfn(40))), Status::InvalidArgument);
    EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 0, pte(40, kRo))), Status::Busy);
    EXPECT_EQ(state(), before);
    info(40).ref_count = 0;
    at(41, 0) = 0;
    ASSERT_TRUE(engine.update_entry(Mfn(30), 0, pte(41, kData)).ok());
    info(41).type_count = kMaxTypeCount;
    EXPECT_EQ(error_of(engine.update_entry(Mfn(30), 1, pte(41, kData))), Status::Busy);
    EXPECT_EQ(info(41).type_count, kMaxTypeCount) << "no carry into the linear count";
    info(41).type_count = 1;
    ASSERT_TRUE(engine.pin(Mfn(31), PageType::L1).ok());
    info(31).type_count = kMaxTypeCount;
    ASSERT_TRUE(engine.pin(Mfn(32), PageType::L2).ok());
    EXPECT_EQ(error_of(engine.update_entry(Mfn(32), 0, pte(31, kTable))), Status::InvalidArgument);
    info(31).type_count = 1;
}

// get_page_type needs a general reference first; put undoes get exactly.
TEST_F(PageTypeTest, SeparateGeneralAndTypeReferences) {
    EXPECT_EQ(error_of(engine.get_page_type(Mfn(40), PageType::Writable)), Status::InvalidArgument);
    ASSERT_TRUE(engine.get_page(Mfn(40)).ok());
    ASSERT_TRUE(engine.get_page_type(Mfn(40), PageType::Writable).ok());
    EXPECT_EQ(error_of(engine.get_page_type(Mfn(40), PageType::L1)), Status::InvalidArgument);
    engine.put_page_type(Mfn(40));
    engine.put_page(Mfn(40));
    EXPECT_EQ(refs(40), 0u);
    EXPECT_EQ(error_of(engine.get_page(Mfn(kFirstForeign))), Status::InvalidArgument);
}

// Status -> Xen errno, the one mapping hypercalls use.
TEST(PageTypeErrno, StatusMapsToXenErrno) {
    EXPECT_EQ(to_errno(Status::Ok), 0);
    EXPECT_EQ(to_errno(Status::InvalidArgument), -22);
    EXPECT_EQ(to_errno(Status::Busy), -16);
    EXPECT_EQ(to_errno(Status::PermissionDenied), -1);
    EXPECT_EQ(to_errno(Status::NoMemory), -12);
    EXPECT_EQ(to_errno(Status::Unsupported), -95);
    EXPECT_EQ(to_errno(Status::AlreadyMapped), -17);
    EXPECT_EQ(to_errno(Status::NotMapped), -2);
}

}  // namespace
}  // namespace hv::pv
