// SPDX-License-Identifier: MIT
// Per-domain / per-vCPU mapping API (generic): the mappings below one L4 slot (260).
//
// Every root that runs a vCPU points its L4 slot 260 at an L3 table. Under ASI each vCPU has its
// own L3; without ASI all vCPUs of a domain share one. This API owns everything below that L3:
//
//   root (L4) [260] ──► L3 (VcpuRef::l3)      one entry = one 1 GiB "sub-slot" (GDT/LDT, mapcache…)
//                        [i] ──► L2            one entry = 2 MiB
//                                [j] ──► L1    one entry = one 4 KiB page:
//                                              owned (AVAIL0 set): a zeroed frame this API
//                                                 allocated in create() and frees in destroy()/free()
//                                              given (AVAIL0 clear): a caller's frame (populate())
//
// Callers name a vCPU (VcpuRef) and a VA range, never a table. Rules:
//   - A range never crosses a 1 GiB boundary (one L3 entry), or the call is InvalidArgument.
//   - create() allocates everything first and changes nothing if an allocation fails (two
//     phases, like the walker); populate() and destroy() allocate nothing.
//   - Mappings are never global (asi-reference §8.2 property 17): populate() refuses
//     Attrs::global, and owned pages use kOwnedAttrs.
//   - Tables stay in place when their pages are destroyed; free() tears everything down.
//
// Fast and slow path: when env.loaded(vcpu) says the vCPU's tables are the ones loaded on this
// CPU, entries are read and written through the linear (self-map) window,
// env.linear_entry(level, va), top-down (an entry of a level is only reachable once the entries
// above it are present). Otherwise the tables are walked from the L3 through env.table(). Both
// paths run the same code over two "Access" implementations, so they agree by construction;
// the unit tests check it on random operation sequences. create() links new tables after filling
// them through env.table() (a new table is not reachable through the window until it is linked).
//
// Concurrency: no locking here. The caller serialises operations on one L3 (the vCPU itself, or
// the domain lock for a shared L3) and keeps env.loaded(vcpu) stable for the call (interrupts
// off, or no lazy context switch from interrupt context). TLB: invalidations are only queued
// (env.invalidate); frames given to env.free_page()/free_table() must not be reused before the
// flush, exactly as for the walker.
#pragma once

#include <concepts>

#include "hv/core/addr.hpp"
#include "hv/core/check.hpp"
#include "hv/core/optional.hpp"
#include "hv/core/result.hpp"
#include "hv/core/status.hpp"
#include "hv/core/types.hpp"
#include "hv/mm/attrs.hpp"
#include "hv/mm/frame_pool.hpp"
#include "hv/mm/level.hpp"
#include "hv/mm/page_table.hpp"

namespace hv::mm {

// The vCPU an operation targets, as the caller knows it. Without ASI all vCPUs of a domain carry
// the same l3.
struct VcpuRef {
    Mfn l3;          // the L3 table behind L4 slot 260 in this vCPU's roots
    u32 domain_id;
    u32 vcpu_id;
};

enum class Populate : u8 { No, Yes };

// Entry formats that can tag an entry with a software-available bit the hardware ignores.
template <class F>
concept OwnedBitFormat = PteFormat<F> && requires(Level level, u64 entry) {
    { F::set_avail0(level, entry) } -> std::same_as<u64>;
    { F::avail0(level, entry) } -> std::same_as<bool>;
};

// What the per-domain API needs from the outside world.
template <class E>
concept PerdomainEnv = requires(E& env, const VcpuRef& vcpu, Mfn mfn, Vaddr va, Level level) {
    { env.table(mfn) } -> std::same_as<u64*>;              // view of a table (or pooled) frame
    { env.alloc_table() } -> std::same_as<Optional<Mfn>>;  // a zeroed table frame, or nothing
    env.free_table(mfn);                                   // reuse deferred until the flush
    { env.alloc_page() } -> std::same_as<Optional<Mfn>>;   // a zeroed frame to own, or nothing
    env.free_page(mfn);                                    // reuse deferred until the flush
    env.invalidate(va, level);                             // queue invalidation of va's entry
    { env.loaded(vcpu) } -> std::same_as<bool>;            // vcpu's tables are loaded on this CPU
    { env.linear_entry(level, va) } -> std::same_as<u64*>; // entry for va in the loaded root's window
};

template <OwnedBitFormat Format, PerdomainEnv Env>
class Perdomain {
  public:
    using Outcome = Result<void, MapError>;

