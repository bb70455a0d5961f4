// SPDX-License-Identifier: MIT
// Time on the real machine (time.cpp): the TSC calibrated against the PIT at boot, Xen system
// time derived from it (hv/sched/time.hpp), and the LAPIC timer that ticks the scheduler.
#pragma once

#include "hv/core/types.hpp"
#include "hv/sched/time.hpp"

namespace hv::arch {

inline constexpr u8 kVectorTimer = 0xe0;

// Boot CPU, once, before any AP or guest runs: measures the TSC and LAPIC timer rates.
void time_init();
u64 tsc_hz();
sched::TimeScale tsc_scale();
u64 boot_tsc();
// Starts this pCPU's LAPIC timer: periodic, every `period_ns`, vector kVectorTimer.
void lapic_timer_start(u64 period_ns);

}  // namespace hv::arch
