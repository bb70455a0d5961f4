// SPDX-License-Identifier: MIT
// Mapcache core tests: slot PTEs and invalidation, slot reuse, exhaustion, the leak check,
// handle move semantics, and nesting: a simulated interrupt at the two racy points (inside the
// claim, inside the release) and real asynchronous signals hammering one cache.
#include "hv/mm/mapcache.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/time.h>

#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "arch/pte.hpp"

namespace {

using hv::kPageSize;
using hv::Mfn;
using hv::u64;
using hv::Vaddr;
using hv::arch::X86PteFormat;
using hv::mm::Attrs;
using hv::mm::Level;

constexpr u64 kWindow = 0xffff'8200'4000'0000;  // the mapcache sub-slot of the per-domain area

// An L1 with 64 entries, a recording TLB, and optional hooks that play a nested interrupt.
struct RecordingEnv {
    Vaddr slot_va(unsigned slot) { return Vaddr(kWindow + slot * kPageSize); }
    void write_pte(unsigned slot, u64 entry) {
        ptes.at(slot) = entry;
        if (on_write) std::exchange(on_write, nullptr)(slot, entry);  // one-shot
    }
    void invalidate(Vaddr va) { invalidated.push_back(va.raw()); }
    void preempt_point() {
        if (on_preempt) std::exchange(on_preempt, nullptr)();  // one-shot
    }

    std::array<u64, 64> ptes{};
    std::vector<u64> invalidated;
    std::function<void()> on_preempt;
    std::function<void(unsigned, u64)> on_write;
};

u64 mapped_mfn(u64 entry) { return X86PteFormat::address(Level::Pt, entry).mfn().raw(); }

template <class Slots>
class MapcacheTest : public testing::Test {
  protected:
    static constexpr unsigned N = Slots::value;
    using Cache = hv::mm::Mapcache<X86PteFormat, RecordingEnv, N>;
    using HandleType = typename Cache::MappedFrame;

