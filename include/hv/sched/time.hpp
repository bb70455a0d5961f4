// SPDX-License-Identifier: MIT
// Time arithmetic: the TSC as Xen system time (nanoseconds since boot), in the form the guest
// reads it from vcpu_info.time (pv-abi §1.8):
//   ns = system_time + ((delta << shift or >> -shift) * tsc_to_system_mul) >> 32
// with delta = rdtsc - tsc_timestamp, and conversions for programming timers.
#pragma once

#include "hv/core/types.hpp"

namespace hv::sched {

struct TimeScale {
    u32 mul;   // tsc_to_system_mul: nanoseconds per (shifted) tick, 32.32 fixed point
    signed char shift;  // tsc_shift
};

// The scale for a counter running at `ticks_per_second` (1 kHz .. 2^40 Hz): the shift puts the
// shifted rate in (1 GHz, 2 GHz], so mul in [2^31, 2^32) keeps 31 bits of precision.
TimeScale time_scale_for(u64 ticks_per_second);
// Nanoseconds in `delta` ticks, exactly as a guest computes them.
u64 scale_delta(u64 delta, TimeScale scale);
// Ticks of a `ticks_per_second` counter in `ns` nanoseconds, rounded up (a timer never fires
// early), saturating at 2^64-1.
u64 ns_to_ticks(u64 ns, u64 ticks_per_second);

}  // namespace hv::sched
