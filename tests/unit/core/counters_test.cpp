// SPDX-License-Identifier: MIT
// Tests of the event counters' report line (the format `isola bench` parses) and of counting.
#include "hv/core/counters.hpp"

#include <gtest/gtest.h>

#include <string>

#include "support/host_console.hpp"

namespace hv {
namespace {

// Every event has its own name, in the order the report line lists them.
TEST(Counters, Names) {
    EXPECT_STREQ(event_name(Event::Cr3Load), "cr3_loads");
    EXPECT_STREQ(event_name(Event::TlbFlush), "tlb_flushes");
    EXPECT_STREQ(event_name(Event::Invlpg), "invlpgs");
    EXPECT_STREQ(event_name(Event::Ipi), "ipis");
    EXPECT_STREQ(event_name(Event::RootResync), "resyncs");
    EXPECT_STREQ(event_name(Event::BytesZeroed), "bytes_zeroed");
    EXPECT_STREQ(event_name(Event::Cr3NoFlush), "cr3_noflush");
}

// The line is `isola: events` followed by name=value for every event, in Event order.
TEST(Counters, LineFormat) {
    const u64 totals[kEventCount] = {1, 22, 333, 0, 5, 18446744073709551615UL, 7};
    char line[256];
    const usize length = format_event_line(line, sizeof line, totals);
    EXPECT_EQ(std::string(line),
              "isola: events cr3_loads=1 tlb_flushes=22 invlpgs=333 ipis=0 resyncs=5 "
              "bytes_zeroed=18446744073709551615 cr3_noflush=7");
    EXPECT_EQ(length, std::string(line).size());
}

// A buffer too small truncates and stays NUL-terminated.
TEST(Counters, LineTruncates) {
    const u64 totals[kEventCount] = {};
    char line[16];
    format_event_line(line, sizeof line, totals);
    EXPECT_EQ(std::string(line), "isola: events c");
}

// count_event adds n (default 1) to the total; print_event_totals prints the current totals.
TEST(Counters, CountAndPrint) {
    u64 before[kEventCount];
    for (unsigned i = 0; i < kEventCount; ++i) before[i] = event_total(static_cast<Event>(i));
    count_event(Event::Cr3Load);
    count_event(Event::BytesZeroed, 4096);
    EXPECT_EQ(event_total(Event::Cr3Load), before[0] + 1);
    EXPECT_EQ(event_total(Event::BytesZeroed), before[5] + 4096);
    EXPECT_EQ(event_total(Event::Ipi), before[3]);
    test::take_console_output();
    print_event_totals();
    const std::string out = test::take_console_output();
    EXPECT_NE(out.find("isola: events cr3_loads=" + std::to_string(before[0] + 1) + " "), std::string::npos);
    EXPECT_NE(out.find(" bytes_zeroed=" + std::to_string(before[5] + 4096) + " "), std::string::npos);
    EXPECT_NE(out.find(" cr3_noflush=" + std::to_string(before[6]) + "\n"), std::string::npos);
}

}  // namespace
}  // namespace hv