    RecordingEnv env_;
    Cache cache_{env_};  // declared after env_, so destroyed first; its destructor checks for leaks
};

struct SlotNames {
    template <class T>
    static std::string GetName(int) {
        return std::to_string(T::value) + "Slots";
    }
};
using SlotCounts = testing::Types<std::integral_constant<unsigned, 16>, std::integral_constant<unsigned, 64>>;
TYPED_TEST_SUITE(MapcacheTest, SlotCounts, SlotNames);

static_assert(hv::mm::MapcacheEnv<RecordingEnv>);

// map() writes a present, read-write, non-executable, non-global leaf for the frame at the
// slot's VA; the handle's end clears the entry and invalidates exactly that VA.
TYPED_TEST(MapcacheTest, MapWritesNonGlobalLeafAndUnmapClears) {
    {
        const auto frame = this->cache_.map(Mfn(0x1234));
        EXPECT_EQ(frame.slot(), 0u);
        EXPECT_EQ(frame.va(), Vaddr(kWindow));
        EXPECT_EQ(frame.bytes(), reinterpret_cast<hv::u8*>(kWindow));
        const u64 entry = this->env_.ptes[0];
        EXPECT_TRUE(X86PteFormat::present(Level::Pt, entry));
        EXPECT_EQ(mapped_mfn(entry), 0x1234u);
        EXPECT_EQ(X86PteFormat::attrs(Level::Pt, entry), (Attrs{.write = true}));
        EXPECT_EQ(entry & X86PteFormat::kG, 0u);
        EXPECT_EQ(this->cache_.slots_in_use(), 1u);
        EXPECT_TRUE(this->env_.invalidated.empty());  // a non-present entry is never cached
    }
    EXPECT_EQ(this->env_.ptes[0], 0u);
    EXPECT_EQ(this->env_.invalidated, std::vector<u64>{kWindow});
    EXPECT_EQ(this->cache_.slots_in_use(), 0u);
}

// Live handles get distinct slots, lowest free first; a released slot is handed out again.
TYPED_TEST(MapcacheTest, SlotsAreDistinctAndReused) {
    using Handle = typename TestFixture::HandleType;
    std::vector<Handle> frames;
    for (unsigned i = 0; i < TestFixture::N; ++i) {
        frames.push_back(this->cache_.map(Mfn(0x100 + i)));
        EXPECT_EQ(frames.back().slot(), i);
        EXPECT_EQ(mapped_mfn(this->env_.ptes[i]), 0x100u + i);
    }
    EXPECT_EQ(this->cache_.slots_in_use(), TestFixture::N);
    frames[5].reset();
    frames[3].reset();
    EXPECT_EQ(this->cache_.slots_in_use(), TestFixture::N - 2);
    const auto again = this->cache_.map(Mfn(0x999));
    EXPECT_EQ(again.slot(), 3u);
    EXPECT_EQ(mapped_mfn(this->env_.ptes[3]), 0x999u);
}

// slots_in_use() is the leak check: it counts live handles and drops to zero with them;
// all_free() (the image's check on every return to a guest) says the same without counting.
TYPED_TEST(MapcacheTest, LeakCheckCountsLiveHandles) {
    using Handle = typename TestFixture::HandleType;
    std::vector<Handle> frames;
    EXPECT_TRUE(this->cache_.all_free());
    for (unsigned i = 0; i < 7; ++i) {
        frames.push_back(this->cache_.map(Mfn(i + 1)));
        EXPECT_EQ(this->cache_.slots_in_use(), i + 1);
        EXPECT_FALSE(this->cache_.all_free());
    }
    frames.erase(frames.begin(), frames.begin() + 6);
    EXPECT_FALSE(this->cache_.all_free());  // the last slot alone still counts
    frames.clear();
    EXPECT_EQ(this->cache_.slots_in_use(), 0u);
    EXPECT_TRUE(this->cache_.all_free());
    EXPECT_EQ(this->env_.invalidated.size(), 7u);
    for (unsigned i = 0; i < 7; ++i) EXPECT_EQ(this->env_.ptes[i], 0u);
}

// Handles move but never copy; a moved-from handle unmaps nothing; assigning over a live handle
// unmaps its old frame first.
TYPED_TEST(MapcacheTest, HandleMoveSemantics) {
    using Handle = typename TestFixture::HandleType;
    static_assert(!std::is_copy_constructible_v<Handle> && !std::is_copy_assignable_v<Handle>);
    static_assert(std::is_move_constructible_v<Handle> && std::is_move_assignable_v<Handle>);
    Handle first = this->cache_.map(Mfn(0xa));
    Handle moved(std::move(first));
    EXPECT_FALSE(first.mapped());  // NOLINT(bugprone-use-after-move): that is the point
    EXPECT_TRUE(moved.mapped());
    EXPECT_EQ(moved.slot(), 0u);
    first.reset();  // empty: nothing happens
    EXPECT_TRUE(this->env_.invalidated.empty());
    EXPECT_EQ(this->cache_.slots_in_use(), 1u);

    Handle other = this->cache_.map(Mfn(0xb));
    EXPECT_EQ(other.slot(), 1u);
    other = std::move(moved);  // slot 1 is unmapped, slot 0 changes hands
    EXPECT_EQ(this->env_.invalidated, std::vector<u64>{kWindow + kPageSize});
    EXPECT_EQ(this->env_.ptes[1], 0u);
    EXPECT_EQ(other.slot(), 0u);
    EXPECT_FALSE(moved.mapped());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(this->cache_.slots_in_use(), 1u);

    Handle& alias = other;
    other = std::move(alias);  // self-move keeps the mapping
    EXPECT_TRUE(other.mapped());
    EXPECT_EQ(this->cache_.slots_in_use(), 1u);
    other.reset();
    other.reset();
    EXPECT_EQ(this->cache_.slots_in_use(), 0u);
    EXPECT_EQ(this->env_.invalidated.size(), 2u);
}

// A default-built handle is empty: nothing to unmap, and it can take a mapping by move.
TYPED_TEST(MapcacheTest, DefaultHandleIsEmpty) {
    using Handle = typename TestFixture::HandleType;
    Handle empty;
    EXPECT_FALSE(empty.mapped());
    empty.reset();
    EXPECT_TRUE(this->env_.invalidated.empty());
    empty = this->cache_.map(Mfn(0xc));
    EXPECT_TRUE(empty.mapped());
    EXPECT_EQ(this->cache_.slots_in_use(), 1u);
    empty.reset();
    EXPECT_EQ(this->cache_.slots_in_use(), 0u);
}

// An interrupt that maps between the claim's read and its compare-and-swap takes the slot the
// outer map() had picked; the outer one retries and gets another. Each PTE holds its own frame.
TYPED_TEST(MapcacheTest, NestedMapInsideClaimGetsAnotherSlot) {
    using Handle = typename TestFixture::HandleType;
    const Handle held = this->cache_.map(Mfn(0x10));
    std::optional<Handle> nested;
    this->env_.on_preempt = [&] { nested.emplace(this->cache_.map(Mfn(0x20))); };
    const Handle outer = this->cache_.map(Mfn(0x30));
    ASSERT_TRUE(nested.has_value());
    EXPECT_EQ(nested->slot(), 1u);
    EXPECT_EQ(outer.slot(), 2u);
    EXPECT_EQ(mapped_mfn(this->env_.ptes[0]), 0x10u);
    EXPECT_EQ(mapped_mfn(this->env_.ptes[1]), 0x20u);
    EXPECT_EQ(mapped_mfn(this->env_.ptes[2]), 0x30u);
    nested.reset();
    EXPECT_EQ(this->cache_.slots_in_use(), 2u);
}

// A real interrupt handler maps and unmaps before it returns: the outer map() may then use the
// slot it picked, whose entry the handler has already cleared.
TYPED_TEST(MapcacheTest, NestedMapAndUnmapInsideClaim) {
    unsigned nested_slot = 99;
    this->env_.on_preempt = [&] {
        const auto nested = this->cache_.map(Mfn(0x20));
        nested_slot = nested.slot();
    };
    const auto outer = this->cache_.map(Mfn(0x30));
    EXPECT_EQ(nested_slot, 0u);
    EXPECT_EQ(outer.slot(), 0u);
    EXPECT_EQ(mapped_mfn(this->env_.ptes[0]), 0x30u);
    EXPECT_EQ(this->env_.invalidated, std::vector<u64>{kWindow});  // the handler's unmap
}

// An interrupt in the middle of a release (entry cleared, bit not yet freed) never gets the slot
// being released.
TYPED_TEST(MapcacheTest, NestedMapInsideReleaseAvoidsThatSlot) {
    using Handle = typename TestFixture::HandleType;
    Handle first = this->cache_.map(Mfn(0x10));
    const Handle second = this->cache_.map(Mfn(0x11));
    std::optional<Handle> nested;
    this->env_.on_write = [&](unsigned slot, u64 entry) {
        EXPECT_EQ(slot, 0u);
        EXPECT_EQ(entry, 0u);
        nested.emplace(this->cache_.map(Mfn(0x20)));
    };
    first.reset();
    ASSERT_TRUE(nested.has_value());
    EXPECT_EQ(nested->slot(), 2u);
    EXPECT_EQ(this->env_.ptes[0], 0u);
    EXPECT_EQ(this->cache_.slots_in_use(), 2u);
}

using Cache16 = hv::mm::Mapcache<X86PteFormat, RecordingEnv, 16>;

void map_one_too_many(Cache16& cache) {
    std::vector<Cache16::MappedFrame> frames;
    for (unsigned i = 0; i < 17; ++i) frames.push_back(cache.map(Mfn(i + 1)));
}

void destroy_with_live_handle() {
    RecordingEnv env;
    auto* cache = new Cache16(env);
    const auto frame = cache->map(Mfn(1));
    delete cache;
}

// Running out of slots is a hypervisor bug (a leaked handle): it panics.
TEST(MapcacheDeathTest, ExhaustionPanics) {
    RecordingEnv env;
    Cache16 cache(env);
    EXPECT_DEATH(map_one_too_many(cache), "mapcache_has_free_slot");
}

// A mapcache destroyed while a handle is alive would leave it dangling: it panics.
TEST(MapcacheDeathTest, DestroyedWithLiveHandlePanics) {
    EXPECT_DEATH(destroy_with_live_handle(), "no_mapping_outlives_its_mapcache");
}

// ---------------------------------------------------------------------------------------------
// Real asynchronous nesting: a timer signal maps and unmaps on the same cache while the main
// loop maps and unmaps. Every entry must hold its own frame at every check.
// ---------------------------------------------------------------------------------------------

// Signal-safe: fixed arrays and atomics only.
struct SignalSafeEnv {
    Vaddr slot_va(unsigned slot) { return Vaddr(kWindow + slot * kPageSize); }
    void write_pte(unsigned slot, u64 entry) { __atomic_store_n(&ptes[slot], entry, __ATOMIC_RELAXED); }
    void invalidate(Vaddr) { __atomic_fetch_add(&invalidations, 1, __ATOMIC_RELAXED); }
    u64 pte(unsigned slot) const { return __atomic_load_n(&ptes[slot], __ATOMIC_RELAXED); }