    // Pages in one L3 entry: no operation may cover more (or cross its boundary).
    static constexpr u64 kMaxPages = level_size(Level::Pdpt) / kPageSize;
    // Owned pages: hypervisor data, read-write, never executable, never global.
    static constexpr Attrs kOwnedAttrs{.write = true};

    // Manages the mappings below root entry `l4_slot` (260 in the image).
    Perdomain(Env& env, unsigned l4_slot) : env_(env), slot_(l4_slot) { HV_CHECK(l4_slot < kEntriesPerTable); }

    // A fresh, empty L3 for a new vCPU (ASI) or domain; the caller links it into its roots and
    // hands it back through free(). NoMemory if the env has no frame.
    [[nodiscard]] Result<Mfn> create_l3() {
        const Optional<Mfn> l3 = env_.alloc_table();
        if (!l3) return Error{Status::NoMemory};
        return l3.value();
    }

    // Reserves [va, va + page_count pages): allocates the missing L2/L1 tables. With
    // Populate::Yes, also backs every page that is not mapped yet with a fresh zeroed frame owned
    // by the mapping; pages already mapped are left alone. Errors: InvalidArgument (range, see
    // check_range), NoMemory (va = start of the request; nothing changed, nothing allocated).
    [[nodiscard]] Outcome create(const VcpuRef& vcpu, Vaddr va, u64 page_count, Populate populate) {
        const Outcome valid = check_range(va.raw(), page_count);
        if (!valid.ok() || page_count == 0) return valid;
        const u64 last = last_page(va.raw(), page_count);
        return dispatch(vcpu, va.raw(), [&](auto& access) { return create_with(access, va.raw(), last, populate); });
    }

    // Maps page i of [va, ...) to mfns[i] with `attrs`, not owned. Replacing a present given page
    // is allowed and queues its invalidation (no flush: the caller flushes if it was live).
    // Errors, all found before anything changes:
    //   InvalidArgument  bad range, Attrs::global, or an mfn beyond the format's reach;
    //   NotMapped        the range was not reserved by create() (va/level of the missing table);
    //   AlreadyMapped    a page in the range is owned: overwriting it would leak it, so the caller
    //                    must destroy() it first (va of the first owned page, Level::Pt).
    [[nodiscard]] Outcome populate(const VcpuRef& vcpu, Vaddr va, const Mfn* mfns, u64 page_count, Attrs attrs) {
        const Outcome valid = check_range(va.raw(), page_count);
        if (!valid.ok() || page_count == 0) return valid;
        HV_DEBUG_ASSERT(mfns != nullptr);
        if (attrs.global) return fail(Status::InvalidArgument, va.raw(), Level::Pt);
        for (u64 i = 0; i < page_count; ++i) {
            if (mfns[i].raw() > (Format::kMaxMaddr >> kPageShift))
                return fail(Status::InvalidArgument, va.raw() + i * kPageSize, Level::Pt);
        }
        const u64 last = last_page(va.raw(), page_count);
        return dispatch(vcpu, va.raw(),
                        [&](auto& access) { return populate_with(access, va.raw(), last, mfns, attrs); });
    }

    // Makes [va, ...) non-present, queues one invalidation per page that was present, and frees
    // exactly the owned pages. Holes (also missing tables) are skipped; tables stay.
    // InvalidArgument for a bad range, with nothing changed.
    [[nodiscard]] Outcome destroy(const VcpuRef& vcpu, Vaddr va, u64 page_count) {
        const Outcome valid = check_range(va.raw(), page_count);
        if (!valid.ok() || page_count == 0) return valid;
        const u64 last = last_page(va.raw(), page_count);
        return dispatch(vcpu, va.raw(), [&](auto& access) { return destroy_with(access, va.raw(), last); });
    }

    // Teardown: frees every owned page, every L1 and L2, and the L3 itself. Preconditions: no
    // root that is loaded anywhere still points at the L3 (checked for this CPU), and for a shared
    // (non-ASI) L3 this is domain teardown, called once. Queues no invalidation: the L3 is not
    // loaded; frames the TLB of another CPU may still hold are the env's deferred-reuse concern.
    void free(const VcpuRef& vcpu) {
        const bool tables_not_loaded_here = !env_.loaded(vcpu);
        HV_CHECK(tables_not_loaded_here);
        for (unsigned index = 0; index < kEntriesPerTable; ++index) {
            const u64 entry = load(env_.table(vcpu.l3) + index);
            if (!present(Level::Pdpt, entry)) continue;
            check_table(Level::Pdpt, entry);
            free_l2(Format::address(Level::Pdpt, entry).mfn());
        }
        env_.free_table(vcpu.l3);
    }

