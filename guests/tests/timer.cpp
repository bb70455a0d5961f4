// SPDX-License-Identifier: MIT
// Guest timers: system time from vcpu_info advances; VCPUOP_set_singleshot_timer (a passed
// deadline fires at once: Xen 4.17 ignores VCPU_SSHOTTMR_future), set_timer_op and VCPUOP_set_periodic_timer deliver VIRQ_TIMER
// through the event upcall while the vCPU blocks; stopped timers stay quiet.
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "timer: singleshot, set_timer_op and periodic timers raise VIRQ_TIMER";

namespace {

constexpr u64 kMs = 1'000'000;
volatile xen::SharedInfo* shared;
u32 timer_port;
volatile unsigned timer_events;

bool on_event(ExceptionFrame& frame) {
    if (frame.vector != kVecEvent) return false;
    shared->vcpu_info[0].evtchn_upcall_pending = 0;
    __atomic_exchange_n(&shared->vcpu_info[0].evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    if (take_port(timer_port)) timer_events = timer_events + 1;
    return true;
}

// Waits with events unmasked (SCHEDOP_poll on the timer port, so a lost timer cannot hang the
// test: the poll's own timeout ends it) until `count` timer events arrived through the upcall or
// `limit_ns` of system time passed. Events are masked again afterwards.
bool wait_events(unsigned count, u64 limit_ns) {
    const u64 give_up = system_time() + limit_ns;
    const u32 ports[1] = {timer_port};
    while (timer_events < count && system_time() < give_up) {
        shared->vcpu_info[0].evtchn_upcall_mask = 0;
        const xen::SchedPoll request{reinterpret_cast<u64>(ports), 1, 0, give_up};
        // Returns at once when an upcall is deliverable; the return itself delivers it.
        hypercall(xen::kSchedOp, xen::kSchedOpPoll, reinterpret_cast<u64>(&request));
        shared->vcpu_info[0].evtchn_upcall_mask = 1;
    }
    return timer_events >= count;
}

void singleshot() {
    // Xen 4.17 ignores VCPU_SSHOTTMR_future: a deadline in the past is accepted and fires at once.
    xen::VcpuSetSingleshotTimer past{1, xen::kVcpuSshotTmrFuture, 0};
    expect_eq("singleshot in the past with VCPU_SSHOTTMR_future", vcpu_op(xen::kVcpuOpSetSingleshotTimer, 0, &past), 0);
    if (!wait_events(1, 2000 * kMs)) fail("a singleshot timer in the past never fired\n");
    timer_events = 0;
    const u64 start = system_time();
    xen::VcpuSetSingleshotTimer request{start + 5 * kMs, 0, 0};
    expect_eq("set_singleshot_timer", vcpu_op(xen::kVcpuOpSetSingleshotTimer, 0, &request), 0);
    if (!wait_events(1, 2000 * kMs)) return fail("the singleshot timer never fired\n");
    const u64 now = system_time();
    if (now < start + 5 * kMs) fail("the singleshot timer fired early: after %lu ns\n", now - start);
    if (wait_events(2, 30 * kMs)) fail("a singleshot timer fired twice\n");
}

void timer_op() {
    timer_events = 0;
    expect_eq("set_timer_op", hypercall(xen::kSetTimerOp, system_time() + 3 * kMs), 0);
    if (!wait_events(1, 2000 * kMs)) return fail("set_timer_op's timer never fired\n");
    // Set and stopped again: nothing.
    timer_events = 0;
    expect_eq("set_timer_op", hypercall(xen::kSetTimerOp, system_time() + 3 * kMs), 0);
    expect_eq("set_timer_op(0)", hypercall(xen::kSetTimerOp, 0), 0);
    if (wait_events(1, 20 * kMs)) fail("a stopped timer fired\n");
    expect_eq("stop_singleshot_timer", vcpu_op(xen::kVcpuOpStopSingleshotTimer, 0, nullptr), 0);
}

void periodic() {
    xen::VcpuSetPeriodicTimer too_short{999'999};
    expect_eq("periodic timer below 1 ms", vcpu_op(xen::kVcpuOpSetPeriodicTimer, 0, &too_short), -xen::kEINVAL);
    timer_events = 0;
    xen::VcpuSetPeriodicTimer request{2 * kMs};
    expect_eq("set_periodic_timer", vcpu_op(xen::kVcpuOpSetPeriodicTimer, 0, &request), 0);
    if (!wait_events(2, 2000 * kMs)) fail("the periodic timer fired %u times, expected 2\n", timer_events);
    expect_eq("stop_periodic_timer", vcpu_op(xen::kVcpuOpStopPeriodicTimer, 0, nullptr), 0);
}

}  // namespace

void test_main() {
    if (!setup_traps()) return;
    shared = map_shared_info();
    if (shared == nullptr) return;
    set_exception_hook(on_event);
    const u64 t0 = system_time();
    for (int spin = 0; spin < 100000; ++spin) asm volatile("" ::: "memory");
    const u64 t1 = system_time();
    if (t1 <= t0) return fail("system time does not advance: %lu then %lu\n", t0, t1);
    // Xen starts dom0 with a periodic timer of its own; this test wants only its own timers.
    vcpu_op(xen::kVcpuOpStopPeriodicTimer, 0, nullptr);
    xen::EvtchnBindVirq bind{xen::kVirqTimer, 0, 0};
    const long rc = evtchn_op(xen::kEvtchnOpBindVirq, &bind);
    if (rc != 0) return fail("bind_virq(VIRQ_TIMER): %ld\n", rc);
    timer_port = bind.port;
    singleshot();
    timer_op();
    periodic();
    print("timers fired as set\n");
}

}  // namespace guest
