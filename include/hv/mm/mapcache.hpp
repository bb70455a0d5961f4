// SPDX-License-Identifier: MIT
// Mapcache core (generic): N map_domain_page slots of one owner, lock-free, with RAII handles.
//
// One Mapcache belongs to one owner: a vCPU under ASI (its slots live in that vCPU's per-domain
// area, so no other vCPU's tables map them), a pCPU otherwise. The owner never runs on two CPUs
// at once, so the only concurrency is nesting: an interrupt on the same CPU may map (and unmap)
// while the interrupted code is in the middle of map() or of a handle's destructor. The slot
// bitmap is therefore claimed with compare-and-swap and released with an atomic AND, and no
// lock is taken anywhere (a lock here would deadlock against the nested interrupt).
//
// Slot lifetime:
//
//   free ──CAS sets bit──► claimed ──env.write_pte(leaf)──► mapped (a MappedFrame holds it)
//    ▲                                                          │ ~MappedFrame / reset()
//    └──── atomic AND clears bit ◄── env.invalidate(va) ◄── env.write_pte(0)
//
// The PTE is cleared and the VA invalidated *before* the bit is released, so whoever claims the
// slot next (maybe a nested interrupt) never sees a stale translation, and map() needs no
// invalidation of its own (a non-present entry is never cached [SDM 3A §4.10.2.3]).
// Invalidation is local only: no other CPU ever loaded these entries.
//
// Running out of slots means a handle leaked or nesting is deeper than N: a hypervisor bug,
// reported by HV_CHECK. slots_in_use() is the leak check; the destructor checks it too.
#pragma once

#include <concepts>

#include "hv/core/addr.hpp"
#include "hv/core/check.hpp"
#include "hv/core/types.hpp"
#include "hv/mm/attrs.hpp"
#include "hv/mm/level.hpp"
#include "hv/mm/page_table.hpp"

namespace hv::mm {

// What the mapcache needs from the arch: where slot i is, and its L1 entry.
template <class E>
concept MapcacheEnv = requires(E& env, unsigned slot, u64 entry, Vaddr va) {
    { env.slot_va(slot) } -> std::same_as<Vaddr>;  // the VA slot `slot` maps
    env.write_pte(slot, entry);                    // one 64-bit store to the slot's L1 entry
    env.invalidate(va);                            // drop va from this CPU's TLB, now
};

template <PteFormat Format, MapcacheEnv Env, unsigned N>
class Mapcache {
    static_assert(N >= 1 && N <= 64, "one 64-bit bitmap holds the slots");

  public:
    // Slot mappings: read-write, never executable, never global (they must not outlive a switch
    // of the loaded root).
    static constexpr Attrs kSlotAttrs{.write = true};
    static constexpr unsigned kSlotCount = N;

    // The mapping of one frame; move-only. Unmaps the frame when destroyed or reset.
    class MappedFrame {
      public:
        // An empty handle (maps nothing), for code that maps only on one of its paths.
        MappedFrame() : cache_(nullptr), slot_(0), va_() {}
        MappedFrame(MappedFrame&& other) : cache_(other.cache_), slot_(other.slot_), va_(other.va_) {
            other.cache_ = nullptr;
        }
        MappedFrame& operator=(MappedFrame&& other) {
            if (this != &other) {
                reset();
                cache_ = other.cache_;
                slot_ = other.slot_;
                va_ = other.va_;
                other.cache_ = nullptr;
            }
            return *this;
        }
        MappedFrame(const MappedFrame&) = delete;
        MappedFrame& operator=(const MappedFrame&) = delete;
        ~MappedFrame() { reset(); }

        // Unmaps now; the handle is empty afterwards.
        void reset() {
            if (cache_ == nullptr) return;
            Mapcache* const cache = cache_;
            cache_ = nullptr;
            cache->release(slot_, va_);
        }

        bool mapped() const { return cache_ != nullptr; }
        unsigned slot() const { return slot_; }
        Vaddr va() const { return va_; }
        template <class T>
        T* as() const {
            HV_DEBUG_ASSERT(mapped());
            return va_.as<T>();
        }
        u8* bytes() const { return as<u8>(); }

      private:
        friend class Mapcache;
        MappedFrame(Mapcache* cache, unsigned slot, Vaddr va) : cache_(cache), slot_(slot), va_(va) {}

        Mapcache* cache_;  // nullptr: empty (moved from or reset)
        unsigned slot_;
        Vaddr va_;
    };

    explicit Mapcache(Env& env) : env_(env) {}
    Mapcache(const Mapcache&) = delete;
    Mapcache& operator=(const Mapcache&) = delete;
    // A live handle would point at a dead cache.
    ~Mapcache() {
        const bool no_mapping_outlives_its_mapcache = slots_in_use() == 0;
        HV_CHECK(no_mapping_outlives_its_mapcache);
    }

    // Maps `mfn` read-write at a free slot of this owner. Safe to nest from an interrupt on the
    // same owner. Panics if every slot is in use.
    [[nodiscard]] MappedFrame map(Mfn mfn) {
        HV_DEBUG_ASSERT(mfn.raw() <= (Format::kMaxMaddr >> kPageShift));
        const unsigned slot = claim_slot();
        const Vaddr va = env_.slot_va(slot);
        env_.write_pte(slot, Format::make_leaf(Level::Pt, mfn.maddr(), kSlotAttrs));
        return MappedFrame(this, slot, va);
    }

    // Slots mapped now: the leak check (0 whenever the owner holds no handle).
    unsigned slots_in_use() const {
        return static_cast<unsigned>(__builtin_popcountll(__atomic_load_n(&used_, __ATOMIC_RELAXED)));
    }
    // slots_in_use() == 0 without the count (the image has no POPCNT: a libgcc call per count).
    bool all_free() const { return __atomic_load_n(&used_, __ATOMIC_RELAXED) == 0; }

  private:
    static constexpr u64 kAllSlots = N == 64 ? ~u64{0} : (u64{1} << N) - 1;

    // Lowest free slot, claimed atomically. If a nested interrupt claims a slot between our read
    // and our CAS, the CAS fails, reloads the bitmap and we pick again.
    unsigned claim_slot() {
        u64 used = __atomic_load_n(&used_, __ATOMIC_RELAXED);
        for (;;) {
            const bool mapcache_has_free_slot = used != kAllSlots;
            HV_CHECK(mapcache_has_free_slot);
            const unsigned slot = static_cast<unsigned>(__builtin_ctzll(~used));
            // Test seam: a host env may run a nested "interrupt" exactly here. The image's env has
            // no such member, and this compiles to nothing.
            if constexpr (requires { env_.preempt_point(); }) env_.preempt_point();
            if (__atomic_compare_exchange_n(&used_, &used, used | (u64{1} << slot), false, __ATOMIC_ACQUIRE,
                                            __ATOMIC_RELAXED))
                return slot;
        }
    }

    // Clear, invalidate, then free the slot (release: the clear is visible before the bit). Out of
    // line: every handle's end calls it, and inlined it would crowd its callers' fast paths.
    [[gnu::noinline]] void release(unsigned slot, Vaddr va) {
        env_.write_pte(slot, 0);
        env_.invalidate(va);
        __atomic_fetch_and(&used_, ~(u64{1} << slot), __ATOMIC_RELEASE);
    }

    Env& env_;
    u64 used_ = 0;  // bit i set: slot i claimed; only ever accessed atomically
};

}  // namespace hv::mm
