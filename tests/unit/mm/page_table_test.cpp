// SPDX-License-Identifier: MIT
// Page table walker tests: the x86-64 entry format on its own, then the walker over fake machine
// memory with both the real format and a level-skewed fake one.
#include "hv/mm/page_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <concepts>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "arch/pte.hpp"
#include "support/fake_machine_memory.hpp"
#include "support/skewed_pte_format.hpp"

namespace {

using hv::GiB;
using hv::kPageSize;
using hv::Maddr;
using hv::MiB;
using hv::Mfn;
using hv::Status;
using hv::u64;
using hv::Vaddr;
using hv::arch::X86PteFormat;
using hv::mm::Attrs;
using hv::mm::Level;
using hv::mm::MemType;
using hv::mm::PageSize;
using hv::test::FakePagingEnv;
using hv::test::Invalidation;
using hv::test::SkewedPteFormat;

static_assert(hv::mm::PagingEnv<FakePagingEnv>);
static_assert(hv::mm::PteFormat<X86PteFormat>);
static_assert(hv::mm::PteFormat<SkewedPteFormat>);

constexpr u64 k4K = 4 * hv::KiB;
constexpr u64 k2M = 2 * MiB;
constexpr u64 k1G = GiB;
constexpr u64 k512G = 512 * GiB;
constexpr u64 kUpper = 0xffff'8300'0000'0000;  // PML4 slot 262: first directmap slot
constexpr u64 kTopPage = 0xffff'ffff'ffff'f000;  // last page of the address space

constexpr Attrs kRw{.write = true};
constexpr Attrs kRx{.exec = true};
constexpr Attrs kAll{.write = true, .user = true, .exec = true, .global = true, .mem_type = MemType::Uncached};

unsigned num(Level level) { return hv::mm::level_number(level); }

std::string attrs_text(const Attrs& attrs) {
    std::string text;
    text += attrs.write ? 'w' : '-';
    text += attrs.user ? 'u' : '-';
    text += attrs.exec ? 'x' : '-';
    text += attrs.global ? 'g' : '-';
    text += attrs.mem_type == MemType::Uncached ? " UC" : " WB";
    return text;
}

// The outcome of a map/unmap, printable. Ok outcomes have va 0 and level Pt.
struct Outcome {
    Status status;
    u64 va;
    Level level;
    bool operator==(const Outcome&) const = default;
};
std::ostream& operator<<(std::ostream& out, const Outcome& o) {
    out << hv::status_name(o.status);
    if (o.status != Status::Ok) out << " at va " << std::hex << "0x" << o.va << std::dec << " level " << num(o.level);
    return out;
}
Outcome outcome(const hv::Result<void, hv::mm::MapError>& result) {
    if (result.ok()) return Outcome{Status::Ok, 0, Level::Pt};
    return Outcome{result.error().status, result.error().va.raw(), result.error().level};
}
constexpr Outcome kOk{Status::Ok, 0, Level::Pt};

// One leaf as reported by for_each_leaf, printable.
struct Leaf {
    u64 va;
    u64 ma;
    Level level;
    Attrs attrs;
    bool operator==(const Leaf&) const = default;
};
std::ostream& operator<<(std::ostream& out, const Leaf& leaf) {
    return out << std::hex << "{va 0x" << leaf.va << " ma 0x" << leaf.ma << std::dec << " level " << num(leaf.level)
               << " " << attrs_text(leaf.attrs) << "}";
}

// Invalidations as text, so that a mismatch prints readably.
std::string text(const std::vector<Invalidation>& list) {
    std::ostringstream out;
    for (const auto& inv : list) out << std::hex << "{0x" << inv.va.raw() << std::dec << " L" << num(inv.level) << "} ";
    return out.str();
}

// ---------------------------------------------------------------------------------------------
// X86PteFormat on its own: pure bit logic. [SDM 3A §4.5]
// ---------------------------------------------------------------------------------------------

std::vector<Attrs> all_attrs() {
    std::vector<Attrs> list;
    for (unsigned bits = 0; bits < 32; ++bits) {
        list.push_back(Attrs{.write = (bits & 1) != 0,
                             .user = (bits & 2) != 0,
                             .exec = (bits & 4) != 0,
                             .global = (bits & 8) != 0,
                             .mem_type = (bits & 16) != 0 ? MemType::Uncached : MemType::WriteBack});
    }
    return list;
}

// Every attribute combination survives make_leaf -> attrs, with the address, at every leaf level.
TEST(X86PteFormat, LeafRoundTripsEveryAttrsAtEveryLevel) {
    const u64 ma_high = 0x000f'ffff'c000'0000;  // bit 51 set, 1 GiB aligned: fits every level
    for (Level level : {Level::Pt, Level::Pd, Level::Pdpt}) {
        for (const Attrs& attrs : all_attrs()) {
            for (u64 ma : {u64{0}, ma_high, u64{0x40000000} * 3}) {
                const u64 entry = X86PteFormat::make_leaf(level, Maddr(ma), attrs);
                SCOPED_TRACE(testing::Message() << "level " << num(level) << " " << attrs_text(attrs) << " ma " << ma);
                EXPECT_TRUE(X86PteFormat::present(level, entry));
                EXPECT_TRUE(X86PteFormat::is_leaf(level, entry));
                EXPECT_EQ(X86PteFormat::address(level, entry), Maddr(ma));
                EXPECT_EQ(attrs_text(X86PteFormat::attrs(level, entry)), attrs_text(attrs));
            }
        }
    }
}

// NX (bit 63) is set exactly when exec is not allowed.
TEST(X86PteFormat, ExecuteDisableIsBit63) {
    for (Level level : {Level::Pt, Level::Pd, Level::Pdpt}) {
        EXPECT_NE(X86PteFormat::make_leaf(level, Maddr(0), Attrs{}) & (u64{1} << 63), 0u);
        EXPECT_EQ(X86PteFormat::make_leaf(level, Maddr(0), kRx) & (u64{1} << 63), 0u);
    }
}

// R/W, U/S and G sit at bits 1, 2 and 8; A and D are preset; PS only in large leaves.
TEST(X86PteFormat, PermissionBitsAtSdmPositions) {
    const u64 base = 0x1000 | 1 | (1 << 5) | (1 << 6) | (u64{1} << 63);  // addr, P, A, D, XD
    EXPECT_EQ(X86PteFormat::make_leaf(Level::Pt, Maddr(0x1000), Attrs{}), base);
    EXPECT_EQ(X86PteFormat::make_leaf(Level::Pt, Maddr(0x1000), Attrs{.write = true}), base | (1 << 1));
    EXPECT_EQ(X86PteFormat::make_leaf(Level::Pt, Maddr(0x1000), Attrs{.user = true}), base | (1 << 2));
    EXPECT_EQ(X86PteFormat::make_leaf(Level::Pt, Maddr(0x1000), Attrs{.global = true}), base | (1 << 8));
    EXPECT_EQ(X86PteFormat::make_leaf(Level::Pd, Maddr(k2M), Attrs{}), (base & ~u64{0x1000}) | k2M | (1 << 7));
    EXPECT_EQ(X86PteFormat::make_leaf(Level::Pdpt, Maddr(k1G), Attrs{}), (base & ~u64{0x1000}) | k1G | (1 << 7));
}

// Uncached is PCD|PWT (PAT index 3), never the PAT bit itself.
TEST(X86PteFormat, UncachedIsPcdPwt) {
    const Attrs uc{.mem_type = MemType::Uncached};
    EXPECT_EQ(X86PteFormat::make_leaf(Level::Pt, Maddr(0), uc) & 0x1f8, u64{0x18} | 0x60);  // PWT, PCD, A, D
    EXPECT_EQ(X86PteFormat::make_leaf(Level::Pd, Maddr(0), uc) & 0x1018, u64{0x18});         // no PAT (bit 12)
    EXPECT_EQ(X86PteFormat::make_leaf(Level::Pt, Maddr(0), Attrs{}) & 0x18, 0u);
}

// In large pages bit 12 is PAT, not address; in a 4 KiB PTE bit 7 is PAT, not PS.
TEST(X86PteFormat, LargePagePatBitIsNotAddress) {
    const u64 pd_leaf = X86PteFormat::make_leaf(Level::Pd, Maddr(6 * MiB), Attrs{}) | (u64{1} << 12);
    EXPECT_EQ(X86PteFormat::address(Level::Pd, pd_leaf), Maddr(6 * MiB));
    EXPECT_EQ(X86PteFormat::attrs(Level::Pd, pd_leaf).mem_type, MemType::Uncached);  // PAT index 4
    const u64 pdpt_leaf = X86PteFormat::make_leaf(Level::Pdpt, Maddr(3 * k1G), Attrs{}) | (u64{1} << 12);
    EXPECT_EQ(X86PteFormat::address(Level::Pdpt, pdpt_leaf), Maddr(3 * k1G));
    const u64 pte = X86PteFormat::make_leaf(Level::Pt, Maddr(0x5000), Attrs{}) | (u64{1} << 7);
    EXPECT_TRUE(X86PteFormat::is_leaf(Level::Pt, pte));
    EXPECT_EQ(X86PteFormat::address(Level::Pt, pte), Maddr(0x5000));
    EXPECT_EQ(X86PteFormat::attrs(Level::Pt, pte).mem_type, MemType::Uncached);
    // A table entry keeps bit 12 as an address bit.
    const u64 table = X86PteFormat::make_table(Level::Pd, Mfn(0x1001));
    EXPECT_EQ(X86PteFormat::address(Level::Pd, table), Maddr(0x1001000));
    EXPECT_EQ(X86PteFormat::attrs(Level::Pd, table).mem_type, MemType::WriteBack);
}

// Table entries are P|RW|US|A with the frame and no XD/PS, so the leaf alone decides rights.
TEST(X86PteFormat, TableEntriesGrantEverything) {
    for (Level level : {Level::Pd, Level::Pdpt, Level::Pml4}) {
        const u64 entry = X86PteFormat::make_table(level, Mfn(0xff'ffff'ffff));
        EXPECT_EQ(entry, u64{0x000f'ffff'ffff'f000} | 0x27);
        EXPECT_TRUE(X86PteFormat::present(level, entry));
        EXPECT_FALSE(X86PteFormat::is_leaf(level, entry));
        EXPECT_EQ(X86PteFormat::address(level, entry), Maddr(0x000f'ffff'ffff'f000));
    }
}

// PTEs are always leaves, PML4Es never, whatever bit 7 says; zero is not present anywhere.
TEST(X86PteFormat, LeafnessDependsOnLevel) {
    EXPECT_TRUE(X86PteFormat::is_leaf(Level::Pt, 0x1001));
    EXPECT_FALSE(X86PteFormat::is_leaf(Level::Pml4, 0x1081));
    EXPECT_TRUE(X86PteFormat::is_leaf(Level::Pd, 0x1081));
    EXPECT_FALSE(X86PteFormat::is_leaf(Level::Pd, 0x1001));
    for (Level level : {Level::Pt, Level::Pd, Level::Pdpt, Level::Pml4}) EXPECT_FALSE(X86PteFormat::present(level, 0));
}

// Bits above 51 (XD, ignored, protection keys) never leak into the address.
TEST(X86PteFormat, AddressIgnoresHighBits) {
    const u64 entry = X86PteFormat::make_leaf(Level::Pt, Maddr(0x1234'5000), Attrs{}) | (u64{0x7ff} << 52);
    EXPECT_EQ(X86PteFormat::address(Level::Pt, entry), Maddr(0x1234'5000));
}

// The skewed fake round-trips too, and decoding one level's entry at another level panics.
TEST(SkewedPteFormatDeathTest, RoundTripsAndCatchesLevelMixups) {
    for (Level level : {Level::Pt, Level::Pd, Level::Pdpt}) {
        for (const Attrs& attrs : all_attrs()) {
            const u64 entry = SkewedPteFormat::make_leaf(level, Maddr(5 * k1G), attrs);
            EXPECT_TRUE(SkewedPteFormat::present(level, entry) && SkewedPteFormat::is_leaf(level, entry));
            EXPECT_EQ(SkewedPteFormat::address(level, entry), Maddr(5 * k1G));
            EXPECT_EQ(attrs_text(SkewedPteFormat::attrs(level, entry)), attrs_text(attrs));
        }
    }
    const u64 table = SkewedPteFormat::make_table(Level::Pdpt, Mfn(0x1234));
    EXPECT_FALSE(SkewedPteFormat::is_leaf(Level::Pdpt, table));
    EXPECT_DEATH((void)SkewedPteFormat::address(Level::Pd, table), "wrong level");
    EXPECT_DEATH((void)SkewedPteFormat::present(Level::Pml4, table), "wrong level");
}

// The fake machine memory refuses unknown frames loudly, listing the known ones.
TEST(PageTableFakeMemoryDeathTest, UnknownMfnAborts) {
    FakePagingEnv env;
    const Mfn known = env.alloc_table().value();
    EXPECT_EQ(known, Mfn(hv::test::FakeMachineMemory::kFirstMfn));
    EXPECT_DEATH((void)env.table(Mfn(0)), "unknown mfn 0; known mfns: 0x1000");
    env.free_table(known);
    EXPECT_DEATH((void)env.table(known), "unknown mfn 0x1000");
}

// ---------------------------------------------------------------------------------------------
// The walker, for both formats.
// ---------------------------------------------------------------------------------------------

template <class Format>
class PageTableTest : public testing::Test {
  protected:
    using Table = hv::mm::PageTable<Format, FakePagingEnv>;

    PageTableTest() : root_(env_.alloc_table().value()), pt_(env_, root_) {}

    Outcome map(u64 va, u64 ma, u64 size, Attrs attrs, PageSize granule) {
        return outcome(pt_.map(Vaddr(va), Maddr(ma), size, attrs, granule));
    }
    Outcome unmap(u64 va, u64 size) { return outcome(pt_.unmap(Vaddr(va), size)); }

    // "va -> ma at level, attrs", or "unmapped".
    std::string lookup(u64 va) const {
        const auto translation = pt_.query(Vaddr(va));
        if (!translation) return "unmapped";
        const auto& t = translation.value();
        std::ostringstream text;
        text << std::hex << "0x" << t.maddr.raw() << std::dec << " L" << num(t.level) << " " << attrs_text(t.attrs);
        return text.str();
    }
    static std::string expect(u64 ma, Level level, Attrs attrs) {
        std::ostringstream text;
        text << std::hex << "0x" << ma << std::dec << " L" << num(level) << " " << attrs_text(attrs);
        return text.str();
    }

    std::vector<Leaf> leaves() const {
        std::vector<Leaf> list;
        pt_.for_each_leaf([&](Vaddr va, Maddr ma, Level level, Attrs attrs) {
            list.push_back(Leaf{va.raw(), ma.raw(), level, attrs});
        });
        return list;
    }

    FakePagingEnv env_;
    Mfn root_;
    Table pt_;
};

struct FormatNames {
    template <class T>
    static std::string GetName(int) {
        return std::same_as<T, X86PteFormat> ? "X86" : "Skewed";
    }
};
using Formats = testing::Types<X86PteFormat, SkewedPteFormat>;
TYPED_TEST_SUITE(PageTableTest, Formats, FormatNames);

// A fresh table has only its root, translates nothing and reports its root.
TYPED_TEST(PageTableTest, EmptyTableTranslatesNothing) {
    EXPECT_EQ(this->pt_.root(), this->root_);
    EXPECT_EQ(this->lookup(0), "unmapped");
    EXPECT_EQ(this->lookup(kUpper), "unmapped");
    EXPECT_TRUE(this->leaves().empty());
    EXPECT_EQ(this->env_.live_tables(), 1u);
}

// One 4 KiB page: three new tables; the offset inside the page is added; neighbours stay unmapped.
TYPED_TEST(PageTableTest, MapsAndQueries4K) {
    EXPECT_EQ(this->map(0x40'0000'3000, 0x7'7777'7000, k4K, kRw, PageSize::k4K), kOk);
    EXPECT_EQ(this->env_.live_tables(), 4u);
    EXPECT_EQ(this->lookup(0x40'0000'3000), this->expect(0x7'7777'7000, Level::Pt, kRw));
    EXPECT_EQ(this->lookup(0x40'0000'3abc), this->expect(0x7'7777'7abc, Level::Pt, kRw));
    EXPECT_EQ(this->lookup(0x40'0000'2fff), "unmapped");
    EXPECT_EQ(this->lookup(0x40'0000'4000), "unmapped");
    EXPECT_TRUE(this->env_.invalidations().empty());  // only non-present entries changed
}

// One 2 MiB page: two new tables, leaf at Pd, offsets up to 2 MiB - 1.
TYPED_TEST(PageTableTest, MapsAndQueries2M) {
    EXPECT_EQ(this->map(3 * k1G + 5 * k2M, 9 * k2M, k2M, kAll, PageSize::k2M), kOk);
    EXPECT_EQ(this->env_.live_tables(), 3u);
    EXPECT_EQ(this->lookup(3 * k1G + 5 * k2M), this->expect(9 * k2M, Level::Pd, kAll));
    EXPECT_EQ(this->lookup(3 * k1G + 6 * k2M - 1), this->expect(10 * k2M - 1, Level::Pd, kAll));
    EXPECT_EQ(this->lookup(3 * k1G + 6 * k2M), "unmapped");
}

// One 1 GiB page: one new table, leaf at Pdpt.
TYPED_TEST(PageTableTest, MapsAndQueries1G) {
    EXPECT_EQ(this->map(7 * k1G, 2 * k1G, k1G, kRx, PageSize::k1G), kOk);
    EXPECT_EQ(this->env_.live_tables(), 2u);
    EXPECT_EQ(this->lookup(7 * k1G + 0x1234'5678), this->expect(2 * k1G + 0x1234'5678, Level::Pdpt, kRx));
    EXPECT_EQ(this->lookup(8 * k1G), "unmapped");
}

// A 4 KiB range crossing PT, PD and PDPT boundaries at once (the 512 GiB line) maps every page.
TYPED_TEST(PageTableTest, RangeCrossesEveryTableBoundary) {
    const u64 va = k512G - 2 * k4K;
    EXPECT_EQ(this->map(va, 0x10'0000, 4 * k4K, kRw, PageSize::k4K), kOk);
    EXPECT_EQ(this->env_.live_tables(), 7u);  // root + 2 x (PDPT, PD, PT)
    for (u64 i = 0; i < 4; ++i) EXPECT_EQ(this->lookup(va + i * k4K), this->expect(0x10'0000 + i * k4K, Level::Pt, kRw));
    EXPECT_EQ(this->lookup(va - k4K), "unmapped");
    EXPECT_EQ(this->lookup(va + 4 * k4K), "unmapped");
}

// 2 MiB pages across a 1 GiB boundary and 1 GiB pages across a 512 GiB boundary.
TYPED_TEST(PageTableTest, LargePageRangesCrossBoundaries) {
    EXPECT_EQ(this->map(k1G - k2M, 0, 3 * k2M, kRw, PageSize::k2M), kOk);
    EXPECT_EQ(this->lookup(k1G - 1), this->expect(k2M - 1, Level::Pd, kRw));
    EXPECT_EQ(this->lookup(k1G + 2 * k2M - 1), this->expect(3 * k2M - 1, Level::Pd, kRw));
    EXPECT_EQ(this->map(k512G - k1G, 4 * k1G, 2 * k1G, kRw, PageSize::k1G), kOk);
    EXPECT_EQ(this->lookup(k512G), this->expect(5 * k1G, Level::Pdpt, kRw));
    EXPECT_EQ(this->env_.live_tables(), 1u + 3u + 1u);
}

// Upper-half VAs, up to the very last page of the address space, map and enumerate canonically.
TYPED_TEST(PageTableTest, UpperHalfCanonicalAddresses) {
    EXPECT_EQ(this->map(kUpper, 0x20'0000, k2M, kRw, PageSize::k2M), kOk);
    EXPECT_EQ(this->map(kUpper + k1G + k4K, 0x5000, k4K, kRw, PageSize::k4K), kOk);
    EXPECT_EQ(this->map(kTopPage - k4K, 0x8000, 2 * k4K, kRw, PageSize::k4K), kOk);  // ends at 2^64
    EXPECT_EQ(this->lookup(kUpper + 0x10), this->expect(0x20'0010, Level::Pd, kRw));
    EXPECT_EQ(this->lookup(kTopPage + 0xfff), this->expect(0x9fff, Level::Pt, kRw));
    const std::vector<Leaf> expected = {
        {kUpper, 0x20'0000, Level::Pd, kRw},
        {kUpper + k1G + k4K, 0x5000, Level::Pt, kRw},
        {kTopPage - k4K, 0x8000, Level::Pt, kRw},
        {kTopPage, 0x9000, Level::Pt, kRw},
    };
    EXPECT_EQ(this->leaves(), expected);
    EXPECT_EQ(this->unmap(kTopPage - k4K, 2 * k4K), kOk);
    EXPECT_EQ(this->lookup(kTopPage), "unmapped");
}

// Non-canonical VAs and ranges crossing the hole are InvalidArgument, and nothing is allocated.
TYPED_TEST(PageTableTest, NonCanonicalRejected) {
    const u64 hole = 0x0000'8000'0000'0000;
    EXPECT_EQ(this->map(hole, 0, k4K, kRw, PageSize::k4K), (Outcome{Status::InvalidArgument, hole, Level::Pt}));
    EXPECT_EQ(this->map(hole - k4K, 0, 2 * k4K, kRw, PageSize::k4K),
              (Outcome{Status::InvalidArgument, hole - k4K, Level::Pt}));
    EXPECT_EQ(this->map(0xffff'7fff'ffe0'0000, 0, k2M, kRw, PageSize::k2M),
              (Outcome{Status::InvalidArgument, 0xffff'7fff'ffe0'0000, Level::Pd}));
    EXPECT_EQ(this->map(kTopPage, 0, 2 * k4K, kRw, PageSize::k4K),  // wraps past 2^64
              (Outcome{Status::InvalidArgument, kTopPage, Level::Pt}));
    EXPECT_EQ(this->unmap(hole, k4K).status, Status::InvalidArgument);
    EXPECT_EQ(this->unmap(hole - k4K, 2 * k4K).status, Status::InvalidArgument);
    EXPECT_EQ(this->lookup(hole), "unmapped");
    EXPECT_EQ(this->env_.allocation_calls(), 1u);  // the root only
}

// VA, MA and size must be aligned to the granule; the error names the granule's level.
TYPED_TEST(PageTableTest, MisalignmentRejected) {
    struct Case {
        u64 va, ma, size;
        PageSize granule;
        Level level;
    };
    const Case cases[] = {
        {0x1800, 0, k4K, PageSize::k4K, Level::Pt},     {0x1000, 0x800, k4K, PageSize::k4K, Level::Pt},
        {0x1000, 0, 0x800, PageSize::k4K, Level::Pt},   {k4K, 0, k2M, PageSize::k2M, Level::Pd},
        {k2M, k4K, k2M, PageSize::k2M, Level::Pd},      {k2M, 0, k2M + k4K, PageSize::k2M, Level::Pd},
        {k2M, 0, k1G, PageSize::k1G, Level::Pdpt},      {k1G, k2M, k1G, PageSize::k1G, Level::Pdpt},
        {k1G, 0, k1G / 2, PageSize::k1G, Level::Pdpt},
    };
    for (const Case& c : cases) {
        EXPECT_EQ(this->map(c.va, c.ma, c.size, kRw, c.granule), (Outcome{Status::InvalidArgument, c.va, c.level}));
    }
    EXPECT_EQ(this->unmap(0x1800, k4K), (Outcome{Status::InvalidArgument, 0x1800, Level::Pt}));
    EXPECT_EQ(this->unmap(0x1000, 0x800), (Outcome{Status::InvalidArgument, 0x1000, Level::Pt}));
    EXPECT_EQ(this->env_.allocation_calls(), 1u);
    EXPECT_EQ(this->env_.live_tables(), 1u);
}

// Machine addresses beyond the format's reach are refused, not truncated.
TYPED_TEST(PageTableTest, MaddrBeyondFormatRejected) {
    const u64 max = TypeParam::kMaxMaddr;
    EXPECT_EQ(this->map(0, max + 1, k4K, kRw, PageSize::k4K).status, Status::InvalidArgument);
    EXPECT_EQ(this->map(0, max + 1 - k4K, 2 * k4K, kRw, PageSize::k4K).status, Status::InvalidArgument);
    EXPECT_EQ(this->map(0, max + 1 - k4K, k4K, kRw, PageSize::k4K), kOk);
    EXPECT_EQ(this->lookup(0xfff), this->expect(max, Level::Pt, kRw));
}

// A zero-sized map or unmap succeeds and touches nothing.
TYPED_TEST(PageTableTest, ZeroSizeIsNoop) {
    EXPECT_EQ(this->map(0x1000, 0x2000, 0, kRw, PageSize::k4K), kOk);
    EXPECT_EQ(this->unmap(0x1000, 0), kOk);
    EXPECT_EQ(this->env_.allocation_calls(), 1u);
    EXPECT_TRUE(this->leaves().empty());
}

// Mapping over anything present fails with AlreadyMapped at the right VA and level, and leaves
// every frame byte-for-byte unchanged with no table leaked, whatever it had to allocate first.
TYPED_TEST(PageTableTest, AlreadyMappedAtEveryLevelChangesNothing) {
    ASSERT_EQ(this->map(k1G + 0x5000, 0x5000, k4K, kRw, PageSize::k4K), kOk);         // PT at 1G
    ASSERT_EQ(this->map(2 * k1G + k2M, 0, k2M, kRw, PageSize::k2M), kOk);             // 2M leaf
    ASSERT_EQ(this->map(4 * k1G, 0, k1G, kRw, PageSize::k1G), kOk);                   // 1G leaf
    ASSERT_EQ(this->map(kUpper + 5 * k1G + 7 * k2M, 0, k4K, kRw, PageSize::k4K), kOk);  // PD at upper 5G
    this->env_.clear_invalidations();
    struct Case {
        u64 va, size;
        PageSize granule;
        Outcome expected;
    };
    const Case cases[] = {
        {k1G + 0x5000, k4K, PageSize::k4K, {Status::AlreadyMapped, k1G + 0x5000, Level::Pt}},  // 4K on 4K
        {k1G + 0x3000, 4 * k4K, PageSize::k4K, {Status::AlreadyMapped, k1G + 0x5000, Level::Pt}},
        {2 * k1G + k2M + 0x7000, k4K, PageSize::k4K, {Status::AlreadyMapped, 2 * k1G + k2M + 0x7000, Level::Pd}},
        {2 * k1G + k2M, k2M, PageSize::k2M, {Status::AlreadyMapped, 2 * k1G + k2M, Level::Pd}},  // 2M on 2M
        {4 * k1G + 3 * k2M + k4K, k4K, PageSize::k4K, {Status::AlreadyMapped, 4 * k1G + 3 * k2M + k4K, Level::Pdpt}},
        {4 * k1G + 6 * k2M, k2M, PageSize::k2M, {Status::AlreadyMapped, 4 * k1G + 6 * k2M, Level::Pdpt}},
        {4 * k1G, k1G, PageSize::k1G, {Status::AlreadyMapped, 4 * k1G, Level::Pdpt}},  // 1G on 1G
        {k1G, k2M, PageSize::k2M, {Status::AlreadyMapped, k1G, Level::Pd}},            // 2M on a PT
        {k1G, k1G, PageSize::k1G, {Status::AlreadyMapped, k1G, Level::Pdpt}},          // 1G on a PD
        {2 * k1G, k1G, PageSize::k1G, {Status::AlreadyMapped, 2 * k1G, Level::Pdpt}},  // 1G on a PD (2M leaf)
        // Conflicts found only after tables for earlier parts were pooled:
        {k1G - 2 * k4K, 16 * k4K, PageSize::k4K, {Status::AlreadyMapped, k1G + 0x5000, Level::Pt}},
        {0, 3 * k1G, PageSize::k2M, {Status::AlreadyMapped, k1G, Level::Pd}},
        {kUpper, 6 * k1G, PageSize::k1G, {Status::AlreadyMapped, kUpper + 5 * k1G, Level::Pdpt}},
        {kUpper + 5 * k1G - k4K, 16 * MiB, PageSize::k4K, {Status::AlreadyMapped, kUpper + 5 * k1G + 7 * k2M, Level::Pt}},
    };
    const auto before = this->env_.snapshot();
    const auto live = this->env_.live_tables();
    for (const Case& c : cases) {
        SCOPED_TRACE(testing::Message() << std::hex << "va 0x" << c.va << " size 0x" << c.size);
        EXPECT_EQ(this->map(c.va, 0x4000'0000, c.size, kAll, c.granule), c.expected);
        EXPECT_EQ(this->env_.live_tables(), live);
        EXPECT_TRUE(this->env_.snapshot() == before);
    }
    EXPECT_TRUE(this->env_.invalidations().empty());
}

// Every possible allocation failure of a map rolls back completely: NoMemory, no leaked table,
// every frame unchanged. The first success then allocates exactly the expected tables.
TYPED_TEST(PageTableTest, AllocationFailureAtEveryStepRollsBack) {
    ASSERT_EQ(this->map(k512G + 3 * k1G + 6 * k2M - k4K, 0, k4K, kRw, PageSize::k4K), kOk);  // partial tree
    struct Case {
        u64 va, size;
        PageSize granule;
        u64 tables;  // that a successful map allocates
    };
    const Case cases[] = {
        {k512G - 3 * k4K, 6 * k4K, PageSize::k4K, 5},                   // slot 0: PDPT, PD, PT; slot 1: PD, PT
        {k512G + 3 * k1G + 4 * k2M - k4K, 2 * k2M, PageSize::k4K, 2},   // 3 PT regions, the last one present
        {kUpper + k1G - k2M, 3 * k2M, PageSize::k2M, 3},                // PDPT + 2 PDs
        {kUpper + 2 * k512G - k1G, 2 * k1G, PageSize::k1G, 2},          // two PDPTs (slots 263, 264)
        {0, k2M + k4K, PageSize::k4K, 3},                               // PDPT there: PD and 2 PTs
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(testing::Message() << std::hex << "va 0x" << c.va << " size 0x" << c.size);
        const auto before = this->env_.snapshot();
        const auto live = this->env_.live_tables();
        for (u64 n = 1; n <= c.tables; ++n) {
            this->env_.fail_nth_allocation(n);
            const Outcome result = this->map(c.va, 0, c.size, kRw, c.granule);
            EXPECT_EQ(result.status, Status::NoMemory) << "failing allocation " << n;
            EXPECT_EQ(this->env_.live_tables(), live) << "failing allocation " << n;
            EXPECT_TRUE(this->env_.snapshot() == before) << "failing allocation " << n;
        }
        this->env_.fail_nth_allocation(c.tables + 1);  // one past the need: never reached
        const u64 calls = this->env_.allocation_calls();
        EXPECT_EQ(this->map(c.va, 0, c.size, kRw, c.granule), kOk);
        EXPECT_EQ(this->env_.allocation_calls() - calls, c.tables);
        EXPECT_EQ(this->env_.live_tables(), live + c.tables);
        this->env_.fail_nth_allocation(0);
        EXPECT_EQ(this->lookup(c.va + c.size - 1), this->expect(c.size - 1, hv::mm::leaf_level(c.granule), kRw));
    }
    EXPECT_TRUE(this->env_.invalidations().empty());
}

// A NoMemory error names the empty entry whose subtree could not be allocated.
TYPED_TEST(PageTableTest, NoMemoryReportsWhere) {
    ASSERT_EQ(this->map(0, 0, k4K, kRw, PageSize::k4K), kOk);
    this->env_.fail_nth_allocation(1);
    EXPECT_EQ(this->map(k2M - k4K, 0, 2 * k4K, kRw, PageSize::k4K), (Outcome{Status::NoMemory, k2M, Level::Pd}));
    this->env_.fail_nth_allocation(1);
    EXPECT_EQ(this->map(kUpper + k4K, 0, k4K, kRw, PageSize::k4K), (Outcome{Status::NoMemory, kUpper + k4K, Level::Pml4}));
}

// Unmapping clears exactly the leaves in the range and queues one invalidation per leaf.
TYPED_TEST(PageTableTest, UnmapClearsLeavesAndInvalidates) {
    ASSERT_EQ(this->map(0x10'0000, 0x1000, 3 * k4K, kRw, PageSize::k4K), kOk);
    ASSERT_EQ(this->map(6 * k2M, 0, k2M, kRw, PageSize::k2M), kOk);
    ASSERT_EQ(this->map(kUpper + k1G, 0, k1G, kRw, PageSize::k1G), kOk);
    EXPECT_EQ(this->unmap(0x10'1000, k4K), kOk);
    EXPECT_EQ(this->unmap(6 * k2M, k2M), kOk);
    EXPECT_EQ(this->unmap(kUpper + k1G, k1G), kOk);
    const std::vector<Invalidation> expected = {
        {Vaddr(0x10'1000), Level::Pt}, {Vaddr(6 * k2M), Level::Pd}, {Vaddr(kUpper + k1G), Level::Pdpt}};
    EXPECT_EQ(text(this->env_.invalidations()), text(expected));
    EXPECT_EQ(this->lookup(0x10'1000), "unmapped");
    EXPECT_EQ(this->lookup(6 * k2M + 5), "unmapped");
    EXPECT_EQ(this->lookup(kUpper + k1G + 5), "unmapped");
    EXPECT_EQ(this->lookup(0x10'0000), this->expect(0x1000, Level::Pt, kRw));
    EXPECT_EQ(this->lookup(0x10'2000), this->expect(0x3000, Level::Pt, kRw));
}

// One unmap covering 4K, 2M and 1G leaves and holes clears them all, in VA order.
TYPED_TEST(PageTableTest, UnmapMixedSizesSkipsHoles) {
    ASSERT_EQ(this->map(k1G - 2 * k4K, 0, k4K, kRw, PageSize::k4K), kOk);
    ASSERT_EQ(this->map(k1G + 3 * k2M, 0, k2M, kRw, PageSize::k2M), kOk);
    ASSERT_EQ(this->map(5 * k1G, 0, k1G, kRw, PageSize::k1G), kOk);
    ASSERT_EQ(this->map(k512G + k4K, 0, k4K, kRw, PageSize::k4K), kOk);
    this->env_.clear_invalidations();
    EXPECT_EQ(this->unmap(0, 2 * k512G), kOk);
    const std::vector<Invalidation> expected = {{Vaddr(k1G - 2 * k4K), Level::Pt},
                                                {Vaddr(k1G + 3 * k2M), Level::Pd},
                                                {Vaddr(5 * k1G), Level::Pdpt},
                                                {Vaddr(k512G + k4K), Level::Pt}};
    EXPECT_EQ(text(this->env_.invalidations()), text(expected));
    EXPECT_TRUE(this->leaves().empty());
    EXPECT_EQ(this->unmap(0, 2 * k512G), kOk);  // nothing left: still fine, nothing queued
    EXPECT_EQ(this->env_.invalidations().size(), expected.size());
}

// Unmap keeps the tables (they may be shared): none freed, and a remap allocates nothing.
TYPED_TEST(PageTableTest, UnmapKeepsTablesForReuse) {
    ASSERT_EQ(this->map(kUpper, 0x1000, k4K, kRw, PageSize::k4K), kOk);
    const auto live = this->env_.live_tables();
    EXPECT_EQ(this->unmap(kUpper, k4K), kOk);
    EXPECT_EQ(this->env_.live_tables(), live);
    const u64 calls = this->env_.allocation_calls();
    EXPECT_EQ(this->map(kUpper, 0x2000, k4K, kRx, PageSize::k4K), kOk);
    EXPECT_EQ(this->env_.allocation_calls(), calls);
    EXPECT_EQ(this->lookup(kUpper), this->expect(0x2000, Level::Pt, kRx));
}

// A range covering only part of a large page is refused before anything changes, even when
// whole leaves earlier in the range would have been cleared.
TYPED_TEST(PageTableTest, UnmapPartOfLargePageRefused) {
    ASSERT_EQ(this->map(0x1000, 0, k4K, kRw, PageSize::k4K), kOk);
    ASSERT_EQ(this->map(k2M, 0, k2M, kRw, PageSize::k2M), kOk);
    ASSERT_EQ(this->map(kUpper + k1G, 0, k1G, kRw, PageSize::k1G), kOk);
    this->env_.clear_invalidations();
    const auto before = this->env_.snapshot();
    EXPECT_EQ(this->unmap(k2M + k4K, k4K), (Outcome{Status::InvalidArgument, k2M + k4K, Level::Pd}));
    EXPECT_EQ(this->unmap(0x1000, k2M), (Outcome{Status::InvalidArgument, k2M, Level::Pd}));
    EXPECT_EQ(this->unmap(k2M + k4K, k2M), (Outcome{Status::InvalidArgument, k2M + k4K, Level::Pd}));
    EXPECT_EQ(this->unmap(kUpper + 2 * k1G - k2M, 2 * k2M),
              (Outcome{Status::InvalidArgument, kUpper + 2 * k1G - k2M, Level::Pdpt}));
    EXPECT_TRUE(this->env_.snapshot() == before);
    EXPECT_TRUE(this->env_.invalidations().empty());
    EXPECT_EQ(this->unmap(0x1000, 2 * k2M - 0x1000), kOk);  // whole leaves: fine
    EXPECT_EQ(this->env_.invalidations().size(), 2u);
}

// for_each_leaf reports every leaf once, in ascending canonical VA order, with its attributes.
TYPED_TEST(PageTableTest, ForEachLeafOrderAndContent) {
    const Attrs uc{.write = true, .mem_type = MemType::Uncached};
    ASSERT_EQ(this->map(kTopPage, 0xf000, k4K, kAll, PageSize::k4K), kOk);
    ASSERT_EQ(this->map(kUpper + 3 * k1G, 3 * k1G, k1G, kRx, PageSize::k1G), kOk);
    ASSERT_EQ(this->map(k512G + k2M, 0x40'0000, k2M, uc, PageSize::k2M), kOk);
    ASSERT_EQ(this->map(0x3000, 0x1000, 2 * k4K, kRw, PageSize::k4K), kOk);
    ASSERT_EQ(this->map(kUpper, 0xa000, k4K, Attrs{}, PageSize::k4K), kOk);
    const std::vector<Leaf> expected = {
        {0x3000, 0x1000, Level::Pt, kRw},
        {0x4000, 0x2000, Level::Pt, kRw},
        {k512G + k2M, 0x40'0000, Level::Pd, uc},
        {kUpper, 0xa000, Level::Pt, Attrs{}},
        {kUpper + 3 * k1G, 3 * k1G, Level::Pdpt, kRx},
        {kTopPage, 0xf000, Level::Pt, kAll},
    };
    EXPECT_EQ(this->leaves(), expected);
}

// Every attribute combination survives the walker at every leaf level.
TYPED_TEST(PageTableTest, AttrsSurviveWalkerAtEveryLevel) {
    u64 va = 0;
    for (PageSize granule : {PageSize::k4K, PageSize::k2M, PageSize::k1G}) {
        const Level level = hv::mm::leaf_level(granule);
        const u64 size = hv::mm::level_size(level);
        for (const Attrs& attrs : all_attrs()) {
            va = hv::align_up(va, size);
            ASSERT_EQ(this->map(va, 7 * size, size, attrs, granule), kOk);
            EXPECT_EQ(this->lookup(va + size - 8), this->expect(8 * size - 8, level, attrs));
            va += size;
        }
    }
}

// free_tables frees every table below the chosen root slots, clears those slots (queueing an
// invalidation each), and leaves other slots working.
TYPED_TEST(PageTableTest, FreeTablesLeavesNoLiveTables) {
    ASSERT_EQ(this->map(0x1000, 0, k4K, kRw, PageSize::k4K), kOk);
    ASSERT_EQ(this->map(k512G, 0, 3 * k2M, kRw, PageSize::k2M), kOk);
    ASSERT_EQ(this->map(kUpper, 0, k1G + k4K, kRw, PageSize::k4K), kOk);  // 2 PDs, 513 PTs
    ASSERT_EQ(this->map(kTopPage, 0, k4K, kRw, PageSize::k4K), kOk);
    ASSERT_EQ(this->unmap(kUpper, k4K), kOk);  // an emptied table is freed too
    this->env_.clear_invalidations();
    this->pt_.free_tables(256, 271);
    EXPECT_EQ(this->lookup(kUpper + k2M), "unmapped");
    EXPECT_EQ(this->lookup(0x1000), this->expect(0, Level::Pt, kRw));
    EXPECT_EQ(this->lookup(kTopPage), this->expect(0, Level::Pt, kRw));
    EXPECT_EQ(this->env_.live_tables(), 1u + 3u + 2u + 3u);
    this->pt_.free_tables(0, 511);
    EXPECT_EQ(this->env_.live_tables(), 1u);
    EXPECT_TRUE(this->leaves().empty());
    const std::vector<Invalidation> expected = {
        {Vaddr(kUpper), Level::Pml4}, {Vaddr(0), Level::Pml4}, {Vaddr(k512G), Level::Pml4}, {Vaddr(0xffff'ff80'0000'0000), Level::Pml4}};
    EXPECT_EQ(text(this->env_.invalidations()), text(expected));
    const auto snapshot = this->env_.snapshot();
    ASSERT_EQ(snapshot.size(), 1u);
    EXPECT_TRUE(snapshot.begin()->second == hv::test::Frame{});  // the root is all empty again
    EXPECT_EQ(this->map(kUpper, 0x1000, k4K, kRw, PageSize::k4K), kOk);  // and usable
    EXPECT_EQ(this->lookup(kUpper), this->expect(0x1000, Level::Pt, kRw));
}

// ---------------------------------------------------------------------------------------------
// Random operations against a reference model.
// ---------------------------------------------------------------------------------------------

// The simplest model we trust: the leaves by VA, and which table regions exist (tables are
// created by successful maps and only go away with free_tables).
class ReferenceModel {
  public:
    struct Entry {
        u64 ma;
        Level level;
        Attrs attrs;
    };

    // The leaf containing va, if any.
    const std::pair<const u64, Entry>* find(u64 va) const {
        auto it = leaves_.upper_bound(va);
        if (it == leaves_.begin()) return nullptr;
        --it;
        return va - it->first < hv::mm::level_size(it->second.level) ? &*it : nullptr;
    }

    // What map() must answer (the first conflict in VA order, as the walker meets it).
    Outcome check_map(u64 va, u64 size, Level leaf) const {
        const u64 page = hv::mm::level_size(leaf);
        for (u64 chunk = va; chunk - va < size; chunk += page) {
            // A table where a large page is wanted.
            if ((leaf == Level::Pd && tables_[0].count(chunk)) || (leaf == Level::Pdpt && tables_[1].count(chunk)))
                return Outcome{Status::AlreadyMapped, chunk, leaf};
            // A leaf at least as large as the chunk (smaller ones imply the table above).
            if (const auto* hit = find(chunk)) return Outcome{Status::AlreadyMapped, chunk, hit->second.level};
        }
        return kOk;
    }

    // Records a successful map: its leaves and the tables it needed.
    void apply_map(u64 va, u64 ma, u64 size, Attrs attrs, Level leaf) {
        const u64 page = hv::mm::level_size(leaf);
        for (u64 offset = 0; offset < size; offset += page) {
            leaves_[va + offset] = Entry{ma + offset, leaf, attrs};
            for (unsigned level = hv::mm::level_number(leaf); level < 3; ++level)
                tables_[level].insert(hv::align_down(va + offset, hv::mm::level_size(static_cast<Level>(level + 1))));
        }
    }

    // What unmap() must answer; applies it when Ok and returns the invalidations to expect.
    Outcome unmap(u64 va, u64 size, std::vector<Invalidation>& invalidations) {
        const u64 last = va + size - 1;
        auto it = leaves_.upper_bound(va);
        if (it != leaves_.begin() && find(va)) --it;
        auto end = it;
        for (; end != leaves_.end() && end->first <= last; ++end) {
            const u64 leaf_last = end->first + hv::mm::level_size(end->second.level) - 1;
            if (end->first < va || leaf_last > last)
                return Outcome{Status::InvalidArgument, std::max(va, end->first), end->second.level};
        }
        for (auto erase = it; erase != end; ++erase) invalidations.push_back({Vaddr(erase->first), erase->second.level});
        leaves_.erase(it, end);
        return kOk;
    }

    std::vector<Leaf> leaves() const {
        std::vector<Leaf> list;
        for (const auto& [va, e] : leaves_) list.push_back(Leaf{va, e.ma, e.level, e.attrs});
        return list;
    }

    // Tables the walker must hold: the root plus one per region with a table.
    std::size_t table_count() const { return 1 + tables_[0].size() + tables_[1].size() + tables_[2].size(); }

  private:
    std::map<u64, Entry> leaves_;
    std::set<u64> tables_[3];  // VA bases of regions with a PT (2M), a PD (1G), a PDPT (512G)
};

// Random maps, unmaps, queries and allocation failures in a few small windows (lower half,
// second PML4 slot, directmap slot, the top of the address space) agree with the model.
TYPED_TEST(PageTableTest, RandomOperationsMatchReferenceModel) {
    const u64 windows[] = {0, k512G - 2 * k1G, kUpper, 0xffff'ffff'0000'0000};
    for (u64 seed : {1u, 2u, 3u}) {
        SCOPED_TRACE(testing::Message() << "seed " << seed);
        FakePagingEnv env;
        typename TestFixture::Table pt(env, env.alloc_table().value());
        ReferenceModel model;
        std::mt19937_64 rng(seed);
        auto pick = [&](u64 bound) { return rng() % bound; };
        for (int op = 0; op < 1500; ++op) {
            const u64 window = windows[pick(4)];
            const unsigned kind = static_cast<unsigned>(pick(100));
            if (kind < 55) {
                const PageSize granule = pick(10) < 6 ? PageSize::k4K : pick(4) != 0 ? PageSize::k2M : PageSize::k1G;
                const Level leaf = hv::mm::leaf_level(granule);
                const u64 page = hv::mm::level_size(leaf);
                const u64 va = window + hv::align_down(pick(4 * k1G), page);
                const u64 size = page * (1 + pick(leaf == Level::Pt ? 24 : leaf == Level::Pd ? 4 : 2));
                const u64 ma = hv::align_down(pick(u64{1} << 44), page);
                const Attrs attrs = all_attrs()[pick(32)];
                const bool inject = pick(10) == 0;
                const bool wraps = va + size - 1 < va;
                const Outcome want = wraps ? Outcome{Status::InvalidArgument, va, leaf} : model.check_map(va, size, leaf);
                // Byte-for-byte checks of failures are sampled: snapshots of big trees are slow.
                const bool compare_bytes = (inject || want.status != Status::Ok) && op % 4 == 0;
                const auto before = compare_bytes ? env.snapshot() : hv::test::MemorySnapshot{};
                if (inject) env.fail_nth_allocation(1 + pick(3));
                const Outcome got = outcome(pt.map(Vaddr(va), Maddr(ma), size, attrs, granule));
                env.fail_nth_allocation(0);
                if (!(inject && got.status == Status::NoMemory)) {
                    ASSERT_EQ(got, want) << "op " << op;
                }
                if (got.status == Status::Ok) model.apply_map(va, ma, size, attrs, leaf);
                if (compare_bytes && got.status != Status::Ok) {
                    ASSERT_TRUE(env.snapshot() == before) << "op " << op;
                }
            } else if (kind < 90) {
                const u64 va = window + (pick(2) ? hv::align_down(pick(4 * k1G), k2M) : hv::align_down(pick(4 * k1G), k4K));
                const u64 size = pick(3) == 0 ? k4K * (1 + pick(1024)) : k2M * (1 + pick(pick(8) == 0 ? 1024 : 4));
                if (va + size - 1 < va) continue;
                std::vector<Invalidation> expected;
                env.clear_invalidations();
                ASSERT_EQ(outcome(pt.unmap(Vaddr(va), size)), model.unmap(va, size, expected)) << "op " << op;
                ASSERT_EQ(text(env.invalidations()), text(expected)) << "op " << op;
            }
            // Queries: random VAs in the window, plus the start of a random leaf.
            for (int q = 0; q < 4; ++q) {
                const u64 va = window + pick(4 * k1G);
                const auto got = pt.query(Vaddr(va));
                const auto* want = model.find(va);
                ASSERT_EQ(got.has_value(), want != nullptr) << std::hex << "va 0x" << va;
                if (want == nullptr) continue;
                EXPECT_EQ(got.value().maddr.raw(), want->second.ma + (va - want->first));
                EXPECT_EQ(got.value().level, want->second.level);
                EXPECT_EQ(attrs_text(got.value().attrs), attrs_text(want->second.attrs));
            }
            ASSERT_EQ(env.live_tables(), model.table_count()) << "op " << op;
            if (op % 50 == 0) {
                std::vector<Leaf> got;
                pt.for_each_leaf([&](Vaddr va, Maddr ma, Level level, Attrs attrs) {
                    got.push_back(Leaf{va.raw(), ma.raw(), level, attrs});
                });
                ASSERT_EQ(got, model.leaves()) << "op " << op;
            }
        }
        pt.free_tables(0, hv::mm::kEntriesPerTable - 1);
        EXPECT_EQ(env.live_tables(), 1u);
    }
}

}  // namespace
