// SPDX-License-Identifier: MIT
// Two-vCPU benchmarks, written against the Xen ABI: vCPU 1 is brought up with VCPUOP_initialise
// and VCPUOP_up (pv-abi.md §3.15) and runs one task per bring-up, then takes itself down.
//   yield_pingpong: both vCPUs on one pCPU call SCHEDOP_yield in turn; one iteration is a round
//                   trip of two vCPU switches.
//   evtchn_rtt:     vCPU 0 sends an event to vCPU 1 on another pCPU, which answers; each side
//                   waits in SCHEDOP_poll with events masked. One iteration is a round trip.
// A hypervisor without vcpu_op (-ENOSYS) or a domain with one vCPU (-ENOENT) gives `skip`.
#include "bench.hpp"
#include "hv/pv/xen_abi.hpp"

extern "C" [[noreturn]] void bench_secondary_main();

namespace guest::bench {
namespace {

using namespace xen;  // VCPUOP numbers and vcpu_guest_context (hv/pv/xen_abi.hpp)

constexpr unsigned kSecondary = 1;
constexpr u64 kWaitRounds = 100'000;  // bound on waiting for the other vCPU (naps of kNapNs)
constexpr u64 kNapNs = 20'000;
constexpr long kTimedOut = -1;           // the "return code" reported when that bound is hit

enum class Task : u32 { YieldUntilStopped, EchoEvents };

alignas(16) u8 secondary_stack[16384];
alignas(16) u8 secondary_trap_stack[8192];
alignas(64) VcpuGuestContext context;
bool initialised;

// Shared between the vCPUs.
volatile Task task;
volatile bool ready, stop, done;
volatile u64 peer_rounds;
u32 port_to_secondary, port_to_primary;

long vcpu_op(unsigned command, unsigned vcpu, void* argument = nullptr) {
    return hypercall(xen::kVcpuOp, command, vcpu, reinterpret_cast<u64>(argument));
}
long yield() { return fast_hypercall<xen::kSchedOp>(xen::kSchedOpYield, 0); }
long evtchn(unsigned command, void* argument) {
    return fast_hypercall<xen::kEventChannelOp>(command, reinterpret_cast<u64>(argument));
}
long send(u32 port) {
    xen::EvtchnPortArg arg{port};
    return evtchn(xen::kEvtchnOpSend, &arg);
}

bool take_pending(u32 port) {
    volatile u64* word = &shared_info()->evtchn_pending[port / 64];
    const u64 bit = u64{1} << (port % 64);
    return (__atomic_fetch_and(word, ~bit, __ATOMIC_SEQ_CST) & bit) != 0;
}

// Blocks in SCHEDOP_poll until `port` is pending, then clears it.
void wait_port(u32 port) {
    const u32 ports[1] = {port};
    const xen::SchedPoll request{reinterpret_cast<u64>(ports), 1, 0, 0};
    while (!take_pending(port))
        fast_hypercall<xen::kSchedOp>(xen::kSchedOpPoll, reinterpret_cast<u64>(&request));
}

// vCPU 0 waits a little for vCPU 1: SCHEDOP_poll on no port with a timeout blocks it, so its
// pCPU halts. Spinning on SCHEDOP_yield would do on real hardware, but under QEMU's round-robin
// TCG with -icount a pCPU that never halts can keep the other pCPU from ever running: Isola's
// pCPU 1 sat on the first instruction of its wake-up IPI's handler for seconds. Xen accepts a
// poll of zero ports with a timeout too (it only sleeps).
void nap() {
    const xen::SchedPoll request{0, 0, 0, system_time(0) + kNapNs};
    fast_hypercall<xen::kSchedOp>(xen::kSchedOpPoll, reinterpret_cast<u64>(&request));
}

// The skip/error verdict for vcpu_op: a missing hypercall or a one-vCPU domain only skips.
Timing report_vcpu_op(const char* name, const char* what, long rc) {
    return rc == -xen::kENOENT ? report_skip(name, what, rc) : report_refused(name, what, rc);
}

// VCPUOP_initialise once per boot: vCPU 1 starts in kernel mode at bench_secondary_main on its
// own stack, with our page tables and events masked (vcpu_info starts masked).
long initialise_secondary() {
    if (initialised) return 0;
    context = {};
    context.flags = kVgcfInKernel;
    context.user_regs.rip = reinterpret_cast<u64>(bench_secondary_main);
    // RSP as right after a call, as the C ABI expects at a function's entry.
    context.user_regs.rsp = reinterpret_cast<u64>(secondary_stack + sizeof secondary_stack) - 8;
    context.user_regs.cs = xen::kFlatKernelCs;
    context.user_regs.ss = xen::kFlatKernelSs;
    context.user_regs.rflags = 0x2;
    context.kernel_ss = xen::kFlatKernelSs;
    context.kernel_sp = reinterpret_cast<u64>(secondary_trap_stack + sizeof secondary_trap_stack);
    context.ctrlreg[3] = pfn_to_mfn(start_info->pt_base >> 12) << 12;
    const long rc = vcpu_op(kVcpuOpInitialise, kSecondary, &context);
    initialised = rc == 0;
    return rc;
}

// Brings vCPU 1 up on `next` and waits until it runs it. Returns VCPUOP_up's result, or
// kTimedOut when vCPU 1 never reported.
long start_secondary(Task next) {
    ready = false;
    stop = false;
    done = false;
    peer_rounds = 0;
    task = next;
    const long rc = vcpu_op(kVcpuOpUp, kSecondary);
    for (u64 i = 0; rc == 0 && !ready; ++i) {
        if (i == kWaitRounds) return kTimedOut;
        nap();
    }
    return rc;
}

// Waits until vCPU 1 finished its task and is down again; false on timeout.
bool wait_secondary_down() {
    for (u64 i = 0; !done || vcpu_op(kVcpuOpIsUp, kSecondary) != 0; ++i) {
        if (i == kWaitRounds) return false;
        nap();
    }
    return true;
}

void yield_until_stopped() {
    ready = true;
    while (!stop) {
        yield();
        peer_rounds = peer_rounds + 1;
    }
}

void echo_events() {
    ready = true;
    for (;;) {
        wait_port(port_to_secondary);
        if (stop) return;
        peer_rounds = peer_rounds + 1;
        send(port_to_primary);
    }
}

long bind_ipi(unsigned vcpu, u32* port) {
    xen::EvtchnBindIpi bind{vcpu, 0};
    const long rc = evtchn(xen::kEvtchnOpBindIpi, &bind);
    *port = bind.port;
    return rc;
}

void close_port(u32 port) {
    xen::EvtchnPortArg arg{port};
    evtchn(xen::kEvtchnOpClose, &arg);
}

}  // namespace

Timing bench_yield_pingpong(u64 iterations) {
    const long rc = initialise_secondary();
    if (rc != 0) return report_vcpu_op("yield_pingpong", "vcpu_op(initialise)", rc);
    const long up = start_secondary(Task::YieldUntilStopped);
    if (up != 0) return report_error("yield_pingpong", "vcpu_op(up)+start", up);
    for (u64 i = 0; i < kWarmup; ++i) yield();
    const u64 rounds_before = peer_rounds;
    const u64 start = read_tsc();
    for (u64 i = 0; i < iterations; ++i) yield();
    const u64 ticks = read_tsc() - start;
    const u64 rounds = peer_rounds - rounds_before;
    stop = true;
    if (!wait_secondary_down()) return report_error("yield_pingpong", "vcpu_op(down)+stop", kTimedOut);
    return {true, ticks, true, rounds};
}

Timing bench_evtchn_rtt(u64 iterations) {
    const long rc = initialise_secondary();
    if (rc != 0) return report_vcpu_op("evtchn_rtt", "vcpu_op(initialise)", rc);
    long bound = bind_ipi(kSecondary, &port_to_secondary);
    if (bound == 0) bound = bind_ipi(0, &port_to_primary);
    if (bound != 0) return report_refused("evtchn_rtt", "event_channel_op(bind_ipi)", bound);
    const long up = start_secondary(Task::EchoEvents);
    if (up != 0) return report_error("evtchn_rtt", "vcpu_op(up)+start", up);
    for (u64 i = 0; i < kWarmup; ++i) {
        send(port_to_secondary);
        wait_port(port_to_primary);
    }
    const u64 rounds_before = peer_rounds;
    const u64 start = read_tsc();
    for (u64 i = 0; i < iterations; ++i) {
        send(port_to_secondary);
        wait_port(port_to_primary);
    }
    const u64 ticks = read_tsc() - start;
    const u64 rounds = peer_rounds - rounds_before;
    stop = true;
    send(port_to_secondary);
    if (!wait_secondary_down()) return report_error("evtchn_rtt", "vcpu_op(down)+stop", kTimedOut);
    close_port(port_to_secondary);
    close_port(port_to_primary);
    return {true, ticks, true, rounds};
}

}  // namespace guest::bench

// vCPU 1: runs the task it was brought up for, then takes itself down; VCPUOP_down returns when
// vCPU 0 brings it up again for the next task.
extern "C" [[noreturn]] void bench_secondary_main() {
    using namespace guest::bench;
    for (;;) {
        if (task == Task::YieldUntilStopped) yield_until_stopped();
        else echo_events();
        done = true;
        vcpu_op(kVcpuOpDown, kSecondary);
    }
}
