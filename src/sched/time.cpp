// SPDX-License-Identifier: MIT
// TSC scaling for Xen system time (see time.hpp).
#include "hv/sched/time.hpp"

#include "hv/core/check.hpp"

namespace hv::sched {
namespace {
constexpr u64 kNsPerSecond = 1'000'000'000;
using u128 = unsigned __int128;
}  // namespace

TimeScale time_scale_for(u64 ticks_per_second) {
    HV_CHECK(ticks_per_second >= 1000 && ticks_per_second <= (u64{1} << 40));
    u64 scaled = ticks_per_second;
    int shift = 0;
    while (scaled <= kNsPerSecond) {
        scaled <<= 1;
        ++shift;
    }
    while (scaled > 2 * kNsPerSecond) {
        scaled >>= 1;
        --shift;
    }
    const u64 mul = static_cast<u64>((u128{kNsPerSecond} << 32) / scaled);
    HV_CHECK(mul < (u64{1} << 32));
    return TimeScale{static_cast<u32>(mul), static_cast<signed char>(shift)};
}

u64 scale_delta(u64 delta, TimeScale scale) {
    if (scale.shift >= 0) delta <<= scale.shift;
    else delta >>= -scale.shift;
    return static_cast<u64>((u128{delta} * scale.mul) >> 32);
}

u64 ns_to_ticks(u64 ns, u64 ticks_per_second) {
    const u128 ticks = (u128{ns} * ticks_per_second + kNsPerSecond - 1) / kNsPerSecond;
    return ticks > ~u64{0} ? ~u64{0} : static_cast<u64>(ticks);
}

}  // namespace hv::sched
