// SPDX-License-Identifier: MIT
// TSC and LAPIC timer calibration against PIT channel 2, Xen system time, the LAPIC tick.
// [SDM 3A §10.5.4; Intel 8254 datasheet: mode 0, gate and OUT of channel 2 in port 0x61]
#include "arch/time.hpp"

#include "arch/cpu.hpp"
#include "arch/lapic.hpp"
#include "hv/core/console.hpp"
#include "hv/pv/guest_mode.hpp"

namespace hv::arch {
namespace {

constexpr u64 kPitHz = 1'193'182;
constexpr u32 kPitCount = 11'932;  // 10 ms
constexpr u64 kPitSpinLimit = 2'000'000'000;
constexpr u64 kFallbackHz = 1'000'000'000;  // no PIT answer: assume 1 GHz for both

u64 tsc_rate, lapic_rate, tsc_at_boot;
sched::TimeScale scale;

// Runs PIT channel 2 once for kPitCount ticks; returns false when OUT never rose.
bool pit_window(u64& tsc_ticks, u32& lapic_ticks) {
    outb(0x61, static_cast<u8>((inb(0x61) & ~0x02) | 0x01));  // gate on, speaker off
    outb(0x43, 0xb0);                                        // channel 2, lo/hi byte, mode 0
    lapic_timer_oneshot_max();
    outb(0x42, kPitCount & 0xff);
    outb(0x42, kPitCount >> 8);  // counting starts here
    const u64 start = rdtsc();
    const u32 lapic_start = lapic_timer_current();
    for (u64 spin = 0; spin < kPitSpinLimit; ++spin) {
        if ((inb(0x61) & 0x20) != 0) {
            tsc_ticks = rdtsc() - start;
            lapic_ticks = lapic_start - lapic_timer_current();
            return true;
        }
    }
    return false;
}

}  // namespace

void time_init() {
    u64 tsc_ticks = 0;
    u32 lapic_ticks = 0;
    if (pit_window(tsc_ticks, lapic_ticks) && tsc_ticks > 0 && lapic_ticks > 0) {
        tsc_rate = tsc_ticks * kPitHz / kPitCount;
        lapic_rate = u64{lapic_ticks} * kPitHz / kPitCount;
    } else {
        print("isola: the PIT did not answer: assuming a 1 GHz TSC and LAPIC timer\n");
        tsc_rate = lapic_rate = kFallbackHz;
    }
    if (tsc_rate < 1'000'000) tsc_rate = kFallbackHz;
    if (lapic_rate < 1'000) lapic_rate = kFallbackHz;
    scale = sched::time_scale_for(tsc_rate);
    tsc_at_boot = rdtsc();
    print("isola: TSC %lu kHz, LAPIC timer %lu kHz (after divide)\n", tsc_rate / 1000, lapic_rate / 1000);
}

u64 tsc_hz() { return tsc_rate; }
sched::TimeScale tsc_scale() { return scale; }
u64 boot_tsc() { return tsc_at_boot; }

void lapic_timer_start(u64 period_ns) {
    const u64 count = sched::ns_to_ticks(period_ns, lapic_rate);
    lapic_timer_periodic(kVectorTimer, count > 0xffffffff ? 0xffffffff : static_cast<u32>(count));
}

}  // namespace hv::arch

namespace hv::pv {

u64 system_time_ns() { return sched::scale_delta(arch::rdtsc() - arch::tsc_at_boot, arch::scale); }

}  // namespace hv::pv
