// SPDX-License-Identifier: MIT
// Event channels on one domain (pv-abi §3.2, §3.13, §4.8): the domid probe, a loopback
// interdomain channel, pending/selector/upcall bits, the event upcall, masks, SCHEDOP_block and
// SCHEDOP_poll, closing, VIRQ and IPI ports, and the errors Xen 4.17 gives for bad input.
// Xen's dom0 is domain 0 and Isola's domains start at 1, so the domid comes from the probe.
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "evtchn_basic: event channels, upcalls, block and poll on one domain";

namespace {

constexpr u64 kUnmapped = 0x40000000;  // far above the initial mapping
constexpr u64 kXenArea = 0xffff830000000000;
constexpr u32 kBeyondPorts = 5000;  // past the 2-level ABI's 4096 ports

volatile xen::SharedInfo* shared;

long evtchn(unsigned command, void* argument) {
    return hypercall(xen::kEventChannelOp, command, reinterpret_cast<u64>(argument));
}
long port_op(unsigned command, u32 port) {
    xen::EvtchnPortArg argument{port};
    return evtchn(command, &argument);
}
long status(u32 port, xen::EvtchnStatus& out) {
    out = {};
    out.dom = xen::kDomidSelf;
    out.port = port;
    return evtchn(xen::kEvtchnOpStatus, &out);
}
long poll(const u32* ports, u32 nr_ports, u64 timeout) {
    xen::SchedPoll request{reinterpret_cast<u64>(ports), nr_ports, 0, timeout};
    return hypercall(xen::kSchedOp, xen::kSchedOpPoll, reinterpret_cast<u64>(&request));
}

bool bit(volatile const u64* words, u32 port) { return (words[port / 64] >> (port % 64)) & 1; }
void set_bit(volatile u64* words, u32 port) {
    __atomic_fetch_or(&words[port / 64], u64{1} << (port % 64), __ATOMIC_SEQ_CST);
}
void clear_bit(volatile u64* words, u32 port) {
    __atomic_fetch_and(&words[port / 64], ~(u64{1} << (port % 64)), __ATOMIC_SEQ_CST);
}
volatile xen::VcpuInfo& vcpu0() { return shared->vcpu_info[0]; }

// ---- The event upcall: records what it saw and acknowledges everything, as a guest kernel would.

struct UpcallRecord {
    unsigned count;
    u64 seen[64];          // ports found pending and unmasked
    unsigned saved_mask;   // from the last frame's CS slot
    u64 rflags_if;         // the last frame's RFLAGS.IF
    unsigned handler_mask; // evtchn_upcall_mask inside the handler
};
UpcallRecord upcalls;

bool on_event(ExceptionFrame& frame) {
    if (frame.vector != kVecEvent) return false;
    ++upcalls.count;
    upcalls.saved_mask = frame.saved_upcall_mask();
    upcalls.rflags_if = frame.rflags & 0x200;
    upcalls.handler_mask = vcpu0().evtchn_upcall_mask;
    vcpu0().evtchn_upcall_pending = 0;
    u64 selector = __atomic_exchange_n(&vcpu0().evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    while (selector != 0) {
        const unsigned word = static_cast<unsigned>(__builtin_ctzll(selector));
        selector &= selector - 1;
        const u64 ready = shared->evtchn_pending[word] & ~shared->evtchn_mask[word];
        upcalls.seen[word] |= ready;
        __atomic_fetch_and(&shared->evtchn_pending[word], ~ready, __ATOMIC_SEQ_CST);
    }
    return true;
}
bool seen(u32 port) { return bit(upcalls.seen, port); }
void clear_upcalls() { upcalls = {}; }

// Runs one harmless hypercall with events unmasked: the return to the guest delivers a
// deliverable upcall. Events are masked again afterwards.
void unmask_briefly() {
    vcpu0().evtchn_upcall_mask = 0;
    hypercall(xen::kXenVersion, xen::kXenVersionVersion, 0);
    vcpu0().evtchn_upcall_mask = 1;
}

// ---- The tests ----

// XTF's domid probe: an unbound port offered to DOMID_SELF reports our own id.
u16 probe_domid() {
    xen::EvtchnAllocUnbound request{xen::kDomidSelf, xen::kDomidSelf, 0};
    const long rc = evtchn(xen::kEvtchnOpAllocUnbound, &request);
    if (rc != 0) {
        fail("alloc_unbound(SELF, SELF): %ld\n", rc);
        return 0;
    }
    expect_eq("first port allocated", request.port, 1);
    xen::EvtchnStatus out;
    expect_eq("status of the probe port", status(request.port, out), 0);
    expect_eq("probe port status", out.status, xen::kEvtchnStatUnbound);
    expect_eq("probe port vcpu", out.vcpu, 0);
    expect_eq("close the probe port", port_op(xen::kEvtchnOpClose, request.port), 0);
    print("domid %u (from the status of an unbound port)\n", out.u.unbound.dom);
    return out.u.unbound.dom;
}

struct Loopback {
    u32 a, b;  // a: allocated unbound for ourselves; b: bound to it
};

Loopback loopback(u16 domid) {
    xen::EvtchnAllocUnbound alloc{xen::kDomidSelf, xen::kDomidSelf, 0};
    expect_eq("alloc_unbound", evtchn(xen::kEvtchnOpAllocUnbound, &alloc), 0);
    xen::EvtchnBindInterdomain bind{xen::kDomidSelf, 0, alloc.port, 0};
    expect_eq("bind_interdomain to our own unbound port", evtchn(xen::kEvtchnOpBindInterdomain, &bind), 0);
    const Loopback ports{alloc.port, bind.local_port};
    print("loopback channel: port %u <-> port %u\n", ports.a, ports.b);
    xen::EvtchnStatus out;
    expect_eq("status a", status(ports.a, out), 0);
    expect_eq("a is interdomain", out.status, xen::kEvtchnStatInterdomain);
    expect_eq("a's remote domain", out.u.interdomain.dom, domid);
    expect_eq("a's remote port", out.u.interdomain.port, ports.b);
    expect_eq("status b", status(ports.b, out), 0);
    expect_eq("b is interdomain", out.status, xen::kEvtchnStatInterdomain);
    expect_eq("b's remote port", out.u.interdomain.port, ports.a);
    // Binding marks the new end pending at once (events lost while unbound); masked: no upcall.
    expect_eq("b pending after the bind", bit(shared->evtchn_pending, ports.b), 1);
    expect_eq("selector bit of b's word", (vcpu0().evtchn_pending_sel >> (ports.b / 64)) & 1, 1);
    expect_eq("upcall pending after the bind", vcpu0().evtchn_upcall_pending, 1);
    expect_eq("no upcall while masked", upcalls.count, 0);
    return ports;
}

void send_and_upcall(const Loopback& ports) {
    expect_eq("send on b", port_op(xen::kEvtchnOpSend, ports.b), 0);
    expect_eq("a pending after the send on b", bit(shared->evtchn_pending, ports.a), 1);
    // Unmasked, the next return to the guest runs the event callback.
    unmask_briefly();
    expect_eq("upcalls after unmasking", upcalls.count, 1);
    expect_eq("upcall saw a", seen(ports.a), 1);
    expect_eq("upcall saw b", seen(ports.b), 1);
    expect_eq("frame's saved upcall mask", upcalls.saved_mask, 0);
    expect_eq("frame's RFLAGS.IF", upcalls.rflags_if != 0, 1);
    expect_eq("upcall mask inside the handler", upcalls.handler_mask, 1);
    expect_eq("a acknowledged", bit(shared->evtchn_pending, ports.a), 0);
    clear_upcalls();
    unmask_briefly();
    expect_eq("no second upcall once acknowledged", upcalls.count, 0);
}

// A masked port goes pending silently; EVTCHNOP_unmask raises the upcall it missed.
void masked_port(const Loopback& ports) {
    set_bit(shared->evtchn_mask, ports.a);
    expect_eq("send to masked a", port_op(xen::kEvtchnOpSend, ports.b), 0);
    expect_eq("masked a pending", bit(shared->evtchn_pending, ports.a), 1);
    expect_eq("no upcall pending for a masked port", vcpu0().evtchn_upcall_pending, 0);
    expect_eq("no selector bit for a masked port", vcpu0().evtchn_pending_sel, 0);
    expect_eq("unmask a", port_op(xen::kEvtchnOpUnmask, ports.a), 0);
    expect_eq("mask bit cleared", bit(shared->evtchn_mask, ports.a), 0);
    expect_eq("upcall pending after unmask", vcpu0().evtchn_upcall_pending, 1);
    unmask_briefly();
    expect_eq("upcall for the unmasked port", seen(ports.a), 1);
    clear_upcalls();
}

void poll_tests(const Loopback& ports) {
    const u32 both[2] = {ports.a, ports.b};
    expect_eq("send on b for poll", port_op(xen::kEvtchnOpSend, ports.b), 0);
    expect_eq("poll with a pending port (no timeout)", poll(both, 2, 0), 0);
    clear_bit(shared->evtchn_pending, ports.a);
    expect_eq("poll, nothing pending, timeout 1 (past)", poll(both, 2, 1), 0);
    expect_eq("poll of no ports, timeout 1", poll(both, 0, 1), 0);
    const u32 free_port[1] = {40};  // valid (first bucket) but unbound
    expect_eq("poll of a free port", poll(free_port, 1, 1), -xen::kEINVAL);
    const u32 zero[1] = {0};
    expect_eq("poll of port 0", poll(zero, 1, 1), -xen::kEINVAL);
    const u32 beyond[1] = {kBeyondPorts};
    expect_eq("poll of port 5000", poll(beyond, 1, 1), -xen::kEINVAL);
    expect_eq("poll of 129 ports", poll(both, 129, 1), -xen::kEINVAL);
    expect_eq("poll, port array unmapped", poll(reinterpret_cast<const u32*>(kUnmapped), 2, 1), -xen::kEFAULT);
    expect_eq("poll, port array in Xen's area", poll(reinterpret_cast<const u32*>(kXenArea), 2, 1), -xen::kEFAULT);
    expect_eq("poll, argument unmapped", hypercall(xen::kSchedOp, xen::kSchedOpPoll, kUnmapped), -xen::kEFAULT);
    // Cleanup: the sends above left the upcall pending.
    unmask_briefly();
    clear_upcalls();
}

// SCHEDOP_block with an event pending: unmasks, returns at once, and the upcall runs.
void block_with_pending_event(const Loopback& ports) {
    expect_eq("send on a for block", port_op(xen::kEvtchnOpSend, ports.a), 0);
    expect_eq("SCHEDOP_block", hypercall(xen::kSchedOp, xen::kSchedOpBlock, 0), 0);
    expect_eq("upcalls during block", upcalls.count, 1);
    expect_eq("block's upcall saw b", seen(ports.b), 1);
    expect_eq("block leaves events unmasked", vcpu0().evtchn_upcall_mask, 0);
    vcpu0().evtchn_upcall_mask = 1;
    clear_upcalls();
}

void close_tests(const Loopback& ports, u16 domid) {
    expect_eq("close a", port_op(xen::kEvtchnOpClose, ports.a), 0);
    xen::EvtchnStatus out;
    expect_eq("status a after close", status(ports.a, out), 0);
    expect_eq("a closed", out.status, xen::kEvtchnStatClosed);
    expect_eq("status b after closing a", status(ports.b, out), 0);
    expect_eq("b unbound after closing a", out.status, xen::kEvtchnStatUnbound);
    expect_eq("b offered back to us", out.u.unbound.dom, domid);
    expect_eq("close a twice", port_op(xen::kEvtchnOpClose, ports.a), -xen::kEINVAL);
    expect_eq("send on closed a", port_op(xen::kEvtchnOpSend, ports.a), -xen::kEINVAL);
    expect_eq("send on unbound b (dropped)", port_op(xen::kEvtchnOpSend, ports.b), 0);
    expect_eq("nothing pending from the dropped send", bit(shared->evtchn_pending, ports.a), 0);
    expect_eq("close b", port_op(xen::kEvtchnOpClose, ports.b), 0);
}

void error_tests() {
    expect_eq("close port 0", port_op(xen::kEvtchnOpClose, 0), -xen::kEINVAL);
    expect_eq("send port 0", port_op(xen::kEvtchnOpSend, 0), -xen::kEINVAL);
    expect_eq("unmask port 0 (no-op)", port_op(xen::kEvtchnOpUnmask, 0), 0);
    expect_eq("close a free port", port_op(xen::kEvtchnOpClose, 40), -xen::kEINVAL);
    expect_eq("send a free port", port_op(xen::kEvtchnOpSend, 40), -xen::kEINVAL);
    expect_eq("unmask a free port (no-op)", port_op(xen::kEvtchnOpUnmask, 40), 0);
    static constexpr u32 kHugePorts[] = {kBeyondPorts, 0xffffffff};
    for (u32 port : kHugePorts) {
        expect_eq("close a huge port", port_op(xen::kEvtchnOpClose, port), -xen::kEINVAL);
        expect_eq("send a huge port", port_op(xen::kEvtchnOpSend, port), -xen::kEINVAL);
        expect_eq("unmask a huge port", port_op(xen::kEvtchnOpUnmask, port), -xen::kEINVAL);
        xen::EvtchnStatus out;
        expect_eq("status of a huge port", status(port, out), -xen::kEINVAL);
    }
    xen::EvtchnAllocUnbound alloc{0x7ff5, 0, 0};
    expect_eq("alloc_unbound for a missing domain", evtchn(xen::kEvtchnOpAllocUnbound, &alloc), -xen::kESRCH);
    xen::EvtchnStatus missing{};
    missing.dom = 0x7ff5;
    missing.port = 1;
    expect_eq("status of a missing domain", evtchn(xen::kEvtchnOpStatus, &missing), -xen::kESRCH);
    xen::EvtchnBindInterdomain bind{0x7ff5, 0, 1, 0};
    expect_eq("bind_interdomain to a missing domain", evtchn(xen::kEvtchnOpBindInterdomain, &bind), -xen::kESRCH);
    bind = {xen::kDomidSelf, 0, 40, 0};
    expect_eq("bind_interdomain to a free port", evtchn(xen::kEvtchnOpBindInterdomain, &bind), -xen::kEINVAL);
    bind.remote_port = kBeyondPorts;
    expect_eq("bind_interdomain to a huge port", evtchn(xen::kEvtchnOpBindInterdomain, &bind), -xen::kEINVAL);
    alloc = {xen::kDomidSelf, 0x7ff5, 0};
    expect_eq("alloc_unbound offered to another domain", evtchn(xen::kEvtchnOpAllocUnbound, &alloc), 0);
    bind.remote_port = alloc.port;
    expect_eq("bind_interdomain to a port not offered to us", evtchn(xen::kEvtchnOpBindInterdomain, &bind),
              -xen::kEINVAL);
    expect_eq("close it", port_op(xen::kEvtchnOpClose, alloc.port), 0);
    expect_eq("unknown command 99", evtchn(99, &alloc), -xen::kENOSYS);
    xen::EvtchnReset reset_cont{xen::kDomidSelf};
    expect_eq("reset_cont with no reset in progress", evtchn(xen::kEvtchnOpResetCont, &reset_cont), -xen::kEBUSY);
    xen::EvtchnBindPirq pirq{1, 0, 0};
    expect_eq("bind_pirq without access", evtchn(xen::kEvtchnOpBindPirq, &pirq), -xen::kEPERM);
    static constexpr unsigned kCommands[] = {xen::kEvtchnOpAllocUnbound, xen::kEvtchnOpStatus, xen::kEvtchnOpSend};
    for (unsigned command : kCommands) {
        expect_eq("argument unmapped", hypercall(xen::kEventChannelOp, command, kUnmapped), -xen::kEFAULT);
        expect_eq("argument in Xen's area", hypercall(xen::kEventChannelOp, command, kXenArea), -xen::kEFAULT);
    }
    // No FIFO ABI needed: xsa-188's checks.
    xen::EvtchnInitControl init{~u64{1}, 0, 0, 0, {}};
    expect_eq("init_control with a bad gfn", evtchn(xen::kEvtchnOpInitControl, &init), -xen::kEINVAL);
    xen::EvtchnExpandArray expand{0};
    expect_eq("expand_array without FIFO", evtchn(xen::kEvtchnOpExpandArray, &expand), -xen::kEOPNOTSUPP);
}

void ipi_tests() {
    xen::EvtchnBindIpi ipi{0, 0};
    expect_eq("bind_ipi vcpu 0", evtchn(xen::kEvtchnOpBindIpi, &ipi), 0);
    xen::EvtchnStatus out;
    expect_eq("status ipi", status(ipi.port, out), 0);
    expect_eq("ipi status", out.status, xen::kEvtchnStatIpi);
    expect_eq("send ipi", port_op(xen::kEvtchnOpSend, ipi.port), 0);
    expect_eq("ipi pending on ourselves", bit(shared->evtchn_pending, ipi.port), 1);
    unmask_briefly();
    expect_eq("ipi upcall", seen(ipi.port), 1);
    clear_upcalls();
    xen::EvtchnBindVcpu move{ipi.port, 0};
    expect_eq("bind_vcpu of an ipi port", evtchn(xen::kEvtchnOpBindVcpu, &move), -xen::kEINVAL);
    xen::EvtchnSetPriority priority{ipi.port, 1};
    expect_eq("set_priority (2-level)", evtchn(xen::kEvtchnOpSetPriority, &priority), -xen::kENOSYS);
    xen::EvtchnBindIpi bad{5, 0};
    expect_eq("bind_ipi to a missing vcpu", evtchn(xen::kEvtchnOpBindIpi, &bad), -xen::kENOENT);
    expect_eq("close ipi", port_op(xen::kEvtchnOpClose, ipi.port), 0);
}

// Allocate until the table is full: Xen gives 4095 ports to dom0, Isola 1023 per domain.
void exhaustion() {
    unsigned allocated = 0;
    long rc = 0;
    for (unsigned i = 0; i < 4100; ++i) {
        xen::EvtchnAllocUnbound alloc{xen::kDomidSelf, xen::kDomidSelf, 0};
        rc = evtchn(xen::kEvtchnOpAllocUnbound, &alloc);
        if (rc != 0) break;
        ++allocated;
    }
    print("allocated %u ports, then %ld\n", allocated, rc);
    expect_eq("allocation ends with -ENOSPC", rc, -xen::kENOSPC);
    if (allocated < 1023) fail("only %u ports before -ENOSPC\n", allocated);
    xen::EvtchnReset reset{xen::kDomidSelf};
    expect_eq("reset", evtchn(xen::kEvtchnOpReset, &reset), 0);
    xen::EvtchnStatus out;
    expect_eq("status after reset", status(1, out), 0);
    expect_eq("port 1 closed after reset", out.status, xen::kEvtchnStatClosed);
}

// Last: once VIRQ_TIMER is bound Xen's periodic timer may raise it at any time.
void virq_tests() {
    xen::EvtchnBindVirq timer{xen::kVirqTimer, 0, 0};
    expect_eq("bind_virq TIMER", evtchn(xen::kEvtchnOpBindVirq, &timer), 0);
    xen::EvtchnStatus out;
    expect_eq("status virq", status(timer.port, out), 0);
    expect_eq("virq status", out.status, xen::kEvtchnStatVirq);
    expect_eq("virq number", out.u.virq, xen::kVirqTimer);
    expect_eq("bind TIMER twice", evtchn(xen::kEvtchnOpBindVirq, &timer), -xen::kEEXIST);
    expect_eq("send on a virq port", port_op(xen::kEvtchnOpSend, timer.port), -xen::kEINVAL);
    xen::EvtchnBindVcpu move{timer.port, 0};
    expect_eq("bind_vcpu of a per-vcpu virq", evtchn(xen::kEvtchnOpBindVcpu, &move), -xen::kEINVAL);
    xen::EvtchnBindVirq other_vcpu{xen::kVirqTimer, 1, 0};
    expect_eq("bind TIMER on a missing vcpu", evtchn(xen::kEvtchnOpBindVirq, &other_vcpu), -xen::kENOENT);
    xen::EvtchnBindVirq global{xen::kVirqConsole, 1, 0};
    expect_eq("bind a global virq on vcpu 1", evtchn(xen::kEvtchnOpBindVirq, &global), -xen::kEINVAL);
    xen::EvtchnBindVirq bad{xen::kNrVirqs, 0, 0};
    expect_eq("bind virq 24", evtchn(xen::kEvtchnOpBindVirq, &bad), -xen::kEINVAL);
    expect_eq("close virq", port_op(xen::kEvtchnOpClose, timer.port), 0);
}

}  // namespace

void test_main() {
    if (!setup_traps()) return;
    shared = map_shared_info();
    if (shared == nullptr) return;
    set_exception_hook(on_event);
    const u16 domid = probe_domid();
    const Loopback ports = loopback(domid);
    send_and_upcall(ports);
    masked_port(ports);
    poll_tests(ports);
    block_with_pending_event(ports);
    close_tests(ports, domid);
    error_tests();
    ipi_tests();
    exhaustion();
    virq_tests();
}

}  // namespace guest
