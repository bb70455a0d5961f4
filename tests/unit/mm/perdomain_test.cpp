// SPDX-License-Identifier: MIT
// Per-domain mapping API tests: create/populate/destroy/free on both paths (linear window and
// table walk) with both entry formats, ownership and freeing, rollback on every allocation
// failure, the 1 GiB and never-global rules, the linear-window arithmetic, and random operation
// sequences on which the fast path, the slow path and a reference model must agree.
#include "hv/mm/perdomain.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <concepts>
#include <iterator>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "arch/pte.hpp"
#include "arch/va_layout.hpp"
#include "hv/mm/linear_map.hpp"
#include "support/fake_perdomain_env.hpp"
#include "support/skewed_pte_format.hpp"

namespace {

using hv::GiB;
using hv::kPageSize;
using hv::Mfn;
using hv::MiB;
using hv::Status;
using hv::u32;
using hv::u64;
using hv::Vaddr;
using hv::arch::X86PteFormat;
using hv::mm::Attrs;
using hv::mm::Level;
using hv::mm::MemType;
using hv::mm::Populate;
using hv::mm::VcpuRef;
using hv::test::FakePerdomainEnv;
using hv::test::Invalidation;
using hv::test::SkewedPteFormat;

static_assert(hv::mm::PerdomainEnv<FakePerdomainEnv<X86PteFormat>>);
static_assert(hv::mm::OwnedBitFormat<X86PteFormat>);
static_assert(hv::mm::OwnedBitFormat<SkewedPteFormat>);

constexpr unsigned kSlot = 260;
constexpr unsigned kSelfSlot = 258;
constexpr u64 kBase = hv::arch::kPerdomainBase;
constexpr u64 k4K = kPageSize;
constexpr u64 k2M = 2 * MiB;
constexpr u64 k1G = GiB;
constexpr u64 kMaxPages = k1G / k4K;
constexpr u64 kGivenMfn = 0x80'0000;  // populate()'s frames: far from every fake-memory mfn
constexpr Attrs kRw{.write = true};
constexpr VcpuRef kIdle{Mfn(), 0x7fff, 0};

enum class Path { Fast, Slow };
const char* name(Path path) { return path == Path::Fast ? "fast" : "slow"; }

// Outcome of an operation, printable. Ok outcomes have va 0 and level Pt.
struct Outcome {
    Status status;
    u64 va;
    Level level;
    bool operator==(const Outcome&) const = default;
};
std::ostream& operator<<(std::ostream& out, const Outcome& o) {
    out << hv::status_name(o.status);
    if (o.status != Status::Ok) out << std::hex << " at va 0x" << o.va << std::dec << " level " << unsigned(o.level);
    return out;
}
Outcome outcome(const hv::Result<void, hv::mm::MapError>& result) {
    if (result.ok()) return Outcome{Status::Ok, 0, Level::Pt};
    return Outcome{result.error().status, result.error().va.raw(), result.error().level};
}
constexpr Outcome kOk{Status::Ok, 0, Level::Pt};

std::string text(const std::vector<Invalidation>& list) {
    std::ostringstream out;
    for (const auto& inv : list) out << std::hex << "{0x" << inv.va.raw() << std::dec << " L" << unsigned(inv.level) << "} ";
    return out.str();
}
std::vector<Invalidation> pages_at(std::initializer_list<u64> vas) {
    std::vector<Invalidation> list;
    for (u64 va : vas) list.push_back(Invalidation{Vaddr(va), Level::Pt});
    return list;
}

// One vCPU with its own L3 (from the API) and its own root, plus an idle root to load when the
// test wants the slow path: the linear window then shows the idle root, which has nothing in slot
// 260, so a slow path that used the window would abort in the fake MMU.
template <class Format>
struct World {
    using Env = FakePerdomainEnv<Format>;
    using Api = hv::mm::Perdomain<Format, Env>;

    explicit World(u32 domain = 1, u32 vcpu_id = 0) {
        vcpu = VcpuRef{api.create_l3().value(), domain, vcpu_id};
        root = make_root(vcpu.l3);
        idle_root = env.alloc_root();
    }
    Mfn make_root(Mfn l3) {
        const Mfn frame = env.alloc_root();
        env.memory().words(frame)[kSlot] = Format::make_table(Level::Pml4, l3);
        return frame;
    }
    void use(Path path) {
        if (path == Path::Fast) env.load(vcpu, root);
        else env.load(kIdle, idle_root);
    }

    Outcome create(u64 va, u64 count, Populate populate) { return outcome(api.create(vcpu, Vaddr(va), count, populate)); }
    Outcome populate(u64 va, const std::vector<Mfn>& mfns, Attrs attrs = kRw) {
        return outcome(api.populate(vcpu, Vaddr(va), mfns.data(), mfns.size(), attrs));
    }
    Outcome destroy(u64 va, u64 count) { return outcome(api.destroy(vcpu, Vaddr(va), count)); }

