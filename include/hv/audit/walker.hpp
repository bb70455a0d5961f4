// SPDX-License-Identifier: MIT
// Isolation audit: the software page walker (generic over the PTE format and a read-only env).
//
// audit_root() enumerates every frame one root table can reach, exactly as the MMU would
// translate every canonical VA through it, and classifies each frame (hv/audit/frame_tag.hpp):
//
//   - 4 levels from the root; at each level an entry is decoded *at the level of its position in
//     the walk*, not the level its table was built for. That is how the MMU treats a recursive
//     entry: the linear self-map slot (258) points at the root, so under it the root is read as
//     a PDPT, L3s as PDs, L2s as PTs, and the page-table frames themselves become data pages
//     (and a 2 MiB or 1 GiB leaf read one level lower maps only its first 4 KiB or 2 MiB).
//   - A leaf at level L maps level_size(L) bytes of consecutive frames. The walker classifies a
//     large page as a range: it asks the env for the tag of each frame but hands the Accountant
//     one call per stretch of equal tags, and the frame bitmap is updated a word at a time. A
//     range beyond the top of RAM costs one call, however large.
//   - Each table is read (copied) once per visit into the caller's scratch memory, one buffer per
//     level, so the env may map tables through a mapcache slot that it releases right away.
//   - A table entry the env cannot read (outside RAM) is counted, not followed.
//
//   root ──► entry 0..511 ──► table (level - 1) ──► ... ──► leaf: frames [mfn, mfn + 512^L)
//                                                                 │
//                                            env.classify(mfn) ───┴──► Accountant ──► totals,
//                                                                     findings, VA runs
//
// Cost: one pass over every reachable table entry, plus one classify() per mapped RAM frame.
// No heap, no locks: the caller keeps the tables stable (or accepts a racy snapshot).
#pragma once

#include <concepts>

#include "hv/audit/accountant.hpp"
#include "hv/audit/frame_set.hpp"
#include "hv/audit/frame_tag.hpp"
#include "hv/core/addr.hpp"
#include "hv/core/check.hpp"
#include "hv/core/types.hpp"
#include "hv/mm/level.hpp"
#include "hv/mm/page_table.hpp"

namespace hv::audit {

// What the walker needs: read access to tables and to the frame table, nothing else.
template <class E>
concept AuditEnv = requires(E& env, Mfn mfn, u64* entries) {
    // Copies the 512 entries of table frame `mfn` to `entries`; false if the frame cannot be
    // read as a table (outside RAM, not a frame the env can map).
    { env.read_table(mfn, entries) } -> std::same_as<bool>;
    // Frames with a frame-table entry: mfns [0, frame_count()). Constant during a walk.
    { env.frame_count() } -> std::same_as<u64>;
    // The tag of frame `mfn`; precondition mfn < frame_count(). Typically tag_of(frame table).
    { env.classify(mfn) } -> std::same_as<FrameTag>;
};

// Memory the caller lends the walk: mm::kLevelCount table buffers, then the frame bitmap.
struct AuditScratch {
    u64* words;
    usize word_count;
};

inline constexpr usize kTableBufferWords = usize{mm::kLevelCount} * mm::kEntriesPerTable;

// Words of scratch a walk over a machine with `frame_count` frames needs (for 256 MiB: 3 KiB
// of bitmap words plus 16 KiB of table buffers).
constexpr usize audit_scratch_words(u64 frame_count) { return kTableBufferWords + frame_set_words(frame_count); }

// One leaf as the MMU sees it, for a caller that wants the mappings themselves (the QEMU
// cross-check, docs/asi.md): `pages` 4 KiB pages from `va` map frames from `first_frame` on.
// `leaf` holds the leaf entry's own attributes; `effective` what a translation grants: write,
// user and exec are the AND over every level of the walk, global is the leaf's.
struct Mapping {
    u64 va;
    u64 first_frame;
    u64 pages;
    mm::Attrs leaf;
    mm::Attrs effective;
};

struct MappingSink {
    void (*emit)(void* context, const Mapping& mapping) = nullptr;
    void* context = nullptr;
};

namespace detail {

// What the root grants before any entry is read: everything (each level can only take away).
inline constexpr mm::Attrs kAllRights{.write = true, .user = true, .exec = true, .global = false};

inline mm::Attrs narrowed(const mm::Attrs& path, const mm::Attrs& entry) {
    return mm::Attrs{.write = path.write && entry.write,
                     .user = path.user && entry.user,
                     .exec = path.exec && entry.exec,
                     .global = entry.global,
                     .mem_type = entry.mem_type};
}

template <mm::PteFormat Format, AuditEnv Env>
class Walker {
  public:
    Walker(Env& env, u64* tables, Accountant& accountant, MappingSink mappings = {})
        : env_(env), tables_(tables), accountant_(accountant), ram_frames_(env.frame_count()), mappings_(mappings) {}

