// SPDX-License-Identifier: MIT
// Isolation audit: the result of auditing one root, and the bookkeeping that builds it.
//
// The walker (hv/audit/walker.hpp) hands the Accountant stretches of consecutive pages that map
// consecutive frames with one tag. The Accountant
//   - counts each RAM frame once per root (FrameSet), by kind and verdict;
//   - keeps the first kMaxFindings foreign or bad frames, each with one VA that maps it;
//   - coalesces the stretches into VA runs (same tag, same verdict, adjacent VAs) and passes
//     every finished run to a RunSink, in ascending VA order: the VA map, for drawing.
// Frames at or above the top of RAM (OutsideRam) have no bit in the set; they are counted
// once per mapping.
#pragma once

#include "hv/audit/frame_set.hpp"
#include "hv/audit/frame_tag.hpp"
#include "hv/core/addr.hpp"
#include "hv/core/types.hpp"

namespace hv::audit {

inline constexpr unsigned kMaxFindings = 16;

// A foreign or bad frame, and one VA that maps it (the lowest, since the walk ascends).
struct Finding {
    Vaddr va;
    Mfn mfn;
    FrameTag tag;
    Verdict verdict;
};

struct AuditTotals {
    u64 frames = 0;                        // distinct RAM frames, plus OutsideRam per mapping
    u64 by_kind[kFrameKindCount] = {};     // the same, by FrameKind
    u64 foreign = 0;                       // frames with Verdict::Foreign
    u64 bad = 0;                           // frames with Verdict::Bad (mapped free frames)
    u64 unreadable_tables = 0;             // table entries the env could not read (not walked)

    u64 of(FrameKind kind) const { return by_kind[static_cast<unsigned>(kind)]; }
};

struct AuditResult {
    AuditTotals totals;
    Finding findings[kMaxFindings] = {};
    unsigned finding_count = 0;  // of findings[]; totals.foreign + totals.bad may be larger
};

// One coalesced stretch of the VA map. `last` is inclusive, so the top of the VA space fits.
struct VaRun {
    u64 first;
    u64 last;
    FrameTag tag;
    Verdict verdict;
};

// Where finished runs go; `emit` may be null (no VA map wanted).
struct RunSink {
    void (*emit)(void* context, const VaRun& run) = nullptr;
    void* context = nullptr;
};

class Accountant {
  public:
    // `bitmap`: frame_set_words(frame_count) words, cleared here.
    Accountant(const Subject& subject, u64* bitmap, u64 frame_count, RunSink sink);

    // Pages from `va` on map frames [first, first + count), all below the top of RAM, all with `tag`.
    void add_ram(u64 va, u64 first, u64 count, const FrameTag& tag);
    // Pages from `va` on map frames [first, first + count), all at or above the top of RAM.
    void add_outside(u64 va, u64 first, u64 count);
    // A table the walk could not read; what it would have mapped is unknown.
    void add_unreadable_table() { ++result_.totals.unreadable_tables; }

    // Emits the last run and returns the result. Call once, after the walk.
    const AuditResult& finish();

  private:
    void add_run(u64 va, u64 count, const FrameTag& tag, Verdict verdict);
    u64 add_with_findings(u64 va, u64 first, u64 count, const FrameTag& tag, Verdict verdict);

    Subject subject_;
    FrameSet frames_;
    RunSink sink_;
    VaRun pending_{};
    bool has_pending_ = false;
    AuditResult result_{};
};

}  // namespace hv::audit
