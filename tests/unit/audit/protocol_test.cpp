// SPDX-License-Identifier: MIT
// The audit console protocol: exact lines, run merging, the line budget, and the recorded sample
// (tests/system/data/audit_sample.txt) that the Python tool's tests parse. The sample is
// regenerated here from the fake ASI machine, so the two sides cannot drift apart silently:
// set ISOLA_UPDATE_AUDIT_SAMPLE=1 to rewrite it after a deliberate protocol change.
#include "hv/audit/protocol.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "arch/pte.hpp"
#include "arch/va_layout.hpp"
#include "support/fake_asi_machine.hpp"

namespace hv::audit {
namespace {

using Lines = std::vector<std::string>;

void collect(void* lines, const char* line) {
    EXPECT_LE(std::string(line).size(), kMaxLineLength);
    static_cast<Lines*>(lines)->push_back(line);
}

constexpr Subject kSubject{.domain = 1, .vcpu = 0, .pcpu = 0};

VaRun run(u64 first, u64 pages, FrameTag tag, Verdict verdict) {
    return VaRun{first, first + pages * kPageSize - 1, tag, verdict};
}

// The root section of a hand-made result: root line, runs, frame lines, total line.
TEST(AuditProtocol, RootSectionLines) {
    Lines lines;
    ProtocolPrinter out(collect, &lines);
    out.begin();
    out.layout(0xffff82d000000000, GiB, "cpu_stacks", "percpu");
    out.root_begin("d1v0", kSubject, true);
    const RunSink sink = out.run_sink();
    sink.emit(sink.context, run(0x1000, 2, FrameTag{FrameKind::Guest, 1, 0}, Verdict::Own));
    sink.emit(sink.context, run(0xffff830000000000, 1, FrameTag{FrameKind::PerVcpu, 1, 1}, Verdict::Foreign));
    AuditResult result;
    result.totals.frames = 3;
    result.totals.by_kind[static_cast<unsigned>(FrameKind::Guest)] = 2;
    result.totals.by_kind[static_cast<unsigned>(FrameKind::PerVcpu)] = 1;
    result.totals.foreign = 1;
    result.findings[0] = Finding{Vaddr(0xffff830000000000), Mfn(0x584), FrameTag{FrameKind::PerVcpu, 1, 1},
                                 Verdict::Foreign};
    result.finding_count = 1;
    out.root_end(result);
    out.end();
    const Lines expected = {
        "audit: begin v1",
        "audit: layout ffff82d000000000 ffff82d03fffffff cpu_stacks percpu",
        "audit: root d1v0 subject=d1v0 pcpu=0 asi=on",
        "audit: run 0000000000001000 0000000000002fff guest d1 own",
        "audit: run ffff830000000000 ffff830000000fff pervcpu d1v1 foreign",
        "audit: frame ffff830000000000 mfn=584 pervcpu d1v1 foreign",
        "audit: total d1v0 frames=3 global=0 percpu=0 perdomain=0 pervcpu=1 guest=2 other=0 foreign=1 bad=0 "
        "unusable=0 bootmod=0 outside=0 unreadable=0 free=0",
        "audit: end roots=1 foreign=1 bad=0",
    };
    EXPECT_EQ(lines, expected);
}

// Adjacent runs of the same kind and verdict print as one line, with "*" for mixed ids; a
// different verdict or a hole starts a new line.
TEST(AuditProtocol, MergesRunsOfOneKindAndVerdict) {
    Lines lines;
    ProtocolPrinter out(collect, &lines);
    out.root_begin("r", kSubject, false);
    const RunSink sink = out.run_sink();
    sink.emit(sink.context, run(0x10000, 1, FrameTag{FrameKind::PerVcpu, 1, 1}, Verdict::Foreign));
    sink.emit(sink.context, run(0x11000, 1, FrameTag{FrameKind::PerVcpu, 2, 0}, Verdict::Foreign));
    sink.emit(sink.context, run(0x12000, 1, FrameTag{FrameKind::PerVcpu, 1, 0}, Verdict::Own));
    sink.emit(sink.context, run(0x14000, 1, FrameTag{FrameKind::PerVcpu, 1, 0}, Verdict::Own));
    out.root_end(AuditResult{});
    ASSERT_EQ(lines.size(), 5U);
    EXPECT_EQ(lines[0], "audit: root r subject=d1v0 pcpu=0 asi=off");
    EXPECT_EQ(lines[1], "audit: run 0000000000010000 0000000000011fff pervcpu * foreign");
    EXPECT_EQ(lines[2], "audit: run 0000000000012000 0000000000012fff pervcpu d1v0 own");
    EXPECT_EQ(lines[3], "audit: run 0000000000014000 0000000000014fff pervcpu d1v0 own");
}

// Past kMaxRunLines, run lines are counted instead of printed; the total still follows.
TEST(AuditProtocol, RunLineBudget) {
    Lines lines;
    ProtocolPrinter out(collect, &lines);
    out.root_begin("big", kSubject, true);
    const RunSink sink = out.run_sink();
    const unsigned runs = kMaxRunLines + 10;
    for (unsigned i = 0; i < runs; ++i)  // every other page, so nothing merges
        sink.emit(sink.context, run(u64{i} * 2 * kPageSize, 1, FrameTag{FrameKind::Global, 0, 0}, Verdict::Own));
    out.root_end(AuditResult{});
    ASSERT_EQ(lines.size(), 1 + kMaxRunLines + 2);
    EXPECT_EQ(lines[kMaxRunLines + 1], "audit: truncated big runs=10");
    EXPECT_EQ(lines.back().rfind("audit: total big ", 0), 0U);
    // The next root starts with a fresh budget.
    lines.clear();
    out.root_begin("next", kSubject, true);
    out.run_sink().emit(&out, run(0, 1, FrameTag{}, Verdict::Own));
    out.root_end(AuditResult{});
    EXPECT_EQ(lines.size(), 3U);
}

// The longest possible total line (every count at its maximum) fits without truncation.
TEST(AuditProtocol, LongestTotalFits) {
    Lines lines;
    ProtocolPrinter out(collect, &lines);
    out.root_begin("d4294967295v4294967295", Subject{~0U, ~0U, ~0U}, true);
    AuditResult result;
    result.totals.frames = result.totals.foreign = result.totals.bad = result.totals.unreadable_tables = ~u64{0};
    for (u64& count : result.totals.by_kind) count = ~u64{0} / 8;
    out.root_end(result);
    ASSERT_EQ(lines.size(), 2U);
    EXPECT_EQ(lines[0], "audit: root d4294967295v4294967295 subject=d4294967295v4294967295 pcpu=4294967295 asi=on");
    const std::string suffix = "unreadable=18446744073709551615 free=2305843009213693951";
    EXPECT_EQ(lines[1].substr(lines[1].size() - suffix.size()), suffix);
}

// ---- The recorded sample ----------------------------------------------------------------------

const char* isolation_word(arch::IsolationClass isolation) {
    switch (isolation) {
        case arch::IsolationClass::Global: return "global";
        case arch::IsolationClass::PerCpu: return "percpu";
        case arch::IsolationClass::PerDomain: return "perdomain";
        case arch::IsolationClass::PerVcpu: return "pervcpu";
        case arch::IsolationClass::Gap: return "gap";
    }
    return "?";
}

// One boot's audit as the image will print it: the layout, then d1v0 on pCPU 0 and d2v1 on pCPU 1.
std::string audit_session(test::FakeAsiMachine& machine, bool asi) {
    Lines lines;
    ProtocolPrinter out(collect, &lines);
    out.begin();
    for (const arch::Region& region : arch::kLayout)
        out.layout(region.start, region.size, region.name, isolation_word(region.isolation));
    std::vector<u64> scratch(audit_scratch_words(test::FakeAsiMachine::kFrameCount));
    const AuditScratch memory{scratch.data(), scratch.size()};
    const Subject subjects[] = {{1, 0, 0}, {2, 1, 1}};
    for (const Subject& s : subjects) {
        const std::string label = "d" + std::to_string(s.domain) + "v" + std::to_string(s.vcpu);
        audit_and_print<arch::X86PteFormat>(machine.env(), machine.root(asi, s.domain, s.vcpu, s.pcpu), s, memory, out,
                                            label.c_str(), asi);
    }
    out.end();
    std::string text;
    for (const std::string& line : lines) text += line + "\n";
    return text;
}

// The checked-in sample is exactly what the printer produces for the fake ASI machine, with
// ASI on and off (two boots, as `isola audit` runs them).
TEST(AuditProtocol, RecordedSampleIsCurrent) {
    test::FakeAsiMachine machine;
    const std::string header =
        "# Recorded by tests/unit/audit/protocol_test.cpp from the fake ASI machine\n"
        "# (tests/support/fake_asi_machine.hpp); ISOLA_UPDATE_AUDIT_SAMPLE=1 rewrites it.\n"
        "Isola hypervisor (sample) booting\n";
    const std::string text = header + audit_session(machine, true) + audit_session(machine, false);
    const std::string path = std::string(ISOLA_SOURCE_DIR) + "/tests/system/data/audit_sample.txt";
    if (const char* update = std::getenv("ISOLA_UPDATE_AUDIT_SAMPLE"); update != nullptr && update[0] == '1') {
        std::ofstream(path) << text;
    }
    std::ifstream file(path);
    ASSERT_TRUE(file.good()) << "missing " << path;
    std::stringstream recorded;
    recorded << file.rdbuf();
    EXPECT_EQ(recorded.str(), text) << "the sample is stale; rerun with ISOLA_UPDATE_AUDIT_SAMPLE=1";
}

}  // namespace
}  // namespace hv::audit
