// SPDX-License-Identifier: MIT
// Memory integrity across reschedules: fill 2 MiB of the image with a position-dependent pattern,
// yield repeatedly and check nothing changed. Run next to a hostile guest, it catches a
// hypervisor that lets one domain's actions (or its own bookkeeping) corrupt another's memory.
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "memory_checksum: 2 MiB pattern survives yields";

namespace {

constexpr u64 kBytes = 2 << 20;
constexpr u64 kWords = kBytes / 8;
constexpr int kRounds = 8;
constexpr int kYieldsPerRound = 4;
alignas(4096) u64 area[kWords];

// A mixing function of the index: a page swapped with another, or a stale page, cannot match.
u64 pattern(u64 index) {
    u64 x = index * 0x9e3779b97f4a7c15ull + 0x1234567887654321ull;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 29);
}

u64 checksum() {
    u64 sum = 0;
    for (u64 i = 0; i < kWords; ++i) sum = (sum ^ area[i]) * 0x100000001b3ull + i;
    return sum;
}

// Returns the number of words that differ from the pattern, printing the first few.
u64 verify() {
    u64 bad = 0;
    for (u64 i = 0; i < kWords; ++i) {
        if (area[i] == pattern(i)) continue;
        if (bad++ < 4)
            fail("word %lu at 0x%lx: 0x%lx, expected 0x%lx\n", i, reinterpret_cast<u64>(&area[i]), area[i], pattern(i));
    }
    return bad;
}

}  // namespace

void test_main() {
    for (u64 i = 0; i < kWords; ++i) area[i] = pattern(i);
    const u64 expected = checksum();
    print("filled %lu KiB at 0x%lx, checksum 0x%016lx\n", kBytes >> 10, reinterpret_cast<u64>(area), expected);
    for (int round = 0; round < kRounds; ++round) {
        for (int i = 0; i < kYieldsPerRound; ++i) {
            const long rc = hypercall(xen::kSchedOp, xen::kSchedOpYield, 0);
            if (rc != 0) return fail("sched_op yield: %ld\n", rc);
        }
        if (verify() != 0) return fail("pattern corrupted in round %d\n", round);
    }
    const u64 actual = checksum();
    if (actual != expected) return fail("checksum 0x%016lx, expected 0x%016lx\n", actual, expected);
    print("checksum 0x%016lx intact after %d yields\n", actual, kRounds * kYieldsPerRound);
}

}  // namespace guest