  private:
    // Slow path: every table through env.table(), walking down from the vCPU's L3.
    class TableWalk {
      public:
        TableWalk(Env& env, Mfn l3) : env_(env), l3_(l3) {}
        // The entry of `level` for va. Precondition: the entries above it are present tables.
        u64* entry(Level level, u64 va) {
            Mfn table = l3_;
            for (Level above = Level::Pdpt; above != level; above = lower(above)) {
                const u64 link = load(env_.table(table) + index_of(va, above));
                HV_DEBUG_ASSERT(Format::present(above, link) && !Format::is_leaf(above, link));
                table = Format::address(above, link).mfn();
            }
            return env_.table(table) + index_of(va, level);
        }

      private:
        Env& env_;
        Mfn l3_;
    };

    // Fast path: the loaded root's entries through its linear window. Same precondition.
    class LinearWindow {
      public:
        explicit LinearWindow(Env& env) : env_(env) {}
        u64* entry(Level level, u64 va) { return env_.linear_entry(level, Vaddr(va)); }

      private:
        Env& env_;
    };

    // Frames one create() needs, allocated before anything is linked.
    struct Pools {
        FramePool<Env, FrameKind::Table> tables;
        FramePool<Env, FrameKind::Page> pages;
    };

    static constexpr u64 kChunkSize = level_size(Level::Pd);  // the VA one L1 table maps

    static u64 load(const u64* slot) { return __atomic_load_n(slot, __ATOMIC_RELAXED); }
    static void store(u64* slot, u64 value) { __atomic_store_n(slot, value, __ATOMIC_RELEASE); }
    static Error<MapError> fail(Status status, u64 va, Level level) { return Error{MapError{status, Vaddr(va), level}}; }
    static bool present(Level level, u64 entry) { return Format::present(level, entry); }
    static u64 last_page(u64 va, u64 page_count) { return va + (page_count - 1) * kPageSize; }
    static u64 pages_in(u64 first, u64 last) { return (last - first) / kPageSize + 1; }

    // A present L3/L2 entry must link a table: nothing here ever maps a large page, so a leaf
    // means the tree is corrupt.
    static void check_table(Level level, u64 entry) {
        const bool links_a_table = !Format::is_leaf(level, entry);
        HV_CHECK(links_a_table);
    }

    // Page-aligned, inside our L4 slot, at most kMaxPages and within one L3 entry (1 GiB).
    Outcome check_range(u64 va, u64 page_count) const {
        const bool in_slot = is_canonical(va) && index_of(va, kRootLevel) == slot_;
        const bool sized = is_aligned(va, kPageSize) && page_count <= kMaxPages;
        if (!in_slot || !sized) return fail(Status::InvalidArgument, va, Level::Pt);
        const u64 one_gib = level_size(Level::Pdpt);
        if (page_count != 0 && align_down(va, one_gib) != align_down(last_page(va, page_count), one_gib))
            return fail(Status::InvalidArgument, va, Level::Pdpt);
        return {};
    }

    // Runs op on the fast path if the vCPU's tables are loaded here, else on the slow path.
    template <class Op>
    Outcome dispatch(const VcpuRef& vcpu, u64 va, Op&& op) {
        if (env_.loaded(vcpu)) {
            check_loaded_root(vcpu, va);
            LinearWindow access(env_);
            return op(access);
        }
        TableWalk access(env_, vcpu.l3);
        return op(access);
    }

    // The fast path must never edit another vCPU's tables (asi-reference §8.4 property 32): the
    // loaded root's slot entry has to point at this vCPU's L3. One load; a mismatch means the
    // env's "loaded" record is wrong, a hypervisor bug.
    void check_loaded_root(const VcpuRef& vcpu, u64 va) {
        const u64 l4e = load(env_.linear_entry(kRootLevel, Vaddr(va)));
        const bool loaded_root_uses_this_l3 =
            present(kRootLevel, l4e) && Format::address(kRootLevel, l4e).mfn() == vcpu.l3;
        HV_CHECK(loaded_root_uses_this_l3);
    }

    // Calls fn(first, last) for the pages of [first, last] in each 2 MiB chunk (one L1 table);
    // stops at the first error.
    template <class Fn>
    static Outcome for_each_chunk(u64 first, u64 last, Fn&& fn) {
        for (u64 chunk = first;;) {
            const u64 chunk_end = align_down(chunk, kChunkSize) + (kChunkSize - kPageSize);
            const u64 chunk_last = last < chunk_end ? last : chunk_end;
            Outcome result = fn(chunk, chunk_last);
            if (!result.ok() || chunk_last == last) return result;
            chunk = chunk_last + kPageSize;
        }
    }

