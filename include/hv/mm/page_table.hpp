// SPDX-License-Identifier: MIT
// Page table walker and mapper (generic, 4 levels).
//
// One PageTable is a view of one tree of tables, rooted at a frame. Entry bits come from a
// Format (arch::X86PteFormat in the image, skewed fakes in tests); frames are reached, allocated
// and freed through an Env (directmap + frame allocator in the image, fake machine memory in
// tests). Levels count up from the leaf (hv/mm/level.hpp).
//
//   root_ (Mfn)
//     │
//     ▼
//   ┌─────────────┐  512 entries of Level::Pml4, 512 GiB each; never leaves
//   │ PML4 table  │──► table
//   └─────────────┘      │
//                        ▼
//                  ┌─────────────┐  entries of Level::Pdpt, 1 GiB each
//                  │ PDPT table  │──► 1 GiB page (PageSize::k1G), or table
//                  └─────────────┘      │
//                                       ▼
//                                 ┌─────────────┐  entries of Level::Pd, 2 MiB each
//                                 │  PD table   │──► 2 MiB page (PageSize::k2M), or table
//                                 └─────────────┘      │
//                                                      ▼
//                                                ┌─────────────┐  entries of Level::Pt, 4 KiB
//                                                │  PT table   │──► 4 KiB page, always a leaf
//                                                └─────────────┘
//
// An all-zero entry is "not present" in every format, and the Env hands out zeroed tables.
//
// Concurrency: the class does no locking. Callers serialise mutators (map, unmap,
// free_tables) on one tree, e.g. with the owning address space's lock. Hardware page walkers
// may read the tables at any time, so every entry is written with one 64-bit store and a new
// subtree is filled before the entry linking it is published.
//
// TLB: the walker only *queues* invalidations through env.invalidate(); the caller flushes once
// per operation. Tables given to env.free_table() must not be reused before that flush.
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

namespace hv::mm {

// What the walker needs from the outside world.
template <class E>
concept PagingEnv = requires(E& env, Mfn mfn, Vaddr va, Level level) {
    { env.table(mfn) } -> std::same_as<u64*>;              // view of a table frame: 512 entries
    { env.alloc_table() } -> std::same_as<Optional<Mfn>>;  // a zeroed frame, or nothing
    env.free_table(mfn);                                   // reuse deferred until the flush
    env.invalidate(va, level);                             // queue invalidation of va's entry
};

// How entries are encoded. Every member gets the level of the entry it builds or decodes.
template <class F>
concept PteFormat = requires(Level level, u64 entry, Maddr ma, Mfn mfn, Attrs attrs) {
    { F::make_leaf(level, ma, attrs) } -> std::same_as<u64>;
    { F::make_table(level, mfn) } -> std::same_as<u64>;
    { F::present(level, entry) } -> std::same_as<bool>;
    { F::is_leaf(level, entry) } -> std::same_as<bool>;  // only asked of present entries
    { F::address(level, entry) } -> std::same_as<Maddr>;
    { F::attrs(level, entry) } -> std::same_as<Attrs>;
    { F::kMaxMaddr } -> std::convertible_to<u64>;       // highest encodable machine address
};

// Why a map/unmap failed, and where: `va` is the first VA of the offending entry's part of the
// request, `level` the level of that entry (for misaligned arguments: the requested leaf level).
struct MapError {
    Status status;
    Vaddr va;
    Level level;
};

// What a VA translates to.
struct Translation {
    Maddr maddr;  // of the VA itself: page base plus the offset in the page
    Level level;  // level of the leaf: Pt (4 KiB), Pd (2 MiB) or Pdpt (1 GiB)
    Attrs attrs;  // of the leaf; tables grant everything, so these are the effective rights
};

template <PteFormat Format, PagingEnv Env>
class PageTable {
  public:
    // View of the tree rooted at `root` (a table of Level::Pml4, owned by the caller).
    PageTable(Env& env, Mfn root) : env_(env), root_(root) {}

    Mfn root() const { return root_; }

