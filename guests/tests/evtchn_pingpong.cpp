// SPDX-License-Identifier: MIT
// Two domains bounce events over one interdomain channel (Isola only: Xen runs a single dom0).
// Command line: "peer=<domid> [rounds=<n>]". The domain with the lower id offers an unbound port
// to the peer; the other binds to it (port 1, the first port of a fresh table) and serves first.
// Rounds rotate through three ways to wait: SCHEDOP_poll with events masked, SCHEDOP_block and
// the event upcall, and spinning in guest code with events unmasked, which only ends if the
// sender's wakeup IPI makes the hypervisor deliver the upcall to the running guest.
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "evtchn_pingpong: events between two domains, poll and block";

namespace {

constexpr unsigned kDefaultRounds = 500;
constexpr u64 kBindAttempts = 1'000'000;  // the peer may not have offered its port yet

volatile xen::SharedInfo* shared;
u32 port;                  // our end of the channel
volatile bool got_event;  // set by the upcall when our port was pending

long evtchn(unsigned command, void* argument) {
    return hypercall(xen::kEventChannelOp, command, reinterpret_cast<u64>(argument));
}

bool take_pending(u32 p) {
    const u64 bit = u64{1} << (p % 64);
    return (__atomic_fetch_and(&shared->evtchn_pending[p / 64], ~bit, __ATOMIC_SEQ_CST) & bit) != 0;
}

bool on_event(ExceptionFrame& frame) {
    if (frame.vector != kVecEvent) return false;
    shared->vcpu_info[0].evtchn_upcall_pending = 0;
    __atomic_exchange_n(&shared->vcpu_info[0].evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    if (take_pending(port)) got_event = true;
    return true;
}

enum class Wait { Poll, Block, Spin };

// Waits for the peer's event on our port; events are masked again afterwards. False on a
// hypercall error.
bool wait_event(Wait how) {
    if (how == Wait::Spin) {
        shared->vcpu_info[0].evtchn_upcall_mask = 0;
        // An upcall left pending while masked needs one entry to the hypervisor to be delivered
        // (Linux's force_evtchn_callback); after that only the peer's event can raise one.
        if (shared->vcpu_info[0].evtchn_upcall_pending != 0) hypercall(xen::kXenVersion, xen::kXenVersionVersion, 0);
        while (!got_event) asm volatile("pause" ::: "memory");
        shared->vcpu_info[0].evtchn_upcall_mask = 1;
        got_event = false;
        return true;
    }
    if (how == Wait::Poll) {
        const u32 ports[1] = {port};
        const xen::SchedPoll request{reinterpret_cast<u64>(ports), 1, 0, 0};
        while (!take_pending(port)) {
            const long rc = hypercall(xen::kSchedOp, xen::kSchedOpPoll, reinterpret_cast<u64>(&request));
            if (rc != 0) {
                fail("SCHEDOP_poll: %ld\n", rc);
                return false;
            }
        }
        return true;
    }
    while (!got_event) {
        const long rc = hypercall(xen::kSchedOp, xen::kSchedOpBlock, 0);
        shared->vcpu_info[0].evtchn_upcall_mask = 1;
        if (rc != 0) {
            fail("SCHEDOP_block: %ld\n", rc);
            return false;
        }
    }
    got_event = false;
    return true;
}

}  // namespace

void test_main() {
    const unsigned peer = cmdline_option("peer", 0xffff);
    const unsigned rounds = cmdline_option("rounds", kDefaultRounds);
    if (peer == 0xffff) return error("no peer=<domid> on the command line '%s'\n", start_info->cmd_line);
    if (!setup_traps()) return;
    shared = map_shared_info();
    if (shared == nullptr) return;
    set_exception_hook(on_event);
    xen::EvtchnAllocUnbound probe{xen::kDomidSelf, xen::kDomidSelf, 0};
    if (evtchn(xen::kEvtchnOpAllocUnbound, &probe) != 0) return fail("alloc_unbound failed\n");
    xen::EvtchnStatus self{};
    self.dom = xen::kDomidSelf;
    self.port = probe.port;
    if (evtchn(xen::kEvtchnOpStatus, &self) != 0) return fail("status failed\n");
    const unsigned domid = self.u.unbound.dom;
    // Closed again, so the port offered below is port 1, where the peer looks for it.
    xen::EvtchnPortArg close{probe.port};
    evtchn(xen::kEvtchnOpClose, &close);
    const bool server = domid > peer;  // the binder sends first
    print("domid %u, peer %u, %u rounds, %s\n", domid, peer, rounds, server ? "binds and serves" : "offers a port");
    if (!server) {
        xen::EvtchnAllocUnbound offer{xen::kDomidSelf, static_cast<u16>(peer), 0};
        const long rc = evtchn(xen::kEvtchnOpAllocUnbound, &offer);
        if (rc != 0 || offer.port != 1) return fail("alloc_unbound for the peer: %ld, port %u\n", rc, offer.port);
        port = offer.port;
    } else {
        long rc = -xen::kEINVAL;
        for (u64 attempt = 0; attempt < kBindAttempts && rc == -xen::kEINVAL; ++attempt) {
            xen::EvtchnBindInterdomain bind{static_cast<u16>(peer), 0, 1, 0};
            rc = evtchn(xen::kEvtchnOpBindInterdomain, &bind);
            port = bind.local_port;
            if (rc == -xen::kEINVAL) hypercall(xen::kSchedOp, xen::kSchedOpYield, 0);
        }
        if (rc != 0) return fail("bind_interdomain to the peer's port 1: %ld\n", rc);
        take_pending(port);  // the bind's own notification
    }
    xen::EvtchnPortArg send{port};
    for (unsigned round = 1; round <= rounds; ++round) {
        static constexpr Wait kWays[] = {Wait::Poll, Wait::Block, Wait::Spin};
        const Wait how = kWays[round % 3];
        if (server) {
            if (evtchn(xen::kEvtchnOpSend, &send) != 0) return fail("send in round %u\n", round);
            if (!wait_event(how)) return;
        } else {
            if (!wait_event(how)) return;
            if (evtchn(xen::kEvtchnOpSend, &send) != 0) return fail("send in round %u\n", round);
        }
    }
    print("%u rounds over port %u done\n", rounds, port);
}

}  // namespace guest
