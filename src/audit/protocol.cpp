// SPDX-License-Identifier: MIT
// Isolation audit: the console protocol printer (format in hv/audit/protocol.hpp).
#include "hv/audit/protocol.hpp"

#include <cstdarg>

#include "hv/core/format.hpp"

namespace hv::audit {
namespace {

using ull = unsigned long long;

constexpr usize kIdLength = 24;

void sink_line(LineSink sink, void* context, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

void sink_line(LineSink sink, void* context, const char* fmt, ...) {
    char text[kMaxLineLength + 1];
    va_list args;
    va_start(args, fmt);
    format_v(text, sizeof text, fmt, args);
    va_end(args);
    sink(context, text);
}

}  // namespace

void ProtocolPrinter::line(const char* fmt, ...) {
    char text[kMaxLineLength + 1];
    va_list args;
    va_start(args, fmt);
    format_v(text, sizeof text, fmt, args);
    va_end(args);
    sink_(context_, text);
}

void ProtocolPrinter::begin() { line("audit: begin v1"); }

void ProtocolPrinter::layout(u64 start, u64 size, const char* name, const char* isolation) {
    line("audit: layout %016llx %016llx %s %s", static_cast<ull>(start), static_cast<ull>(start + (size - 1)), name,
         isolation);
}

void ProtocolPrinter::root_begin(const char* label, const Subject& subject, bool asi_on) {
    label_ = label;
    has_pending_ = false;
    run_lines_ = 0;
    runs_dropped_ = 0;
    line("audit: root %s subject=d%uv%u pcpu=%u asi=%s", label, subject.domain, subject.vcpu, subject.pcpu,
         asi_on ? "on" : "off");
}

RunSink ProtocolPrinter::run_sink() { return RunSink{&ProtocolPrinter::on_run, this}; }

void ProtocolPrinter::on_run(void* self, const VaRun& run) { static_cast<ProtocolPrinter*>(self)->add_run(run); }

// Merges adjacent runs of the same kind and verdict (the ids may differ: then "*"), printing a
// run once the next one does not continue it.
void ProtocolPrinter::add_run(const VaRun& run) {
    if (has_pending_ && pending_.last + 1 == run.first && pending_.tag.kind == run.tag.kind &&
        pending_.verdict == run.verdict) {
        pending_mixed_ = pending_mixed_ || !(pending_.tag == run.tag);
        pending_.last = run.last;
        return;
    }
    if (has_pending_) print_run(pending_, pending_mixed_);
    pending_ = run;
    pending_mixed_ = false;
    has_pending_ = true;
}

void ProtocolPrinter::print_run(const VaRun& run, bool mixed_ids) {
    if (run_lines_ >= kMaxRunLines) {
        ++runs_dropped_;
        return;
    }
    ++run_lines_;
    char id[kIdLength];
    if (mixed_ids) {
        format(id, sizeof id, "*");
    } else {
        format_tag_id(id, sizeof id, run.tag);
    }
    line("audit: run %016llx %016llx %s %s %s", static_cast<ull>(run.first), static_cast<ull>(run.last),
         kind_name(run.tag.kind), id, verdict_name(run.verdict));
}

void ProtocolPrinter::root_end(const AuditResult& result) {
    if (has_pending_) print_run(pending_, pending_mixed_);
    has_pending_ = false;
    if (runs_dropped_ != 0) line("audit: truncated %s runs=%llu", label_, static_cast<ull>(runs_dropped_));
    for (unsigned i = 0; i < result.finding_count; ++i) {
        const Finding& finding = result.findings[i];
        char id[kIdLength];
        format_tag_id(id, sizeof id, finding.tag);
        line("audit: frame %016llx mfn=%llx %s %s %s", static_cast<ull>(finding.va.raw()),
             static_cast<ull>(finding.mfn.raw()), kind_name(finding.tag.kind), id, verdict_name(finding.verdict));
    }
    const AuditTotals& t = result.totals;
    const u64 other = t.of(FrameKind::Free) + t.of(FrameKind::Unusable) + t.of(FrameKind::BootModule) +
                      t.of(FrameKind::OutsideRam);
    line("audit: total %s frames=%llu global=%llu percpu=%llu perdomain=%llu pervcpu=%llu guest=%llu other=%llu "
         "foreign=%llu bad=%llu unusable=%llu bootmod=%llu outside=%llu unreadable=%llu free=%llu",
         label_, static_cast<ull>(t.frames), static_cast<ull>(t.of(FrameKind::Global)),
         static_cast<ull>(t.of(FrameKind::PerCpu)), static_cast<ull>(t.of(FrameKind::PerDomain)),
         static_cast<ull>(t.of(FrameKind::PerVcpu)), static_cast<ull>(t.of(FrameKind::Guest)), static_cast<ull>(other),
         static_cast<ull>(t.foreign), static_cast<ull>(t.bad), static_cast<ull>(t.of(FrameKind::Unusable)),
         static_cast<ull>(t.of(FrameKind::BootModule)), static_cast<ull>(t.of(FrameKind::OutsideRam)),
         static_cast<ull>(t.unreadable_tables), static_cast<ull>(t.of(FrameKind::Free)));
    ++roots_;
    foreign_ += t.foreign;
    bad_ += t.bad;
}

void ProtocolPrinter::end() {
    line("audit: end roots=%u foreign=%llu bad=%llu", roots_, static_cast<ull>(foreign_), static_cast<ull>(bad_));
}

MappingSink MappingPrinter::mapping_sink() { return MappingSink{&MappingPrinter::on_mapping, this}; }

void MappingPrinter::on_mapping(void* self, const Mapping& mapping) { static_cast<MappingPrinter*>(self)->add(mapping); }

void MappingPrinter::add(const Mapping& mapping) {
    if (has_pending_ && pending_.va + pending_.pages * kPageSize == mapping.va &&
        pending_.first_frame + pending_.pages == mapping.first_frame && pending_.leaf == mapping.leaf &&
        pending_.effective == mapping.effective) {
        pending_.pages += mapping.pages;
        return;
    }
    if (has_pending_) print(pending_);
    pending_ = mapping;
    has_pending_ = true;
}

void MappingPrinter::print(const Mapping& m) {
    ++lines_;
    const mm::Attrs& e = m.effective;
    const mm::Attrs& l = m.leaf;
    sink_line(sink_, context_, "audit: map %016llx %016llx %llx eff=%c%c%c leaf=%c%c%c%c", static_cast<ull>(m.va),
              static_cast<ull>(m.va + m.pages * kPageSize - 1), static_cast<ull>(m.first_frame << kPageShift),
              e.user ? 'u' : '-', e.write ? 'w' : '-', e.exec ? 'x' : '-', l.user ? 'u' : '-', l.write ? 'w' : '-',
              l.exec ? 'x' : '-', l.global ? 'g' : '-');
}

u64 MappingPrinter::finish() {
    if (has_pending_) print(pending_);
    has_pending_ = false;
    return lines_;
}

}  // namespace hv::audit