    // Maps [va, va + size_bytes) to [ma, ma + size_bytes) with pages of `granule`.
    //   InvalidArgument: va, ma or size not aligned to the granule, a VA range that is not
    //                    canonical (or crosses the hole), or ma beyond the format's reach;
    //   AlreadyMapped:   some part is mapped already (a leaf, a large page around a requested
    //                    smaller page, or a table where a large page is requested);
    //   NoMemory:        an intermediate table could not be allocated.
    // On error the tables are unchanged and nothing stays allocated. A size of 0 is a no-op.
    // No invalidation is queued: only non-present entries change (they are never cached).
    [[nodiscard]] Result<void, MapError> map(Vaddr va, Maddr ma, u64 size_bytes, Attrs attrs,
                                             PageSize granule) {
        const Level leaf = leaf_level(granule);
        const u64 page = level_size(leaf);
        const bool aligned = is_aligned(va.raw(), page) && is_aligned(ma.raw(), page) &&
                             is_aligned(size_bytes, page);
        if (!aligned) return fail(Status::InvalidArgument, va.raw(), leaf);
        if (size_bytes == 0) return {};
        const u64 max_ma = Format::kMaxMaddr;
        if (!valid_range(va.raw(), size_bytes) || ma.raw() > max_ma || size_bytes - 1 > max_ma - ma.raw())
            return fail(Status::InvalidArgument, va.raw(), leaf);
        const Request request{va.raw(), ma.raw(), leaf, attrs};
        const u64 last = va.raw() + (size_bytes - 1);
        // Phase 1: check and allocate; nothing in the tree changes.
        TablePool pool;
        auto prepared = prepare(root_, kRootLevel, va.raw(), last, request, pool);
        if (!prepared.ok()) {
            pool.release(env_);
            return prepared;
        }
        // Phase 2: write the entries; cannot fail.
        commit(root_, kRootLevel, va.raw(), last, request, pool);
        HV_CHECK(pool.empty());
        return {};
    }

    // Unmaps every leaf in [va, va + size_bytes), skipping holes, and queues one invalidation
    // per cleared leaf. A leaf only partly inside the range is InvalidArgument (large pages are
    // never split silently), found before anything changes; so are misaligned or non-canonical
    // ranges. Emptied tables stay in place: they may be shared between roots (per-domain and
    // global slots), and only their owner knows when no root refers to them any more; use
    // free_tables() for teardown.
    [[nodiscard]] Result<void, MapError> unmap(Vaddr va, u64 size_bytes) {
        if (!is_aligned(va.raw(), kPageSize) || !is_aligned(size_bytes, kPageSize))
            return fail(Status::InvalidArgument, va.raw(), Level::Pt);
        if (size_bytes == 0) return {};
        if (!valid_range(va.raw(), size_bytes)) return fail(Status::InvalidArgument, va.raw(), Level::Pt);
        const u64 last = va.raw() + (size_bytes - 1);
        // Phase 1: refuse partial large pages; nothing changes.
        auto checked = check_unmap(root_, kRootLevel, va.raw(), last);
        if (!checked.ok()) return checked;
        // Phase 2: clear the leaves.
        clear(root_, kRootLevel, va.raw(), last);
        return {};
    }

    // The translation of `va`, or nothing if it is not mapped (or not canonical).
    [[nodiscard]] Optional<Translation> query(Vaddr va) const {
        if (!is_canonical(va.raw())) return {};
        Mfn table = root_;
        for (Level level = kRootLevel;; level = lower(level)) {
            const u64 entry = load(env_.table(table) + index_of(va, level));
            if (!Format::present(level, entry)) return {};
            if (leaf(level, entry)) {
                const u64 offset = va.raw() & (level_size(level) - 1);
                return Translation{Format::address(level, entry) + offset, level, Format::attrs(level, entry)};
            }
            table = Format::address(level, entry).mfn();
        }
    }

    // Calls visitor(Vaddr va, Maddr ma, Level level, Attrs attrs) for every present leaf, in
    // ascending (canonical, sign-extended) VA order: lower half first, then the upper half.
    // Like the hardware walker, it follows a recursive (self-map) root entry, so the tables
    // themselves show up as leaves in that slot.
    template <class Visitor>
    void for_each_leaf(Visitor&& visitor) const {
        visit_leaves(root_, kRootLevel, 0, visitor);
    }

