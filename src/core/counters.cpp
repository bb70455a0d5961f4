// SPDX-License-Identifier: MIT
// Event counters: names and the end-of-run report line (storage is per arch, see counters.hpp).
#include "hv/core/counters.hpp"

#include "hv/core/console.hpp"
#include "hv/core/format.hpp"

namespace hv {

const char* event_name(Event event) {
    switch (event) {
        case Event::Cr3Load: return "cr3_loads";
        case Event::TlbFlush: return "tlb_flushes";
        case Event::Invlpg: return "invlpgs";
        case Event::Ipi: return "ipis";
        case Event::RootResync: return "resyncs";
        case Event::BytesZeroed: return "bytes_zeroed";
        case Event::Cr3NoFlush: return "cr3_noflush";
    }
    return "unknown";
}

usize format_event_line(char* buffer, usize capacity, const u64 (&totals)[kEventCount]) {
    usize length = format(buffer, capacity, "isola: events");
    for (unsigned i = 0; i < kEventCount; ++i)
        length += format(buffer + length, capacity - length, " %s=%lu", event_name(static_cast<Event>(i)), totals[i]);
    return length;
}

void print_event_totals() {
    u64 totals[kEventCount];
    for (unsigned i = 0; i < kEventCount; ++i) totals[i] = event_total(static_cast<Event>(i));
    char line[256];  // 7 events with 20-digit values fit
    format_event_line(line, sizeof line, totals);
    print("%s\n", line);
}

}  // namespace hv