    // --- create ------------------------------------------------------------------------------

    struct Needs {
        u64 tables = 0;
        u64 pages = 0;
    };

    template <class Access>
    Outcome create_with(Access& access, u64 first, u64 last, Populate populate) {
        // Phase 1: count and allocate what is missing; the tables do not change.
        const Needs needs = count_needs(access, first, last, populate);
        Pools pools;
        if (!pools.tables.fill(env_, needs.tables) || !pools.pages.fill(env_, needs.pages)) {
            pools.tables.release(env_);
            pools.pages.release(env_);
            return fail(Status::NoMemory, first, Level::Pdpt);
        }
        // Phase 2: fill and link; cannot fail.
        commit_create(access, first, last, populate, pools);
        HV_CHECK(pools.tables.empty() && pools.pages.empty());
        return {};
    }

    template <class Access>
    Needs count_needs(Access& access, u64 first, u64 last, Populate populate) {
        const bool backed = populate == Populate::Yes;
        const u64 l3e = load(access.entry(Level::Pdpt, first));
        if (!present(Level::Pdpt, l3e)) {
            const u64 l1_count = (align_down(last, kChunkSize) - align_down(first, kChunkSize)) / kChunkSize + 1;
            return Needs{1 + l1_count, backed ? pages_in(first, last) : 0};
        }
        check_table(Level::Pdpt, l3e);
        Needs needs;
        (void)for_each_chunk(first, last, [&](u64 chunk_first, u64 chunk_last) {
            const u64 l2e = load(access.entry(Level::Pd, chunk_first));
            if (!present(Level::Pd, l2e)) {
                needs.tables += 1;
                if (backed) needs.pages += pages_in(chunk_first, chunk_last);
                return Outcome();
            }
            check_table(Level::Pd, l2e);
            if (backed) needs.pages += absent_pages(access.entry(Level::Pt, chunk_first), chunk_first, chunk_last);
            return Outcome();
        });
        return needs;
    }

    static u64 absent_pages(const u64* entries, u64 first, u64 last) {
        u64 count = 0;
        for (u64 i = 0; i < pages_in(first, last); ++i) count += present(Level::Pt, load(entries + i)) ? 0 : 1;
        return count;
    }

    template <class Access>
    void commit_create(Access& access, u64 first, u64 last, Populate populate, Pools& pools) {
        u64* const l3e = access.entry(Level::Pdpt, first);
        if (!present(Level::Pdpt, load(l3e))) {
            // A whole new subtree: build it off to the side, then publish it with one store.
            const Mfn l2 = pools.tables.take(env_);
            (void)for_each_chunk(first, last, [&](u64 chunk_first, u64 chunk_last) {
                const Mfn l1 = new_l1(chunk_first, chunk_last, populate, pools);
                store(env_.table(l2) + index_of(chunk_first, Level::Pd), Format::make_table(Level::Pd, l1));
                return Outcome();
            });
            store(l3e, Format::make_table(Level::Pdpt, l2));
            return;
        }
        (void)for_each_chunk(first, last, [&](u64 chunk_first, u64 chunk_last) {
            u64* const l2e = access.entry(Level::Pd, chunk_first);
            if (!present(Level::Pd, load(l2e))) {
                const Mfn l1 = new_l1(chunk_first, chunk_last, populate, pools);
                store(l2e, Format::make_table(Level::Pd, l1));
            } else if (populate == Populate::Yes) {
                back_absent(access.entry(Level::Pt, chunk_first), chunk_first, chunk_last, pools);
            }
            return Outcome();
        });
    }

    // A pooled L1, filled (if asked) before anyone can reach it.
    Mfn new_l1(u64 first, u64 last, Populate populate, Pools& pools) {
        const Mfn l1 = pools.tables.take(env_);
        if (populate == Populate::Yes) back_absent(env_.table(l1) + index_of(first, Level::Pt), first, last, pools);
        return l1;
    }

    // Installs an owned, pooled (zeroed) page in every non-present entry of the chunk.
    void back_absent(u64* entries, u64 first, u64 last, Pools& pools) {
        for (u64 i = 0; i < pages_in(first, last); ++i) {
            if (present(Level::Pt, load(entries + i))) continue;
            const Mfn page = pools.pages.take(env_);
            const u64 leaf = Format::make_leaf(Level::Pt, page.maddr(), kOwnedAttrs);
            store(entries + i, Format::set_avail0(Level::Pt, leaf));
        }
    }

    // --- populate ----------------------------------------------------------------------------

