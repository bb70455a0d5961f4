// SPDX-License-Identifier: MIT
// Isolation audit: counting frames, keeping findings, coalescing VA runs.
#include "hv/audit/accountant.hpp"

namespace hv::audit {

Accountant::Accountant(const Subject& subject, u64* bitmap, u64 frame_count, RunSink sink)
    : subject_(subject), frames_(bitmap, frame_count), sink_(sink) {}

void Accountant::add_ram(u64 va, u64 first, u64 count, const FrameTag& tag) {
    const Verdict verdict = verdict_of(tag, subject_);
    add_run(va, count, tag, verdict);
    // Frame by frame only while findings are still being collected; otherwise a word at a time.
    // Granted frames are shared on purpose: counted under their kind, never a finding.
    const bool flagged = verdict == Verdict::Foreign || verdict == Verdict::Bad;
    const bool collect = flagged && result_.finding_count < kMaxFindings;
    const u64 fresh = collect ? add_with_findings(va, first, count, tag, verdict) : frames_.add_range(first, count);
    AuditTotals& totals = result_.totals;
    totals.frames += fresh;
    totals.by_kind[static_cast<unsigned>(tag.kind)] += fresh;
    if (verdict == Verdict::Foreign) totals.foreign += fresh;
    if (verdict == Verdict::Bad) totals.bad += fresh;
}

void Accountant::add_outside(u64 va, u64 first, u64 count) {
    (void)first;  // no frame-table entry and no bit: nothing more to know about these frames
    const FrameTag tag{FrameKind::OutsideRam, 0, 0};
    add_run(va, count, tag, Verdict::Own);
    result_.totals.frames += count;
    result_.totals.by_kind[static_cast<unsigned>(FrameKind::OutsideRam)] += count;
}

// Adds the frames one at a time, recording each new one as a finding while there is room.
u64 Accountant::add_with_findings(u64 va, u64 first, u64 count, const FrameTag& tag, Verdict verdict) {
    u64 fresh = 0;
    for (u64 i = 0; i < count; ++i) {
        if (!frames_.add(first + i)) continue;
        ++fresh;
        if (result_.finding_count < kMaxFindings)
            result_.findings[result_.finding_count++] = Finding{Vaddr(va + i * kPageSize), Mfn(first + i), tag, verdict};
    }
    return fresh;
}

// Extends the pending run when this stretch continues it (adjacent VA, same tag and verdict),
// else emits the pending run and starts a new one. The walk ascends, so runs come out sorted.
void Accountant::add_run(u64 va, u64 count, const FrameTag& tag, Verdict verdict) {
    const u64 last = va + (count * kPageSize - 1);
    if (has_pending_ && pending_.last + 1 == va && pending_.tag == tag && pending_.verdict == verdict) {
        pending_.last = last;
        return;
    }
    if (has_pending_ && sink_.emit != nullptr) sink_.emit(sink_.context, pending_);
    pending_ = VaRun{va, last, tag, verdict};
    has_pending_ = true;
}

const AuditResult& Accountant::finish() {
    if (has_pending_ && sink_.emit != nullptr) sink_.emit(sink_.context, pending_);
    has_pending_ = false;
    return result_;
}

}  // namespace hv::audit