    Env env;
    Api api{env, kSlot};
    VcpuRef vcpu{};
    Mfn root{};
    Mfn idle_root{};
};

std::vector<Mfn> given(u64 first, u64 count) {
    std::vector<Mfn> list;
    for (u64 i = 0; i < count; ++i) list.push_back(Mfn(first + i));
    return list;
}

// What the tables below one L3 hold, read by the test's own walk (no API code).
struct Page {
    u64 mfn;
    bool owned;
    Attrs attrs;
    bool operator==(const Page&) const = default;
};
struct Dump {
    std::map<u64, Page> pages;  // by VA
    std::set<u64> l1_chunks;    // VA bases of 2 MiB chunks with an L1
    std::set<u64> l2_gigs;      // VA bases of 1 GiB sub-slots with an L2
};

template <class Format>
Dump dump(World<Format>& world, Mfn l3) {
    Dump out;
    auto& memory = world.env.memory();
    for (u64 i = 0; i < 512; ++i) {
        const u64 l3e = memory.words(l3)[i];
        if (!Format::present(Level::Pdpt, l3e)) continue;
        EXPECT_FALSE(Format::is_leaf(Level::Pdpt, l3e));
        const u64 gig = kBase + i * k1G;
        out.l2_gigs.insert(gig);
        const Mfn l2 = Format::address(Level::Pdpt, l3e).mfn();
        for (u64 j = 0; j < 512; ++j) {
            const u64 l2e = memory.words(l2)[j];
            if (!Format::present(Level::Pd, l2e)) continue;
            EXPECT_FALSE(Format::is_leaf(Level::Pd, l2e));
            out.l1_chunks.insert(gig + j * k2M);
            const Mfn l1 = Format::address(Level::Pd, l2e).mfn();
            for (u64 k = 0; k < 512; ++k) {
                const u64 l1e = memory.words(l1)[k];
                if (!Format::present(Level::Pt, l1e)) continue;
                out.pages[gig + j * k2M + k * k4K] = Page{Format::address(Level::Pt, l1e).mfn().raw(),
                                                          Format::avail0(Level::Pt, l1e), Format::attrs(Level::Pt, l1e)};
            }
        }
    }
    return out;
}
template <class Format>
Dump dump(World<Format>& world) {
    return dump(world, world.vcpu.l3);
}

// ---------------------------------------------------------------------------------------------
// Directed tests, for both formats; each runs on both paths where the path matters.
// ---------------------------------------------------------------------------------------------

template <class Format>
class PerdomainTest : public testing::Test {
  protected:
    using W = World<Format>;
    static std::unique_ptr<W> world(Path path) {
        auto made = std::make_unique<W>();
        made->use(path);
        return made;
    }
};

struct FormatNames {
    template <class T>
    static std::string GetName(int) {
        return std::same_as<T, X86PteFormat> ? "X86" : "Skewed";
    }
};
using Formats = testing::Types<X86PteFormat, SkewedPteFormat>;
TYPED_TEST_SUITE(PerdomainTest, Formats, FormatNames);

constexpr Path kPaths[] = {Path::Fast, Path::Slow};

// create() without populate allocates the L2 and one L1 per 2 MiB chunk, maps nothing, and a
// second create() of the same range allocates nothing.
TYPED_TEST(PerdomainTest, CreateReservesTablesOnly) {
    for (Path path : kPaths) {
        SCOPED_TRACE(name(path));
        auto w = this->world(path);
        EXPECT_EQ(w->create(kBase + k2M - k4K, 3, Populate::No), kOk);
        EXPECT_EQ(w->env.live_tables(), 1u + 1 + 2);  // L3, L2, two L1s
        EXPECT_EQ(w->env.live_pages(), 0u);
        const Dump d = dump(*w);
        EXPECT_TRUE(d.pages.empty());
        EXPECT_EQ(d.l1_chunks, (std::set<u64>{kBase, kBase + k2M}));
        const u64 calls = w->env.allocation_calls();
        EXPECT_EQ(w->create(kBase + k2M - k4K, 3, Populate::No), kOk);
        EXPECT_EQ(w->env.allocation_calls(), calls);
        EXPECT_TRUE(w->env.invalidations().empty());
    }
}

// create() with populate backs every page with its own zeroed frame, marked owned, mapped
// read-write, not executable, not global.
TYPED_TEST(PerdomainTest, CreatePopulateOwnsZeroedFrames) {
    for (Path path : kPaths) {
        SCOPED_TRACE(name(path));
        auto w = this->world(path);
        const u64 va = kBase + 3 * k1G + k2M - 2 * k4K;
        EXPECT_EQ(w->create(va, 5, Populate::Yes), kOk);
        EXPECT_EQ(w->env.live_pages(), 5u);
        const Dump d = dump(*w);
        ASSERT_EQ(d.pages.size(), 5u);
        std::set<u64> frames;
        for (u64 i = 0; i < 5; ++i) {
            const auto it = d.pages.find(va + i * k4K);
            ASSERT_NE(it, d.pages.end()) << i;
            EXPECT_TRUE(it->second.owned);
            EXPECT_EQ(it->second.attrs, kRw);
            EXPECT_TRUE(w->env.is_live_page(Mfn(it->second.mfn)));
            const u64* words = w->env.memory().words(Mfn(it->second.mfn));
            for (u64 word = 0; word < 512; ++word) ASSERT_EQ(words[word], 0u) << "page " << i << " word " << word;
            frames.insert(it->second.mfn);
        }
        EXPECT_EQ(frames.size(), 5u);
        EXPECT_TRUE(w->env.invalidations().empty());
    }
}

// create() with populate over a partly mapped range backs only the holes; given pages stay.
TYPED_TEST(PerdomainTest, CreatePopulateOnlyFillsHoles) {
    for (Path path : kPaths) {
        SCOPED_TRACE(name(path));
        auto w = this->world(path);
        ASSERT_EQ(w->create(kBase, 4, Populate::No), kOk);
        ASSERT_EQ(w->populate(kBase + k4K, given(kGivenMfn, 1)), kOk);
        EXPECT_EQ(w->create(kBase, 4, Populate::Yes), kOk);
        EXPECT_EQ(w->env.live_pages(), 3u);
        const Dump d = dump(*w);
        EXPECT_EQ(d.pages.at(kBase + k4K), (Page{kGivenMfn, false, kRw}));
        for (u64 i : {0u, 2u, 3u}) EXPECT_TRUE(d.pages.at(kBase + i * k4K).owned) << i;
        EXPECT_TRUE(w->env.invalidations().empty());
    }
}

// populate() installs the given frames with the given attributes, not owned; replacing a given
// page queues its invalidation and allocates or frees nothing.
TYPED_TEST(PerdomainTest, PopulateInstallsAndReplacesGivenFrames) {
    const Attrs attrs{.write = true, .user = true, .exec = true, .mem_type = MemType::Uncached};
    for (Path path : kPaths) {
        SCOPED_TRACE(name(path));
        auto w = this->world(path);
        const u64 va = kBase + 5 * k2M - k4K;
        ASSERT_EQ(w->create(va, 3, Populate::No), kOk);
        EXPECT_EQ(w->populate(va, given(kGivenMfn, 3), attrs), kOk);
        Dump d = dump(*w);
        for (u64 i = 0; i < 3; ++i) EXPECT_EQ(d.pages.at(va + i * k4K), (Page{kGivenMfn + i, false, attrs})) << i;
        EXPECT_TRUE(w->env.invalidations().empty());
        const u64 calls = w->env.allocation_calls();
        EXPECT_EQ(w->populate(va + k4K, given(kGivenMfn + 100, 1)), kOk);
        EXPECT_EQ(text(w->env.invalidations()), text(pages_at({va + k4K})));
        EXPECT_EQ(dump(*w).pages.at(va + k4K), (Page{kGivenMfn + 100, false, kRw}));
        EXPECT_EQ(w->env.allocation_calls(), calls);
        EXPECT_EQ(w->env.live_pages(), 0u);
    }
}

// populate() with the frames and attributes already mapped changes nothing and invalidates
// nothing (set_gdt and every switch-in remap the same GDT frames); a change of attributes alone
// still rewrites and invalidates the page.
TYPED_TEST(PerdomainTest, PopulateSameFramesIsANoOp) {
    for (Path path : kPaths) {
        SCOPED_TRACE(name(path));
        auto w = this->world(path);
        const u64 va = kBase + 7 * k2M - 2 * k4K;  // crosses an L1 boundary
        ASSERT_EQ(w->create(va, 4, Populate::No), kOk);
        ASSERT_EQ(w->populate(va, given(kGivenMfn, 4)), kOk);
        const Dump before = dump(*w);
        EXPECT_EQ(w->populate(va, given(kGivenMfn, 4)), kOk);
        EXPECT_TRUE(w->env.invalidations().empty());
        EXPECT_EQ(dump(*w).pages, before.pages);
        const Attrs read_only{};
        EXPECT_EQ(w->populate(va + k4K, given(kGivenMfn + 1, 2), read_only), kOk);
        EXPECT_EQ(text(w->env.invalidations()), text(pages_at({va + k4K, va + 2 * k4K})));
        EXPECT_EQ(dump(*w).pages.at(va + 2 * k4K), (Page{kGivenMfn + 2, false, read_only}));
    }
}

// populate() refuses to overwrite an owned page (it would leak): AlreadyMapped at the first owned
// page, found before anything is written.
TYPED_TEST(PerdomainTest, PopulateRefusesOwnedPages) {
    for (Path path : kPaths) {
        SCOPED_TRACE(name(path));
        auto w = this->world(path);
        ASSERT_EQ(w->create(kBase, 4, Populate::No), kOk);
        ASSERT_EQ(w->create(kBase + 2 * k4K, 2, Populate::Yes), kOk);
        const auto before = w->env.snapshot();
        EXPECT_EQ(w->populate(kBase, given(kGivenMfn, 4)), (Outcome{Status::AlreadyMapped, kBase + 2 * k4K, Level::Pt}));
        EXPECT_TRUE(w->env.snapshot() == before);
        EXPECT_TRUE(w->env.invalidations().empty());
        EXPECT_EQ(w->destroy(kBase + 2 * k4K, 1), kOk);  // after destroy it may be populated
        EXPECT_EQ(w->populate(kBase, given(kGivenMfn, 3)), kOk);
        EXPECT_EQ(w->env.live_pages(), 1u);
    }
}

// populate() only works on a reserved range: NotMapped names the missing L2 or L1, nothing changes.
TYPED_TEST(PerdomainTest, PopulateNeedsReservedRange) {
    for (Path path : kPaths) {
        SCOPED_TRACE(name(path));
        auto w = this->world(path);
        EXPECT_EQ(w->populate(kBase + k1G, given(kGivenMfn, 1)), (Outcome{Status::NotMapped, kBase + k1G, Level::Pdpt}));
        ASSERT_EQ(w->create(kBase + k1G, 1, Populate::No), kOk);
        const auto before = w->env.snapshot();
        EXPECT_EQ(w->populate(kBase + k1G + k2M - k4K, given(kGivenMfn, 2)),
                  (Outcome{Status::NotMapped, kBase + k1G + k2M, Level::Pd}));
        EXPECT_TRUE(w->env.snapshot() == before);
    }
}

// destroy() clears every present page in the range, queues one invalidation per present page in
// VA order, frees exactly the owned ones and keeps the tables; holes and missing tables are fine.
TYPED_TEST(PerdomainTest, DestroyFreesExactlyOwnedPages) {
    for (Path path : kPaths) {
        SCOPED_TRACE(name(path));
        auto w = this->world(path);
        const u64 va = kBase + 2 * k1G + k2M - 4 * k4K;  // pages 0..7 straddle a 2 MiB line
        ASSERT_EQ(w->create(va, 8, Populate::No), kOk);
        ASSERT_EQ(w->create(va, 4, Populate::Yes), kOk);
        ASSERT_EQ(w->populate(va + 4 * k4K, given(kGivenMfn, 2)), kOk);
        const Dump before = dump(*w);
        const auto tables = w->env.live_tables();
        EXPECT_EQ(w->destroy(va + k4K, 6), kOk);
        EXPECT_EQ(text(w->env.invalidations()), text(pages_at({va + k4K, va + 2 * k4K, va + 3 * k4K, va + 4 * k4K, va + 5 * k4K})));
        EXPECT_EQ(w->env.live_pages(), 1u);
        const Dump after = dump(*w);
        EXPECT_EQ(after.pages.size(), 1u);
        EXPECT_EQ(after.pages.at(va), before.pages.at(va));
        EXPECT_EQ(after.l1_chunks, before.l1_chunks);
        EXPECT_EQ(w->env.live_tables(), tables);
        w->env.clear_invalidations();
        EXPECT_EQ(w->destroy(kBase + 7 * k1G, 1000), kOk);  // no tables at all there
        EXPECT_EQ(w->destroy(va + 4 * k4K, 4), kOk);        // holes only
        EXPECT_TRUE(w->env.invalidations().empty());
    }
}

// free() releases every owned page, every table and the L3; only the two roots remain.
TYPED_TEST(PerdomainTest, FreeReleasesEverything) {
    auto w = this->world(Path::Fast);
    ASSERT_EQ(w->create(kBase + k2M - k4K, 600, Populate::Yes), kOk);
    ASSERT_EQ(w->create(kBase + 3 * k1G, 20, Populate::No), kOk);
    ASSERT_EQ(w->populate(kBase + 3 * k1G, given(kGivenMfn, 10)), kOk);
    ASSERT_EQ(w->create(kBase + 511 * k1G + k1G - k4K, 1, Populate::Yes), kOk);  // the slot's last page
    w->use(Path::Slow);
    w->env.clear_invalidations();
    w->api.free(w->vcpu);
    EXPECT_EQ(w->env.live_pages(), 0u);
    EXPECT_EQ(w->env.live_tables(), 0u);
    EXPECT_EQ(w->env.memory().frame_count(), 2u);  // the vCPU's root and the idle root
    EXPECT_TRUE(w->env.invalidations().empty());
}

// Without ASI the vCPUs of a domain share one L3: a change through one is seen by the other, on
// either path, and the domain frees it once.
TYPED_TEST(PerdomainTest, SharedL3OfNonAsiDomain) {
    World<TypeParam> w(1, 0);
    const VcpuRef other{w.vcpu.l3, 1, 1};
    const Mfn other_root = w.make_root(other.l3);
    w.env.load(other, other_root);  // vCPU 1 runs: vCPU 0 goes the slow path, vCPU 1 the fast one
    ASSERT_EQ(w.create(kBase, 2, Populate::No), kOk);
    ASSERT_EQ(outcome(w.api.populate(other, Vaddr(kBase), given(kGivenMfn, 2).data(), 2, kRw)), kOk);
    EXPECT_EQ(dump(w).pages.size(), 2u);
    EXPECT_EQ(w.destroy(kBase, 1), kOk);
    EXPECT_EQ(dump(w).pages.size(), 1u);
    w.env.unload();
    w.api.free(w.vcpu);
    EXPECT_EQ(w.env.live_tables(), 0u);
    EXPECT_EQ(w.env.memory().frame_count(), 3u);  // three roots
}

// No range may cross a 1 GiB boundary or leave the slot; such calls change and allocate nothing.
TYPED_TEST(PerdomainTest, RangeRulesRefuseBeforeAnything) {
    for (Path path : kPaths) {
        SCOPED_TRACE(name(path));
        auto w = this->world(path);
        ASSERT_EQ(w->create(kBase + k1G - k4K, 1, Populate::Yes), kOk);
        const auto before = w->env.snapshot();
        const u64 calls = w->env.allocation_calls();
        const u64 edge = kBase + k1G - k4K;
        const Outcome crosses{Status::InvalidArgument, edge, Level::Pdpt};
        EXPECT_EQ(w->create(edge, 2, Populate::No), crosses);
        EXPECT_EQ(w->populate(edge, given(kGivenMfn, 2)), crosses);
        EXPECT_EQ(w->destroy(edge, 2), crosses);
        EXPECT_EQ(w->create(kBase, kMaxPages + 1, Populate::No), (Outcome{Status::InvalidArgument, kBase, Level::Pt}));
        EXPECT_EQ(w->destroy(kBase + 4 * k4K, kMaxPages), (Outcome{Status::InvalidArgument, kBase + 4 * k4K, Level::Pdpt}));
        const u64 outside[] = {kBase - k4K, kBase + 512 * k1G, hv::arch::kLinearPtBase, 0x0000'4000'0000'0000,
                               kBase + 0x800, 0x0000'8200'0000'0000 /* non-canonical slot 260 */};
        for (u64 va : outside) {
            const Outcome bad{Status::InvalidArgument, va, Level::Pt};
            EXPECT_EQ(w->create(va, 1, Populate::Yes), bad) << std::hex << va;
            EXPECT_EQ(w->populate(va, given(kGivenMfn, 1)), bad) << std::hex << va;
            EXPECT_EQ(w->destroy(va, 1), bad) << std::hex << va;
        }
        EXPECT_EQ(w->create(kBase, 0, Populate::Yes), kOk);  // empty: a no-op
        EXPECT_EQ(w->destroy(kBase, 0), kOk);
        EXPECT_TRUE(w->env.snapshot() == before);
        EXPECT_EQ(w->env.allocation_calls(), calls);
        EXPECT_TRUE(w->env.invalidations().empty());
        // A whole sub-slot is one legal range.
        EXPECT_EQ(w->create(kBase + 5 * k1G, kMaxPages, Populate::No), kOk);
        EXPECT_EQ(w->env.live_tables(), 1u + 2 + 1 + 512);
    }
}

// Machine frames the format cannot encode are refused rather than truncated.
TYPED_TEST(PerdomainTest, PopulateRefusesUnencodableFrames) {
    auto w = this->world(Path::Slow);
    ASSERT_EQ(w->create(kBase, 2, Populate::No), kOk);
    const u64 too_big = (TypeParam::kMaxMaddr >> 12) + 1;
    EXPECT_EQ(w->populate(kBase, {Mfn(kGivenMfn), Mfn(too_big)}), (Outcome{Status::InvalidArgument, kBase + k4K, Level::Pt}));
    EXPECT_TRUE(dump(*w).pages.empty());
}

// Mappings are never global (asi-reference property 17): populate() refuses the attribute, and
// nothing the API writes carries it.
TYPED_TEST(PerdomainTest, MappingsAreNeverGlobal) {
    for (Path path : kPaths) {
        SCOPED_TRACE(name(path));
        auto w = this->world(path);
        ASSERT_EQ(w->create(kBase, 8, Populate::No), kOk);
        EXPECT_EQ(w->populate(kBase, given(kGivenMfn, 1), Attrs{.write = true, .global = true}),
                  (Outcome{Status::InvalidArgument, kBase, Level::Pt}));
        ASSERT_EQ(w->populate(kBase, given(kGivenMfn, 4), Attrs{.user = true, .exec = true}), kOk);
        ASSERT_EQ(w->create(kBase, 8, Populate::Yes), kOk);
        for (const auto& [va, page] : dump(*w).pages) EXPECT_FALSE(page.attrs.global) << std::hex << va;
        if constexpr (std::same_as<TypeParam, X86PteFormat>) {
            // Also the raw G bit in every table entry on the way down.
            const Dump d = dump(*w);
            const u64 l3e = w->env.memory().words(w->vcpu.l3)[0];
            EXPECT_EQ(l3e & X86PteFormat::kG, 0u);
            const u64 l2e = w->env.memory().words(X86PteFormat::address(Level::Pdpt, l3e).mfn())[0];
            EXPECT_EQ(l2e & X86PteFormat::kG, 0u);
            EXPECT_EQ(d.pages.size(), 8u);
        }
    }
}

// Every possible allocation failure of create() rolls back: NoMemory, every frame byte-identical,
// nothing left allocated. Then the first success allocates exactly what is needed.
TYPED_TEST(PerdomainTest, AllocationFailureAtEveryPointRollsBack) {
    struct Case {
        u64 va, count;
        Populate populate;
        u64 allocations;  // tables + pages a success needs
    };
    const u64 gig = kBase + k1G;
    const Case cases[] = {
        {kBase + k2M - 2 * k4K, 4, Populate::Yes, 3 + 4},     // new L2, two L1s, four pages
        {gig + k2M - 3 * k4K, 5, Populate::Yes, 1 + 4},       // existing L1 with one page, new L1
        {kBase + 4 * k1G + k2M, 3 * 512, Populate::No, 1 + 3}, // reserve only: L2, three L1s
    };
    for (Path path : kPaths) {
        SCOPED_TRACE(name(path));
        auto w = this->world(path);
        ASSERT_EQ(w->create(gig + k2M - 2 * k4K, 1, Populate::Yes), kOk);  // the partial tree of case 2
        for (const Case& c : cases) {
            SCOPED_TRACE(testing::Message() << std::hex << "va 0x" << c.va);
            const auto before = w->env.snapshot();
            const auto tables = w->env.live_tables();
            const auto pages = w->env.live_pages();
            for (u64 n = 1; n <= c.allocations; ++n) {
                w->env.fail_nth_allocation(n);
                EXPECT_EQ(w->create(c.va, c.count, c.populate), (Outcome{Status::NoMemory, c.va, Level::Pdpt})) << n;
                EXPECT_TRUE(w->env.snapshot() == before) << "failing allocation " << n;
                EXPECT_EQ(w->env.live_tables(), tables) << n;
                EXPECT_EQ(w->env.live_pages(), pages) << n;
            }
            w->env.fail_nth_allocation(c.allocations + 1);  // one past the need: never reached
            const u64 calls = w->env.allocation_calls();
            EXPECT_EQ(w->create(c.va, c.count, c.populate), kOk);
            EXPECT_EQ(w->env.allocation_calls() - calls, c.allocations);
            w->env.fail_nth_allocation(0);
        }
        EXPECT_TRUE(w->env.invalidations().empty());
    }
}

// The fast path reaches existing tables only through the linear window, and the slow path never
// touches the window.
TYPED_TEST(PerdomainTest, EachPathUsesOnlyItsOwnAccess) {
    auto fast = this->world(Path::Fast);
    ASSERT_EQ(fast->create(kBase + k2M - k4K, 2, Populate::No), kOk);
    const u64 table_calls = fast->env.table_calls();
    ASSERT_EQ(fast->populate(kBase + k2M - k4K, given(kGivenMfn, 2)), kOk);
    ASSERT_EQ(fast->destroy(kBase + k2M - k4K, 2), kOk);
    EXPECT_EQ(fast->env.table_calls(), table_calls);
    EXPECT_GT(fast->env.linear_calls(), 0u);

    auto slow = this->world(Path::Slow);
    ASSERT_EQ(slow->create(kBase + k2M - k4K, 2, Populate::Yes), kOk);
    ASSERT_EQ(slow->destroy(kBase + k2M - k4K, 2), kOk);
    ASSERT_EQ(slow->create(kBase + k2M - k4K, 2, Populate::No), kOk);
    ASSERT_EQ(slow->populate(kBase + k2M - k4K, given(kGivenMfn, 2)), kOk);
    EXPECT_EQ(slow->env.linear_calls(), 0u);
}

// ---------------------------------------------------------------------------------------------
// The linear window arithmetic (what the image computes) against a real self-map.
// ---------------------------------------------------------------------------------------------

// The x86 hardware walk of `va` from `root`, self-map included: the host address of the byte.
u64* hardware_translate(hv::test::FakeMachineMemory& memory, Mfn root, u64 va) {
    Mfn table = root;
    for (Level level = Level::Pml4;; level = hv::mm::lower(level)) {
        const u64 entry = memory.words(table)[hv::mm::index_of(va, level)];
        EXPECT_TRUE(X86PteFormat::present(level, entry)) << std::hex << "va 0x" << va << " level " << unsigned(level);
        if (!X86PteFormat::present(level, entry)) return nullptr;
        if (level != Level::Pml4 && X86PteFormat::is_leaf(level, entry)) {
            EXPECT_EQ(level, Level::Pt);
            return memory.words(X86PteFormat::address(level, entry).mfn()) + (va & (k4K - 1)) / sizeof(u64);
        }
        table = X86PteFormat::address(level, entry).mfn();
    }
}

// linear_entry_va() through the self entry lands on the same entry as the fake MMU's walk, at
// every level; a fast-path write shows up there.
TEST(PerdomainLinearWindow, ArithmeticMatchesSelfMap) {
    World<X86PteFormat> w;
    auto& memory = w.env.memory();
    memory.words(w.root)[kSelfSlot] = X86PteFormat::make_table(Level::Pml4, w.root);
    w.use(Path::Fast);
    const u64 vas[] = {kBase, kBase + k2M - k4K, kBase + k2M, kBase + 7 * k1G + 0x1234'5000, kBase + 512 * k1G - k4K};
    for (u64 va : vas) ASSERT_EQ(w.create(va, 1, Populate::No), kOk);
    for (u64 va : vas) {
        for (Level level : {Level::Pml4, Level::Pdpt, Level::Pd, Level::Pt}) {
            const u64 linear = hv::mm::linear_entry_va(kSelfSlot, level, va);
            EXPECT_EQ(hardware_translate(memory, w.root, linear), w.env.linear_entry(level, Vaddr(va)))
                << std::hex << "va 0x" << va << " level " << unsigned(level);
        }
        ASSERT_EQ(w.populate(va, given(kGivenMfn, 1)), kOk);
        const u64 entry = *hardware_translate(memory, w.root, hv::mm::linear_entry_va(kSelfSlot, Level::Pt, va));
        EXPECT_EQ(X86PteFormat::address(Level::Pt, entry), Mfn(kGivenMfn).maddr());
    }
}

// ---------------------------------------------------------------------------------------------
// Hypervisor bugs the API catches.
// ---------------------------------------------------------------------------------------------

// If the "loaded" record is wrong (the root in CR3 maps another L3), the fast path panics rather
// than edit another vCPU's tables (asi-reference property 32).
TEST(PerdomainDeathTest, FastPathOnAnotherVcpusRootPanics) {
    World<X86PteFormat> w;
    World<X86PteFormat>::Api& api = w.api;
    const Mfn other_l3 = api.create_l3().value();
    const Mfn other_root = w.make_root(other_l3);
    ASSERT_EQ(w.create(kBase, 1, Populate::No), kOk);
    w.env.load(w.vcpu, other_root);
    EXPECT_DEATH((void)w.populate(kBase, given(kGivenMfn, 1)), "loaded_root_uses_this_l3");
}

// Tearing down tables that are loaded on this CPU is refused.
TEST(PerdomainDeathTest, FreeWhileLoadedPanics) {
    World<X86PteFormat> w;
    w.use(Path::Fast);
    EXPECT_DEATH(w.api.free(w.vcpu), "tables_not_loaded_here");
}

// A shared L3 freed twice (once per vCPU) is a double free, and the fake memory says so.
TEST(PerdomainDeathTest, SecondFreeOfSharedL3IsCaught) {
    World<X86PteFormat> w;
    w.use(Path::Slow);
    const VcpuRef second{w.vcpu.l3, w.vcpu.domain_id, 1};
    w.api.free(w.vcpu);
    EXPECT_DEATH(w.api.free(second), "unknown mfn");
}

// ---------------------------------------------------------------------------------------------
// Random operation sequences: fast path, slow path, a mix, and a reference model agree.
// ---------------------------------------------------------------------------------------------

// The simplest model we trust: pages by VA (owned or given), and which tables exist.
class Model {
  public:
    struct Entry {
        u64 mfn;  // 0 for owned pages: the API picks the frame
        bool owned;
        Attrs attrs;
    };

    // The API's argument rules, in its order.
    static Outcome check_range(u64 va, u64 count) {
        const bool in_slot = hv::is_canonical(va) && hv::mm::index_of(va, Level::Pml4) == kSlot;
        if (!in_slot || va % k4K != 0 || count > kMaxPages) return Outcome{Status::InvalidArgument, va, Level::Pt};
        if (count != 0 && va / k1G != (va + (count - 1) * k4K) / k1G) return Outcome{Status::InvalidArgument, va, Level::Pdpt};
        return kOk;
    }

    // Allocations create() makes (tables, then pages).
    u64 needs(u64 va, u64 count, Populate populate) const {
        u64 total = gigs_.count(gig(va)) ? 0 : 1;
        std::set<u64> chunks;
        for (u64 i = 0; i < count; ++i) {
            const u64 page = va + i * k4K;
            if (!chunks_.count(chunk(page))) chunks.insert(chunk(page));
            if (populate == Populate::Yes && !pages_.count(page)) ++total;
        }
        return total + chunks.size();
    }

    void create(u64 va, u64 count, Populate populate) {
        gigs_.insert(gig(va));
        for (u64 i = 0; i < count; ++i) {
            const u64 page = va + i * k4K;
            chunks_.insert(chunk(page));
            if (populate == Populate::Yes && !pages_.count(page)) pages_[page] = Entry{0, true, kRw};
        }
    }

    // What populate() answers after the range check.
    Outcome check_populate(u64 va, u64 count) const {
        if (!gigs_.count(gig(va))) return Outcome{Status::NotMapped, va, Level::Pdpt};
        // Page by page, in VA order: the first missing L1 or owned page decides.
        for (u64 i = 0; i < count; ++i) {
            const u64 page = va + i * k4K;
            if (!chunks_.count(chunk(page))) return Outcome{Status::NotMapped, std::max(va, chunk(page)), Level::Pd};
            const auto it = pages_.find(page);
            if (it != pages_.end() && it->second.owned) return Outcome{Status::AlreadyMapped, page, Level::Pt};
        }
        return kOk;
    }

    std::vector<Invalidation> populate(u64 va, const std::vector<Mfn>& mfns, Attrs attrs) {
        std::vector<Invalidation> invalidations;
        for (u64 i = 0; i < mfns.size(); ++i) {
            const u64 page = va + i * k4K;
            if (pages_.count(page)) invalidations.push_back(Invalidation{Vaddr(page), Level::Pt});
            pages_[page] = Entry{mfns[i].raw(), false, attrs};
        }
        return invalidations;
    }

    std::vector<Invalidation> destroy(u64 va, u64 count) {
        std::vector<Invalidation> invalidations;
        for (u64 i = 0; i < count; ++i) {
            const u64 page = va + i * k4K;
            if (pages_.erase(page)) invalidations.push_back(Invalidation{Vaddr(page), Level::Pt});
        }
        return invalidations;
    }

    std::size_t owned_count() const {
        std::size_t count = 0;
        for (const auto& [va, e] : pages_) count += e.owned ? 1 : 0;
        return count;
    }
    std::size_t table_count() const { return 1 + gigs_.size() + chunks_.size(); }
    const std::map<u64, Entry>& pages() const { return pages_; }
    const std::set<u64>& chunks() const { return chunks_; }
    const std::set<u64>& gigs() const { return gigs_; }

  private:
    static u64 gig(u64 va) { return va & ~(k1G - 1); }
    static u64 chunk(u64 va) { return va & ~(k2M - 1); }

    std::map<u64, Entry> pages_;
    std::set<u64> chunks_;
    std::set<u64> gigs_;
};

// Tables and pages of a world equal the model's; owned frames are live, distinct pages.
template <class Format>
void expect_matches(World<Format>& w, const Model& model, int op) {
    const Dump d = dump(w);
    ASSERT_EQ(d.l2_gigs, model.gigs()) << "op " << op;
    ASSERT_EQ(d.l1_chunks, model.chunks()) << "op " << op;
    ASSERT_EQ(d.pages.size(), model.pages().size()) << "op " << op;
    std::set<u64> owned_frames;
    for (const auto& [va, want] : model.pages()) {
        const auto it = d.pages.find(va);
        ASSERT_NE(it, d.pages.end()) << "op " << op << std::hex << " va 0x" << va;
        const Page& got = it->second;
        ASSERT_EQ(got.owned, want.owned) << "op " << op;
        ASSERT_EQ(got.attrs, want.attrs) << "op " << op;
        ASSERT_FALSE(got.attrs.global);
        if (want.owned) {
            ASSERT_TRUE(w.env.is_live_page(Mfn(got.mfn)));
            owned_frames.insert(got.mfn);
        } else {
            ASSERT_EQ(got.mfn, want.mfn) << "op " << op;
        }
    }
    ASSERT_EQ(owned_frames.size(), model.owned_count());
    ASSERT_EQ(w.env.live_pages(), model.owned_count()) << "op " << op;
    ASSERT_EQ(w.env.live_tables(), model.table_count()) << "op " << op;
}

enum class OpKind { Create, Populate, Destroy };

TYPED_TEST(PerdomainTest, RandomOperationsFastSlowAndModelAgree) {
    using TheWorld = World<TypeParam>;
    const Attrs attr_choices[] = {kRw, Attrs{}, Attrs{.exec = true}, Attrs{.write = true, .user = true},
                                  Attrs{.mem_type = MemType::Uncached}, Attrs{.write = true, .global = true}};
    for (u64 seed : {11u, 12u, 13u}) {
        SCOPED_TRACE(testing::Message() << "seed " << seed);
        // fast: always the linear window; slow: always the table walk; mixed: either, per call.
        TheWorld fast, slow, mixed;
        TheWorld* const worlds[] = {&fast, &slow, &mixed};
        fast.use(Path::Fast);
        slow.use(Path::Slow);
        Model model;
        std::mt19937_64 rng(seed);
        auto pick = [&](u64 bound) { return rng() % bound; };
        for (int op = 0; op < 700; ++op) {
            mixed.use(pick(2) ? Path::Fast : Path::Slow);
            // A VA near the start or the end of one of three sub-slots; now and then a bad one.
            const u64 gig = kBase + pick(3) * k1G;
            u64 va = pick(2) ? gig + pick(1024) * k4K : gig + k1G - (1 + pick(1024)) * k4K;
            if (pick(40) == 0) va += 0x800;
            if (pick(40) == 0) va += 512 * k1G;  // slot 261
            const u64 count = pick(30) == 0 ? 0 : 1 + pick(pick(6) == 0 ? 600 : 24);
            const Outcome range = Model::check_range(va, count);
            const OpKind kind = static_cast<OpKind>(pick(3));
            Outcome want = range;
            std::vector<Invalidation> want_invalidations;
            std::vector<Outcome> got;
            const u64 table_calls = fast.env.table_calls();
            for (TheWorld* w : worlds) w->env.clear_invalidations();
            if (kind == OpKind::Create) {
                const Populate populate = pick(2) ? Populate::Yes : Populate::No;
                const u64 needs = range == kOk ? model.needs(va, count, populate) : 0;
                const u64 fail_at = pick(4) == 0 ? 1 + pick(needs + 2) : 0;
                if (range == kOk && count != 0 && fail_at != 0 && fail_at <= needs)
                    want = Outcome{Status::NoMemory, va, Level::Pdpt};
                else if (range == kOk && count != 0)
                    model.create(va, count, populate);
                for (TheWorld* w : worlds) {
                    w->env.fail_nth_allocation(fail_at);
                    got.push_back(w->create(va, count, populate));
                    w->env.fail_nth_allocation(0);
                }
            } else if (kind == OpKind::Populate) {
                const Attrs attrs = attr_choices[pick(std::size(attr_choices))];
                std::vector<Mfn> mfns = given(kGivenMfn + pick(1 << 20), count);
                if (want == kOk && count != 0 && attrs.global) want = Outcome{Status::InvalidArgument, va, Level::Pt};
                if (want == kOk && count != 0) want = model.check_populate(va, count);
                if (want == kOk && count != 0) want_invalidations = model.populate(va, mfns, attrs);
                for (TheWorld* w : worlds) got.push_back(w->populate(va, mfns, attrs));
            } else {
                if (want == kOk) want_invalidations = model.destroy(va, count);
                for (TheWorld* w : worlds) got.push_back(w->destroy(va, count));
            }
            for (std::size_t i = 0; i < got.size(); ++i) {
                ASSERT_EQ(got[i], want) << "op " << op << " world " << i << std::hex << " va 0x" << va << " count " << std::dec << count;
                ASSERT_EQ(text(worlds[i]->env.invalidations()), text(want_invalidations)) << "op " << op << " world " << i;
            }
            if (kind != OpKind::Create) {
                ASSERT_EQ(fast.env.table_calls(), table_calls) << "op " << op;
            }
            ASSERT_EQ(slow.env.linear_calls(), 0u);
            if (op % 50 == 0 || op == 699) {
                for (TheWorld* w : worlds) expect_matches(*w, model, op);
                // Same code, same allocation order: the three worlds' memories are byte-identical.
                const auto reference = fast.env.snapshot();
                ASSERT_TRUE(slow.env.snapshot() == reference) << "op " << op;
                ASSERT_TRUE(mixed.env.snapshot() == reference) << "op " << op;
            }
        }
        // Teardown leaves nothing: destroy frees the owned pages, free() the tables.
        for (TheWorld* w : worlds) {
            w->use(Path::Slow);
            for (u64 g = 0; g < 3; ++g) ASSERT_EQ(w->destroy(kBase + g * k1G, kMaxPages), kOk);
            EXPECT_EQ(w->env.live_pages(), 0u);
            w->api.free(w->vcpu);
            EXPECT_EQ(w->env.live_tables(), 0u);
            EXPECT_EQ(w->env.memory().frame_count(), 2u);
        }
    }
}

}  // namespace