    // Teardown: frees every table below root entries [first_l4_slot, last_l4_slot] and clears
    // those entries, queueing one invalidation per cleared root entry. Frees tables only: the
    // frames that leaves map, and the root itself, belong to the caller. Preconditions: the
    // tables below these slots are not shared with another root that stays in use, and no slot
    // in the range is a recursive (self-map) entry, which would free the root's own tables.
    void free_tables(unsigned first_l4_slot, unsigned last_l4_slot) {
        HV_CHECK(first_l4_slot <= last_l4_slot && last_l4_slot < kEntriesPerTable);
        u64* const entries = env_.table(root_);
        for (unsigned slot = first_l4_slot; slot <= last_l4_slot; ++slot) {
            const u64 entry = load(entries + slot);
            if (!Format::present(kRootLevel, entry)) continue;
            // Unlink first, so that no walker can reach a table once it is freed.
            store(entries + slot, 0);
            env_.invalidate(Vaddr(slot_va(slot)), kRootLevel);
            if (!leaf(kRootLevel, entry)) free_subtree(Format::address(kRootLevel, entry).mfn(), lower(kRootLevel));
        }
    }

  private:
    // One map request, in raw VA/MA terms (the VA already canonical).
    struct Request {
        u64 va;
        u64 ma;
        Level leaf;
        Attrs attrs;
    };

    // Tables allocated by prepare() and consumed by commit() (see frame_pool.hpp).
    using TablePool = FramePool<Env>;

    // Entries are read and written as single 64-bit accesses (see the concurrency note).
    static u64 load(const u64* slot) { return __atomic_load_n(slot, __ATOMIC_RELAXED); }
    static void store(u64* slot, u64 value) { __atomic_store_n(slot, value, __ATOMIC_RELEASE); }

    static Error<MapError> fail(Status status, u64 va, Level level) {
        return Error{MapError{status, Vaddr(va), level}};
    }

    // A present entry maps a page; a PT entry that does not means the tree is corrupt.
    static bool leaf(Level level, u64 entry) {
        const bool is_leaf = Format::is_leaf(level, entry);
        HV_CHECK(is_leaf || level != Level::Pt);
        return is_leaf;
    }

    // [va, va + size_bytes) is non-empty, canonical throughout and does not wrap.
    static bool valid_range(u64 va, u64 size_bytes) {
        const u64 last = va + (size_bytes - 1);
        return last >= va && is_canonical(va) && is_canonical(last) && (va >> 47) == (last >> 47);
    }

    // The canonical VA of root entry `slot`: the upper half (slots 256..511) is sign-extended.
    static u64 slot_va(unsigned slot) {
        const u64 va = u64{slot} << level_shift(kRootLevel);
        return slot >= kEntriesPerTable / 2 ? va | ~((u64{1} << 48) - 1) : va;
    }

    // Calls fn(index, first, last) for each entry of `level` overlapping the inclusive range
    // [first, last] (which lies inside one table), with the part of the range in that entry;
    // stops at the first error. Inclusive bounds keep the top of the VA space from wrapping.
    template <class Fn>
    static Result<void, MapError> for_each_entry(Level level, u64 first, u64 last, Fn&& fn) {
        const u64 size = level_size(level);
        u64 base = align_down(first, size);
        for (unsigned index = index_of(first, level);; ++index, base += size) {
            const u64 part_first = first > base ? first : base;
            const u64 part_last = last < base + (size - 1) ? last : base + (size - 1);
            auto result = fn(index, part_first, part_last);
            if (!result.ok() || part_last == last) return result;
        }
    }

    // Tables needed below an empty entry of `level` to map [first, last] (inside that entry)
    // with leaves of `leaf`: one per entry of each level from `level` down to above the leaf.
    static u64 tables_needed(Level level, u64 first, u64 last, Level leaf) {
        u64 count = 0;
        for (Level l = level; l != leaf; l = lower(l)) {
            const u64 size = level_size(l);
            count += (align_down(last, size) - align_down(first, size)) / size + 1;
        }
        return count;
    }

    // Phase 1 of map: refuse anything present in the way, and pool every table commit() will
    // need. Reads the tree, never writes it.
    Result<void, MapError> prepare(Mfn table, Level level, u64 first, u64 last, const Request& request,
                                   TablePool& pool) {
        u64* const entries = env_.table(table);
        return for_each_entry(level, first, last, [&](unsigned index, u64 part_first, u64 part_last) {
            const u64 entry = load(entries + index);
            const bool present = Format::present(level, entry);
            if (level == request.leaf || (present && leaf(level, entry))) {
                if (present) return Result<void, MapError>(fail(Status::AlreadyMapped, part_first, level));
                return Result<void, MapError>();
            }
            if (!present) {
                if (!pool.fill(env_, tables_needed(level, part_first, part_last, request.leaf)))
                    return Result<void, MapError>(fail(Status::NoMemory, part_first, level));
                return Result<void, MapError>();
            }
            return prepare(Format::address(level, entry).mfn(), lower(level), part_first, part_last, request, pool);
        });
    }

