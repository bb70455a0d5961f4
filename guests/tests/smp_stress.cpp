// SPDX-License-Identifier: MIT
// Stress (vcpus=N): every vCPU passes a token around a ring of IPI event channels for a fixed
// number of rounds while remapping a private page with update_va_mapping (flushing on every
// vCPU, UVMF_ALL), yielding, arming timers and making small hypercalls. Invariants, checked all
// the time: a remapped page shows its frame's tag at once; a vCPU waiting for its predecessor's
// round never sits in a poll for 2 s while the round is already there (a lost wake-up); every
// vCPU finishes. Meant to run as several domains at once on several pCPUs.
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "smp_stress: events, yields, timers and remaps on every vCPU";

namespace {

constexpr unsigned kMaxVcpus = 8;
constexpr u64 kRwLeaf = 0x63;
constexpr u64 kWatchdogNs = 2'000'000'000;

unsigned vcpus, rounds;
u32 port[kMaxVcpus];                   // port[k] notifies vCPU k
volatile unsigned progress[kMaxVcpus];  // rounds vCPU k has completed
volatile unsigned finished, failures;
alignas(4096) u64 frames[kMaxVcpus][2][512];  // two frames per vCPU, tagged
alignas(4096) u64 window[kMaxVcpus][512];     // the VA each vCPU remaps

u64 maddr(const void* p) { return pfn_to_mfn(reinterpret_cast<u64>(p) >> 12) << 12; }
u64 tag(unsigned id, unsigned which) { return 0x5700000000000000 | (u64{id} << 8) | which; }

void failed(unsigned id, const char* what, unsigned round) {
    if (__atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST) < 8) fail("vCPU %u round %u: %s\n", id, round, what);
}

bool remap(unsigned id, unsigned which) {
    const u64 flags = xen::kUvmfInvlpg | xen::kUvmfAll;
    if (hypercall(xen::kUpdateVaMapping, reinterpret_cast<u64>(window[id]), maddr(frames[id][which]) | kRwLeaf, flags) != 0)
        return false;
    return *reinterpret_cast<volatile u64*>(window[id]) == tag(id, which);
}

// Waits until the predecessor finished `round`; the event is only the wake-up.
bool wait_for(unsigned id, unsigned round) {
    const unsigned previous = (id + vcpus - 1) % vcpus;
    while (progress[previous] < round) {
        const u64 start = system_time(id);
        const u32 ports[1] = {port[id]};
        const xen::SchedPoll request{reinterpret_cast<u64>(ports), 1, 0, start + kWatchdogNs};
        if (!take_port(port[id])) hypercall(xen::kSchedOp, xen::kSchedOpPoll, reinterpret_cast<u64>(&request));
        take_port(port[id]);
        if (system_time(id) - start >= kWatchdogNs && progress[previous] >= round) {
            failed(id, "lost wake-up: the round was there but the poll slept 2 s", round);
            return false;
        }
        if (system_time(id) - start >= 10 * kWatchdogNs) {
            failed(id, "the predecessor made no progress for 20 s", round);
            return false;
        }
    }
    return true;
}

void worker(unsigned id) {
    const unsigned next = (id + 1) % vcpus;
    for (unsigned round = 1; round <= rounds && failures == 0; ++round) {
        if (round > 1 && !wait_for(id, round - 1)) break;
        if (!remap(id, round % 2)) failed(id, "a remapped page shows the wrong tag", round);
        switch (round % 4) {
            case 0: yield(); break;
            case 1: hypercall(xen::kSetTimerOp, system_time(id) + 1'000'000); break;
            case 2: hypercall(xen::kXenVersion, xen::kXenVersionVersion, 0); break;
            default: break;
        }
        progress[id] = round;
        send_event(port[next]);
    }
    __atomic_add_fetch(&finished, 1, __ATOMIC_SEQ_CST);
}

}  // namespace

void test_main() {
    if (map_shared_info() == nullptr) return;
    vcpus = vcpu_count();
    rounds = cmdline_option("rounds", 300);
    for (unsigned k = 0; k < vcpus; ++k) {
        const long p = bind_ipi(k);
        if (p < 0) return fail("bind_ipi(%u): %ld\n", k, p);
        port[k] = static_cast<u32>(p);
        frames[k][0][0] = tag(k, 0);
        frames[k][1][0] = tag(k, 1);
    }
    for (unsigned k = 1; k < vcpus; ++k) {
        const long rc = start_vcpu(k, worker);
        if (rc != 0) return fail("starting vCPU %u: %ld\n", k, rc);
    }
    worker(0);
    const u64 give_up = system_time() + 30 * kWatchdogNs;
    while (finished < vcpus && system_time() < give_up) yield();
    if (finished < vcpus) return fail("only %u of %u vCPUs finished\n", finished, vcpus);
    if (failures == 0) print("%u vCPUs x %u rounds: invariants held\n", vcpus, rounds);
}

}  // namespace guest
