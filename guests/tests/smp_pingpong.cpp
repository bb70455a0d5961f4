// SPDX-License-Identifier: MIT
// Two vCPUs of one domain (vcpus=2) bounce events through IPI event channels, then take turns
// with SCHEDOP_yield. Both waits use SCHEDOP_poll with events masked, so a lost wake-up shows as
// a poll that never returns (caught by a timeout). Prints the TSC cycles per round trip and per
// yield turn (instructions under -icount shift=0).
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "smp_pingpong: event channels and yield between two vCPUs";

namespace {

constexpr unsigned kRounds = 1000;
// Guest option "yield=0" skips the yield phase: with the two vCPUs on two pCPUs under
// -icount (one QEMU thread, a switch between pCPUs only every 100 ms when nobody halts) the
// spinning turns would take minutes.
unsigned yield_rounds;
constexpr u64 kWaitTimeoutNs = 5'000'000'000;  // a wake-up lost for 5 s is lost

u32 port_to_0, port_to_1;  // IPI ports notifying vCPU 0 and vCPU 1
volatile unsigned turn;    // yield phase: whose turn (0 or 1)
volatile bool partner_failed, partner_done;

void partner(unsigned) {
    for (unsigned round = 0; round < kRounds; ++round) {
        if (!wait_port(port_to_1, kWaitTimeoutNs)) {
            fail("vCPU 1: no event in round %u\n", round);
            partner_failed = true;
            return;
        }
        send_event(port_to_0);
    }
    for (unsigned round = 0; round < yield_rounds; ++round) {
        while (turn != 1) yield();
        turn = 0;
    }
    partner_done = true;
}

}  // namespace

void test_main() {
    if (map_shared_info() == nullptr) return;
    yield_rounds = cmdline_option("yield", 1) != 0 ? kRounds : 0;
    const long a = bind_ipi(0), b = bind_ipi(1);
    if (a < 0 || b < 0) return fail("bind_ipi: %ld %ld\n", a, b);
    port_to_0 = static_cast<u32>(a), port_to_1 = static_cast<u32>(b);
    const long rc = start_vcpu(1, partner);
    if (rc != 0) return fail("starting vCPU 1: %ld\n", rc);
    const u64 start = rdtsc();
    for (unsigned round = 0; round < kRounds; ++round) {
        send_event(port_to_1);
        if (!wait_port(port_to_0, kWaitTimeoutNs)) return fail("vCPU 0: no answer in round %u\n", round);
        if (partner_failed) return;
    }
    const u64 middle = rdtsc();
    for (unsigned round = 0; round < yield_rounds; ++round) {
        while (turn != 0) yield();
        turn = 1;
    }
    while (!partner_done) yield();
    const u64 end = rdtsc();
    print("event round trip: %lu TSC cycles; yield turn: %lu TSC cycles\n", (middle - start) / kRounds,
          yield_rounds == 0 ? 0 : (end - middle) / (2 * yield_rounds));
    print("%u event rounds and %u yield turns done\n", kRounds, 2 * yield_rounds);
}

}  // namespace guest