    // Visits every present entry of `table`, read as a table of `level` whose first entry
    // translates `base` (sign-extended). `path`: the rights the entries above granted; only
    // computed when a MappingSink wants them (the audit itself needs frames, not rights).
    void walk(Mfn table, mm::Level level, u64 base, mm::Attrs path = kAllRights) {
        u64* const entries = tables_ + mm::level_number(level) * mm::kEntriesPerTable;
        if (!env_.read_table(table, entries)) {
            accountant_.add_unreadable_table();
            return;
        }
        for (unsigned index = 0; index < mm::kEntriesPerTable; ++index) {
            const u64 entry = entries[index];
            if (!Format::present(level, entry)) continue;
            const u64 va = level == mm::kRootLevel ? slot_va(index) : base + (u64{index} << mm::level_shift(level));
            const Mfn target = Format::address(level, entry).mfn();
            const mm::Attrs here = mappings_.emit != nullptr ? narrowed(path, Format::attrs(level, entry)) : path;
            // A PT entry always maps a page, whatever its other bits say (the MMU's view).
            if (level == mm::Level::Pt || Format::is_leaf(level, entry)) {
                const u64 pages = mm::level_size(level) >> kPageShift;
                if (mappings_.emit != nullptr)
                    mappings_.emit(mappings_.context, Mapping{va, target.raw(), pages, Format::attrs(level, entry), here});
                leaf(va, target.raw(), pages);
            } else {
                walk(target, mm::lower(level), va, here);
            }
        }
    }

  private:
    // The canonical VA of root entry `slot` (upper half sign-extended).
    static u64 slot_va(unsigned slot) {
        const u64 va = u64{slot} << mm::level_shift(mm::kRootLevel);
        return slot >= mm::kEntriesPerTable / 2 ? va | ~((u64{1} << 48) - 1) : va;
    }

    // Pages from `va` map frames [first, first + count): split into stretches of equal tags
    // below the top of RAM, and one stretch above it.
    void leaf(u64 va, u64 first, u64 count) {
        const u64 end = first + count;
        const u64 ram_end = end < ram_frames_ ? end : ram_frames_;
        u64 frame = first;
        // One classify() per frame: the frame that ends a stretch starts the next one.
        FrameTag tag = frame < ram_end ? env_.classify(Mfn(frame)) : FrameTag{};
        while (frame < ram_end) {
            u64 next = frame + 1;
            FrameTag next_tag{};
            while (next < ram_end) {
                next_tag = env_.classify(Mfn(next));
                if (!(next_tag == tag)) break;
                ++next;
            }
            accountant_.add_ram(va + (frame - first) * kPageSize, frame, next - frame, tag);
            frame = next;
            tag = next_tag;
        }
        if (frame < end) accountant_.add_outside(va + (frame - first) * kPageSize, frame, end - frame);
    }

    Env& env_;
    u64* tables_;
    Accountant& accountant_;
    u64 ram_frames_;
    MappingSink mappings_;
};

}  // namespace detail

// Audits the tree rooted at `root` (a table of Level::Pml4) for `subject`: totals, the first
// findings, and the VA map as runs through `runs` (ascending VA, coalesced; see Accountant).
// Precondition: scratch.word_count >= audit_scratch_words(env.frame_count()); a smaller
// scratch is a caller bug and panics.
template <mm::PteFormat Format, AuditEnv Env>
AuditResult audit_root(Env& env, Mfn root, const Subject& subject, AuditScratch scratch, RunSink runs) {
    const u64 frame_count = env.frame_count();
    HV_CHECK(scratch.words != nullptr && scratch.word_count >= audit_scratch_words(frame_count));
    Accountant accountant(subject, scratch.words + kTableBufferWords, frame_count, runs);
    detail::Walker<Format, Env> walker(env, scratch.words, accountant);
    walker.walk(root, mm::kRootLevel, 0);
    return accountant.finish();
}

// Hands every leaf of the tree rooted at `root` to `mappings`, in ascending VA order, by the
// same walk audit_root() classifies (the frame accounting runs alongside and is dropped).
template <mm::PteFormat Format, AuditEnv Env>
void enumerate_mappings(Env& env, Mfn root, AuditScratch scratch, MappingSink mappings) {
    const u64 frame_count = env.frame_count();
    HV_CHECK(scratch.words != nullptr && scratch.word_count >= audit_scratch_words(frame_count));
    Accountant accountant(Subject{}, scratch.words + kTableBufferWords, frame_count, RunSink{});
    detail::Walker<Format, Env> walker(env, scratch.words, accountant, mappings);
    walker.walk(root, mm::kRootLevel, 0);
}

}  // namespace hv::audit
