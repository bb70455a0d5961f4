// SPDX-License-Identifier: MIT
// Flush-request targets and reduction; TSC-to-system-time arithmetic.
#include <gtest/gtest.h>

#include "hv/sched/flush.hpp"
#include "hv/sched/time.hpp"

namespace hv::sched {
namespace {

TEST(FlushTargets, OnlyPcpusWithTheDomainLoaded) {
    const LoadedView loaded[4] = {{1, 0}, {2, 0}, {1, 3}, {0, 0}};
    EXPECT_EQ(flush_targets(loaded, 4, 1, kAllVcpus), 0b0101u);
    EXPECT_EQ(flush_targets(loaded, 4, 2, kAllVcpus), 0b0010u);
    EXPECT_EQ(flush_targets(loaded, 4, 3, kAllVcpus), 0u);
    EXPECT_EQ(flush_targets(loaded, 4, 0, kAllVcpus), 0u) << "idle tables belong to nobody";
    EXPECT_EQ(flush_targets(loaded, 4, 1, 0b1000), 0b0100u) << "MULTI: only vCPU 3";
    EXPECT_EQ(flush_targets(loaded, 4, 1, 0), 0u);
    EXPECT_EQ(flush_targets(loaded, 2, 1, kAllVcpus), 0b01u) << "only online pCPUs";
}

TEST(FlushTargets, ReductionKeepsTheStrongestTlbPart) {
    EXPECT_EQ(effective_flush(kFlushVa | kFlushTlb), u32{kFlushTlb});
    EXPECT_EQ(effective_flush(kFlushVa | kFlushTlb | kFlushTlbGlobal), u32{kFlushTlbGlobal});
    EXPECT_EQ(effective_flush(kFlushRootResync | kFlushVa), u32{kFlushRootResync | kFlushVa});
    EXPECT_EQ(effective_flush(kFlushDropLazy), u32{kFlushDropLazy});
}

TEST(TimeScale, OneGigahertzIsOneNanosecondPerTick) {
    const TimeScale s = time_scale_for(1'000'000'000);
    EXPECT_EQ(scale_delta(0, s), 0u);
    EXPECT_EQ(scale_delta(1'000'000'000, s), 1'000'000'000u);
    EXPECT_EQ(scale_delta(12345, s), 12345u);
}

TEST(TimeScale, KnownRatesAreAccurate) {
    for (const u64 hz : {1'000'000ull, 1'193'182ull, 2'400'000'000ull, 3'000'000'001ull, 999'999'999ull, 1ull << 40}) {
        const TimeScale s = time_scale_for(hz);
        EXPECT_GE(s.mul, 1u << 31) << hz;
        // One second of ticks is one second, within 1 ppm plus a nanosecond of rounding.
        const u64 ns = scale_delta(hz, s);
        EXPECT_NEAR(static_cast<double>(ns), 1e9, 1e3 + 1) << hz;
        EXPECT_LE(scale_delta(hz / 2, s), scale_delta(hz, s));
    }
}

TEST(TimeScale, NsToTicksRoundsUp) {
    EXPECT_EQ(ns_to_ticks(1'000'000, 1'000'000'000), 1'000'000u);
    EXPECT_EQ(ns_to_ticks(1, 3), 1u) << "never early";
    EXPECT_EQ(ns_to_ticks(0, 3), 0u);
    EXPECT_EQ(ns_to_ticks(~u64{0}, u64{1} << 40), ~u64{0}) << "saturates";
}

}  // namespace
}  // namespace hv::sched
