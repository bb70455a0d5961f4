// SPDX-License-Identifier: MIT
// Host storage of the event counters: one set for the whole test binary (single-threaded).
#include "hv/core/counters.hpp"

namespace hv {
namespace {
u64 counts[kEventCount];
}

void count_event(Event event, u64 n) { counts[static_cast<unsigned>(event)] += n; }
u64 event_total(Event event) { return counts[static_cast<unsigned>(event)]; }

}  // namespace hv