    u64 ptes[16]{};
    u64 invalidations = 0;
};
using SignalCache = hv::mm::Mapcache<X86PteFormat, SignalSafeEnv, 16>;

SignalSafeEnv* g_env = nullptr;
SignalCache* g_cache = nullptr;
volatile sig_atomic_t g_handled = 0;
volatile sig_atomic_t g_broken = 0;

constexpr u64 kIrqMfn = 0x7000;

void nested_mapper(int) {
    const auto a = g_cache->map(Mfn(kIrqMfn));
    {
        const auto b = g_cache->map(Mfn(kIrqMfn + 1));
        if (a.slot() == b.slot() || mapped_mfn(g_env->pte(b.slot())) != kIrqMfn + 1) g_broken = 1;
    }
    if (mapped_mfn(g_env->pte(a.slot())) != kIrqMfn) g_broken = 1;
    g_handled = g_handled + 1;
}

TEST(MapcacheSignalTest, InterruptsNeverShareALiveSlot) {
    SignalSafeEnv env;
    SignalCache cache(env);
    g_env = &env;
    g_cache = &cache;
    struct sigaction action {};
    action.sa_handler = nested_mapper;
    sigemptyset(&action.sa_mask);
    struct sigaction previous {};
    ASSERT_EQ(sigaction(SIGALRM, &action, &previous), 0);
    const itimerval every_50us{{0, 50}, {0, 50}};
    ASSERT_EQ(setitimer(ITIMER_REAL, &every_50us, nullptr), 0);

    const auto start = std::chrono::steady_clock::now();
    u64 rounds = 0;
    bool broken = false;
    while ((g_handled < 300 || rounds < 100000) && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
        const u64 mfn = 0x100 + (rounds % 0x1000);
        const auto x = cache.map(Mfn(mfn));
        const auto y = cache.map(Mfn(mfn + 0x2000));
        broken |= x.slot() == y.slot();
        broken |= mapped_mfn(env.pte(x.slot())) != mfn;
        broken |= mapped_mfn(env.pte(y.slot())) != mfn + 0x2000;
        ++rounds;
    }

    const itimerval off{};
    ASSERT_EQ(setitimer(ITIMER_REAL, &off, nullptr), 0);
    ASSERT_EQ(sigaction(SIGALRM, &previous, nullptr), 0);
    EXPECT_FALSE(broken);
    EXPECT_EQ(g_broken, 0);
    EXPECT_GT(g_handled, 0) << "no signal arrived: the test proved nothing";
    EXPECT_EQ(cache.slots_in_use(), 0u);
    for (unsigned slot = 0; slot < 16; ++slot) EXPECT_EQ(env.pte(slot), 0u) << slot;
    g_cache = nullptr;
    g_env = nullptr;
}

}  // namespace