    // Phase 2 of map: write the leaves, linking pooled tables where entries are empty. A new
    // table is filled before it is linked. Everything was checked by prepare(), so this cannot
    // fail.
    void commit(Mfn table, Level level, u64 first, u64 last, const Request& request, TablePool& pool) {
        u64* const entries = env_.table(table);
        auto done = for_each_entry(level, first, last, [&](unsigned index, u64 part_first, u64 part_last) {
            if (level == request.leaf) {
                const Maddr ma(request.ma + (part_first - request.va));
                store(entries + index, Format::make_leaf(level, ma, request.attrs));
                return Result<void, MapError>();
            }
            const u64 entry = load(entries + index);
            if (Format::present(level, entry)) {
                commit(Format::address(level, entry).mfn(), lower(level), part_first, part_last, request, pool);
            } else {
                const Mfn child = pool.take(env_);
                commit(child, lower(level), part_first, part_last, request, pool);
                store(entries + index, Format::make_table(level, child));
            }
            return Result<void, MapError>();
        });
        HV_CHECK(done.ok());
    }

    // Phase 1 of unmap: every present leaf touching [first, last] must lie inside it.
    Result<void, MapError> check_unmap(Mfn table, Level level, u64 first, u64 last) {
        u64* const entries = env_.table(table);
        return for_each_entry(level, first, last, [&](unsigned index, u64 part_first, u64 part_last) {
            const u64 entry = load(entries + index);
            if (!Format::present(level, entry)) return Result<void, MapError>();
            if (leaf(level, entry)) {
                const u64 size = level_size(level);
                const bool whole = is_aligned(part_first, size) && part_last - part_first == size - 1;
                if (!whole) return Result<void, MapError>(fail(Status::InvalidArgument, part_first, level));
                return Result<void, MapError>();
            }
            return check_unmap(Format::address(level, entry).mfn(), lower(level), part_first, part_last);
        });
    }

    // Phase 2 of unmap: clear the leaves in [first, last] and queue their invalidations.
    void clear(Mfn table, Level level, u64 first, u64 last) {
        u64* const entries = env_.table(table);
        auto done = for_each_entry(level, first, last, [&](unsigned index, u64 part_first, u64 part_last) {
            const u64 entry = load(entries + index);
            if (!Format::present(level, entry)) return Result<void, MapError>();
            if (leaf(level, entry)) {
                store(entries + index, 0);
                env_.invalidate(Vaddr(part_first), level);
            } else {
                clear(Format::address(level, entry).mfn(), lower(level), part_first, part_last);
            }
            return Result<void, MapError>();
        });
        HV_CHECK(done.ok());
    }

    // Depth-first, index order: calls the visitor for each present leaf below `table`, whose
    // first entry translates `base` (already sign-extended).
    template <class Visitor>
    void visit_leaves(Mfn table, Level level, u64 base, Visitor& visitor) const {
        for (unsigned index = 0; index < kEntriesPerTable; ++index) {
            const u64 entry = load(env_.table(table) + index);
            if (!Format::present(level, entry)) continue;
            const u64 va = level == kRootLevel ? slot_va(index) : base + (u64{index} << level_shift(level));
            if (leaf(level, entry)) {
                visitor(Vaddr(va), Format::address(level, entry), level, Format::attrs(level, entry));
            } else {
                visit_leaves(Format::address(level, entry).mfn(), lower(level), va, visitor);
            }
        }
    }

    // Frees `table` (entries of `level`) and every table below it, children first.
    void free_subtree(Mfn table, Level level) {
        if (level != Level::Pt) {
            for (unsigned index = 0; index < kEntriesPerTable; ++index) {
                const u64 entry = load(env_.table(table) + index);
                if (Format::present(level, entry) && !leaf(level, entry))
                    free_subtree(Format::address(level, entry).mfn(), lower(level));
            }
        }
        env_.free_table(table);
    }

    Env& env_;
    Mfn root_;
};

}  // namespace hv::mm