    template <class Access>
    Outcome populate_with(Access& access, u64 first, u64 last, const Mfn* mfns, Attrs attrs) {
        // Phase 1: every table present and no owned page in the way; nothing changes.
        const u64 l3e = load(access.entry(Level::Pdpt, first));
        if (!present(Level::Pdpt, l3e)) return fail(Status::NotMapped, first, Level::Pdpt);
        check_table(Level::Pdpt, l3e);
        const Outcome checked = for_each_chunk(first, last, [&](u64 chunk_first, u64 chunk_last) -> Outcome {
            const u64 l2e = load(access.entry(Level::Pd, chunk_first));
            if (!present(Level::Pd, l2e)) return fail(Status::NotMapped, chunk_first, Level::Pd);
            check_table(Level::Pd, l2e);
            const u64* const entries = access.entry(Level::Pt, chunk_first);
            for (u64 i = 0; i < pages_in(chunk_first, chunk_last); ++i) {
                const u64 entry = load(entries + i);
                if (present(Level::Pt, entry) && Format::avail0(Level::Pt, entry))
                    return fail(Status::AlreadyMapped, chunk_first + i * kPageSize, Level::Pt);
            }
            return {};
        });
        if (!checked.ok()) return checked;
        // Phase 2: write the leaves.
        return for_each_chunk(first, last, [&](u64 chunk_first, u64 chunk_last) {
            u64* const entries = access.entry(Level::Pt, chunk_first);
            const Mfn* const chunk_mfns = mfns + (chunk_first - first) / kPageSize;
            for (u64 i = 0; i < pages_in(chunk_first, chunk_last); ++i) {
                const u64 old = load(entries + i);
                // Same frame, same attributes: the translation (and any TLB copy of it) is already
                // right, so neither the store nor an invalidation is needed (set_gdt/switch-in
                // remap the same GDT frames every time). Bits the CPU sets (A, D) do not count.
                const u64 leaf = Format::make_leaf(Level::Pt, chunk_mfns[i].maddr(), attrs);
                if (old == leaf || same_given_leaf(old, chunk_mfns[i], attrs)) continue;
                store(entries + i, leaf);
                if (present(Level::Pt, old)) env_.invalidate(Vaddr(chunk_first + i * kPageSize), Level::Pt);
            }
            return Outcome();
        });
    }

    static bool same_given_leaf(u64 entry, Mfn mfn, Attrs attrs) {
        return present(Level::Pt, entry) && !Format::avail0(Level::Pt, entry) &&
               Format::address(Level::Pt, entry) == mfn.maddr() && Format::attrs(Level::Pt, entry) == attrs;
    }

    // --- destroy and free --------------------------------------------------------------------

    template <class Access>
    Outcome destroy_with(Access& access, u64 first, u64 last) {
        const u64 l3e = load(access.entry(Level::Pdpt, first));
        if (!present(Level::Pdpt, l3e)) return {};
        check_table(Level::Pdpt, l3e);
        return for_each_chunk(first, last, [&](u64 chunk_first, u64 chunk_last) {
            const u64 l2e = load(access.entry(Level::Pd, chunk_first));
            if (!present(Level::Pd, l2e)) return Outcome();
            check_table(Level::Pd, l2e);
            u64* const entries = access.entry(Level::Pt, chunk_first);
            for (u64 i = 0; i < pages_in(chunk_first, chunk_last); ++i) {
                const u64 entry = load(entries + i);
                if (!present(Level::Pt, entry)) continue;
                // Unlink, queue the invalidation, then free: the env defers reuse to the flush.
                store(entries + i, 0);
                env_.invalidate(Vaddr(chunk_first + i * kPageSize), Level::Pt);
                if (Format::avail0(Level::Pt, entry)) env_.free_page(Format::address(Level::Pt, entry).mfn());
            }
            return Outcome();
        });
    }

    void free_l2(Mfn l2) {
        for (unsigned index = 0; index < kEntriesPerTable; ++index) {
            const u64 entry = load(env_.table(l2) + index);
            if (!present(Level::Pd, entry)) continue;
            check_table(Level::Pd, entry);
            free_l1(Format::address(Level::Pd, entry).mfn());
        }
        env_.free_table(l2);
    }

    void free_l1(Mfn l1) {
        for (unsigned index = 0; index < kEntriesPerTable; ++index) {
            const u64 entry = load(env_.table(l1) + index);
            if (present(Level::Pt, entry) && Format::avail0(Level::Pt, entry))
                env_.free_page(Format::address(Level::Pt, entry).mfn());
        }
        env_.free_table(l1);
    }

    Env& env_;
    unsigned slot_;
};

}  // namespace hv::mm
