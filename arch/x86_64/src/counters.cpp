// SPDX-License-Identifier: MIT
// Per-pCPU storage of the event counters (hv/core/counters.hpp, arch/event_count.hpp).
#include "arch/event_count.hpp"

namespace hv {

arch::EventSlot arch::event_slots[kMaxCpus + 1];

void count_event(Event event, u64 n) { arch::count_event_inline(event, n); }

u64 event_total(Event event) {
    u64 total = 0;
    for (const arch::EventSlot& slot : arch::event_slots)
        total += __atomic_load_n(&slot.count[static_cast<unsigned>(event)], __ATOMIC_RELAXED);
    return total;
}

}  // namespace hv
