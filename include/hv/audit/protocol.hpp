// SPDX-License-Identifier: MIT
// Isolation audit: the console protocol the hypervisor prints and `isola audit` parses.
//
// Plain text lines, each starting with "audit: ", fields separated by single spaces. Numbers
// are lowercase hex without 0x for addresses (VAs always 16 digits), decimal for counts.
//
//   audit: begin v1
//   audit: layout <start> <last> <name> <class>                 0 or more, the VA layout rows
//   audit: root <label> subject=d<D>v<V> pcpu=<C> asi=<on|off>  opens a root section
//   audit: run <first> <last> <kind> <id> <own|foreign|bad|granted> the VA map, ascending
//   audit: truncated <label> runs=<N>                           run lines left out (budget)
//   audit: frame <va> mfn=<hex> <kind> <id> <foreign|bad>       the first findings
//   audit: total <label> frames=N global=N percpu=N perdomain=N pervcpu=N guest=N other=N
//                foreign=N bad=N unusable=N bootmod=N outside=N unreadable=N free=N (one line)
//   audit: end roots=<N> foreign=<N> bad=<N>                    after the last root
//
// The audit point (option audit-point=<cpu>, docs/asi.md) prints one root's mappings instead:
//
//   audit: point begin cpu=<C> root=<maddr> label=<label>
//   audit: point volatile <first> <last> <why>                  a range QEMU's view may differ in
//   audit: map <first> <last> <maddr> eff=<u|-><w|-><x|-> leaf=<u|-><w|-><x|-><g|->
//   audit: point end cpu=<C> root=<maddr> maps=<N>
//
// A map line is a stretch of VAs mapping consecutive frames from <maddr> with the same rights:
// `leaf` the leaf entry's own bits, `eff` what a translation grants (AND over the levels).
//
// <last> is inclusive. <kind> and <id> are as in hv/audit/frame_tag.hpp; <id> is "*" on a run
// that merged several ids. <label> is one word chosen by the caller (e.g. "d1v0"). other = free +
// unusable + bootmod + outside; bad counts the free frames that are a bug (frame_tag.hpp). A root section is root, runs, [truncated], frames, total.
//
// Run lines are the walker's runs coalesced once more: adjacent runs with the same kind and
// verdict merge (ids become "*"), and at most kMaxRunLines are printed per root, so a root
// prints in a few hundred lines. The totals and frame lines are always exact.
#pragma once

#include "hv/audit/accountant.hpp"
#include "hv/audit/frame_tag.hpp"
#include "hv/audit/walker.hpp"
#include "hv/core/types.hpp"

namespace hv::audit {

inline constexpr unsigned kMaxRunLines = 256;
inline constexpr usize kMaxLineLength = 480;  // longest line, without the newline

// Receives one line at a time, NUL-terminated, without a trailing newline.
using LineSink = void (*)(void* context, const char* line);

class ProtocolPrinter {
  public:
    ProtocolPrinter(LineSink sink, void* context) : sink_(sink), context_(context) {}

    void begin();
    // One VA layout row: [start, start + size) named `name`, of isolation class `isolation`
    // (both one word, e.g. "cpu_stacks" "percpu").
    void layout(u64 start, u64 size, const char* name, const char* isolation);

    // Opens the section of one root; then pass run_sink() to audit_root and call root_end.
    void root_begin(const char* label, const Subject& subject, bool asi_on);
    // Out of line on purpose: the image cannot take the address of on_run from another file.
    RunSink run_sink();
    void root_end(const AuditResult& result);

    // After the last root: how many roots, and the sums of their foreign and bad counts.
    void end();

  private:
    static void on_run(void* self, const VaRun& run);
    void add_run(const VaRun& run);
    void print_run(const VaRun& run, bool mixed_ids);
    void line(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

    LineSink sink_;
    void* context_;
    const char* label_ = "";
    VaRun pending_{};
    bool has_pending_ = false;
    bool pending_mixed_ = false;
    unsigned run_lines_ = 0;
    u64 runs_dropped_ = 0;
    unsigned roots_ = 0;
    u64 foreign_ = 0;
    u64 bad_ = 0;
};

// Prints the `audit: map` lines of one root from enumerate_mappings(), merging leaves that
// continue each other (next VA, next frame, same rights). Every mapping is printed: no budget.
class MappingPrinter {
  public:
    MappingPrinter(LineSink sink, void* context) : sink_(sink), context_(context) {}

    // Out of line on purpose, like ProtocolPrinter::run_sink().
    MappingSink mapping_sink();
    // Prints the pending stretch; returns how many map lines were printed in all.
    u64 finish();

  private:
    static void on_mapping(void* self, const Mapping& mapping);
    void add(const Mapping& mapping);
    void print(const Mapping& mapping);

    LineSink sink_;
    void* context_;
    Mapping pending_{};
    bool has_pending_ = false;
    u64 lines_ = 0;
};

// The whole section of one root: root line, audit_root, run lines, frame lines, total line.
template <mm::PteFormat Format, AuditEnv Env>
AuditResult audit_and_print(Env& env, Mfn root, const Subject& subject, AuditScratch scratch, ProtocolPrinter& out,
                            const char* label, bool asi_on) {
    out.root_begin(label, subject, asi_on);
    const AuditResult result = audit_root<Format>(env, root, subject, scratch, out.run_sink());
    out.root_end(result);
    return result;
}

}  // namespace hv::audit
