// SPDX-License-Identifier: MIT
// Tests of event channels (2-level ABI): port tables, interdomain channels, pending and mask bits,
// upcall delivery and SCHEDOP_block/poll, against fake shared_info pages and guest memory.
#include "hv/pv/event_channel.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "hv/pv/domain.hpp"
#include "hv/pv/hypercall.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_domain_mm.hpp"
#include "support/fake_domain_private.hpp"
#include "support/fake_event_channel.hpp"
#include "support/fake_guest_memory.hpp"
#include "support/guest_values.hpp"
#include "support/fake_guest_mode.hpp"
#include "support/fake_pv_frames.hpp"
#include "support/fake_pv_vcpu.hpp"
#include "support/host_console.hpp"

namespace hv::pv {
namespace {

constexpr u64 kStackTop = 0x200000;  // 16 KiB of fake kernel stack below this
constexpr u64 kCallback = 0xcb0000;
constexpr u64 kArgs = 0x400000;      // fake guest page for hypercall arguments
constexpr u64 kReadOnly = 0x500000;  // a read-only guest page
constexpr u64 kXenArea = 0xffff830000000000;
constexpr u64 kUnmapped = 0x40000000;

struct EventChannelTest : ::testing::Test, test::GuestValues {
    // Heap-allocated: a Domain holds its whole port table.
    std::unique_ptr<Domain> d1 = std::make_unique<Domain>();
    std::unique_ptr<Domain> d2 = std::make_unique<Domain>();
    Vcpu& v1 = d1->vcpus[0];
    Vcpu& v2 = d2->vcpus[0];

    void SetUp() override {
        init(*d1, 1);
        init(*d2, 2);
        test::fake_event_platform() = {};
        test::reset_fake_domain_private();
        test::fake_event_platform().domains = {d1.get(), d2.get()};
        test::fake_vcpu_platform() = {};
        test::fake_guest_memory().map(kStackTop - 0x4000, std::vector<u8>(0x4000));
        test::fake_guest_memory().map(kArgs, std::vector<u8>(0x1000));
        test::fake_guest_memory().map(kReadOnly, std::vector<u8>(0x1000), /*read_only=*/true);
        test::take_console_output();
    }
    static void init(Domain& domain, u16 id) {
        test::init_running_domain(domain, id);
    }

    static xen::SharedInfo& shared(const Domain& domain) { return test::fake_shared_info(domain); }
    static bool pending(const Domain& domain, u32 port) {
        return (shared(domain).evtchn_pending[port / 64] >> (port % 64)) & 1;
    }
    static void set_mask(const Domain& domain, u32 port) {
        shared(domain).evtchn_mask[port / 64] |= u64{1} << (port % 64);
    }
    static bool masked(const Domain& domain, u32 port) {
        return (shared(domain).evtchn_mask[port / 64] >> (port % 64)) & 1;
    }
    static u8 upcall_pending(const Domain& domain) { return shared(domain).vcpu_info[0].evtchn_upcall_pending; }
    static u64 selector(const Domain& domain) { return shared(domain).vcpu_info[0].evtchn_pending_sel; }
    // Forgets every pending bit, selector and upcall of `domain`, as a guest handler would.
    static void acknowledge(const Domain& domain) {
        xen::SharedInfo& s = shared(domain);
        std::memset(s.evtchn_pending, 0, sizeof s.evtchn_pending);
        s.vcpu_info[0].evtchn_pending_sel = 0;
        s.vcpu_info[0].evtchn_upcall_pending = 0;
    }

    static long alloc_unbound(Vcpu& vcpu, u16 remote, u16 dom = xen::kDomidSelf) {
        xen::EvtchnAllocUnbound request{dom, remote, 0xdead};
        const long result = evtchn_alloc_unbound(vcpu, request);
        return result == 0 ? static_cast<long>(request.port) : result;
    }
    static long bind(Vcpu& vcpu, u16 remote_dom, u32 remote_port) {
        xen::EvtchnBindInterdomain request{remote_dom, 0, remote_port, 0xdead};
        const long result = evtchn_bind_interdomain(vcpu, request);
        return result == 0 ? static_cast<long>(request.local_port) : result;
    }
    static long bind_virq(Vcpu& vcpu, u32 virq, u32 target = 0) {
        xen::EvtchnBindVirq request{virq, target, 0};
        const long result = evtchn_bind_virq(vcpu, request);
        return result == 0 ? static_cast<long>(request.port) : result;
    }
    static long bind_ipi(Vcpu& vcpu, u32 target = 0) {
        xen::EvtchnBindIpi request{target, 0};
        const long result = evtchn_bind_ipi(vcpu, request);
        return result == 0 ? static_cast<long>(request.port) : result;
    }
    static long status(Vcpu& vcpu, u32 port, xen::EvtchnStatus& out, u16 dom = xen::kDomidSelf) {
        out = {};
        out.dom = dom;
        out.port = port;
        return evtchn_status(vcpu, out);
    }
    static u32 status_of(Vcpu& vcpu, u32 port) {
        xen::EvtchnStatus out{};
        EXPECT_EQ(status(vcpu, port, out), 0) << "port " << port;
        return out.status;
    }
    // An interdomain channel d1:local <-> d2:remote, with the bind-time pending bit acknowledged.
    std::pair<u32, u32> connect() {
        const long remote = alloc_unbound(v2, d1->id);
        EXPECT_GT(remote, 0);
        const long local = bind(v1, d2->id, static_cast<u32>(remote));
        EXPECT_GT(local, 0);
        acknowledge(*d1);
        acknowledge(*d2);
        test::fake_event_platform().kicks.clear();
        return {static_cast<u32>(local), static_cast<u32>(remote)};
    }

    long hypercall(Vcpu& vcpu, u64 number, u64 a1 = 0, u64 a2 = 0) {
        return do_hypercall(vcpu, number, HypercallArgs{{a1, a2, 0, 0, 0}});
    }
};

// ---- alloc_unbound and the port table ----

// Ports are handed out lowest first from 1 (0 is reserved); DOMID_SELF as remote means the caller.
TEST_F(EventChannelTest, AllocUnboundGivesLowestFreePortFromOne) {
    EXPECT_EQ(alloc_unbound(v1, xen::kDomidSelf), 1);
    EXPECT_EQ(alloc_unbound(v1, 7), 2);
    xen::EvtchnStatus out{};
    ASSERT_EQ(status(v1, 1, out), 0);
    EXPECT_EQ(out.status, xen::kEvtchnStatUnbound);
    EXPECT_EQ(out.u.unbound.dom, 1u) << "DOMID_SELF is stored as the caller's id";
    EXPECT_EQ(out.vcpu, 0u);
    ASSERT_EQ(status(v1, 2, out), 0);
    EXPECT_EQ(out.u.unbound.dom, 7u) << "any remote id is accepted, existing or not";
    ASSERT_EQ(evtchn_close(v1, 1), 0);
    EXPECT_EQ(alloc_unbound(v1, 0), 1) << "a closed port is reused first";
}

// Our own id works like DOMID_SELF; another domain is refused (-EPERM), a missing one -ESRCH.
TEST_F(EventChannelTest, AllocUnboundForOtherDomains) {
    EXPECT_EQ(alloc_unbound(v1, 0, /*dom=*/1), 1);
    EXPECT_EQ(alloc_unbound(v1, 0, /*dom=*/2), -xen::kEPERM);
    EXPECT_EQ(alloc_unbound(v1, 0, /*dom=*/9), -xen::kESRCH);
    EXPECT_EQ(alloc_unbound(v1, 0, /*dom=*/0x7ff5), -xen::kESRCH);
    EXPECT_EQ(status_of(v2, 1), xen::kEvtchnStatClosed) << "nothing was allocated in d2";
}

// The table holds kEvtchnPorts ports: 1..1023 allocate, then -ENOSPC; a freed port is found again.
TEST_F(EventChannelTest, PortExhaustion) {
    for (u32 port = 1; port < kEvtchnPorts; ++port) ASSERT_EQ(alloc_unbound(v1, 0), static_cast<long>(port));
    EXPECT_EQ(alloc_unbound(v1, 0), -xen::kENOSPC);
    EXPECT_EQ(bind_ipi(v1), -xen::kENOSPC);
    EXPECT_EQ(bind_virq(v1, xen::kVirqTimer), -xen::kENOSPC);
    const long remote = alloc_unbound(v2, 1);
    EXPECT_EQ(bind(v1, 2, static_cast<u32>(remote)), -xen::kENOSPC);
    EXPECT_EQ(status_of(v2, static_cast<u32>(remote)), xen::kEvtchnStatUnbound) << "the remote end is untouched";
    EXPECT_EQ(status_of(v1, kEvtchnPorts - 1), xen::kEvtchnStatUnbound);
    xen::EvtchnStatus out{};
    EXPECT_EQ(status(v1, kEvtchnPorts, out), -xen::kEINVAL);
    EXPECT_EQ(status(v1, 4095, out), -xen::kEINVAL);
    ASSERT_EQ(evtchn_close(v1, 500), 0);
    EXPECT_EQ(alloc_unbound(v1, 0), 500);
    EXPECT_EQ(alloc_unbound(v1, 0), -xen::kENOSPC);
}

// Ports are valid a bucket (64) at a time, as allocation reaches them, like Xen's valid_evtchns.
TEST_F(EventChannelTest, PortsBecomeValidByBucket) {
    xen::EvtchnStatus out{};
    EXPECT_EQ(status(v1, 0, out), 0);
    EXPECT_EQ(out.status, xen::kEvtchnStatClosed) << "port 0 reads as closed";
    EXPECT_EQ(status(v1, 63, out), 0);
    EXPECT_EQ(out.status, xen::kEvtchnStatClosed);
    EXPECT_EQ(status(v1, 64, out), -xen::kEINVAL);
    for (int i = 0; i < 64; ++i) ASSERT_GT(alloc_unbound(v1, 0), 0);  // ports 1..64
    EXPECT_EQ(status(v1, 127, out), 0);
    EXPECT_EQ(status(v1, 128, out), -xen::kEINVAL);
    // Valid ports stay valid after a reset.
    ASSERT_EQ(evtchn_reset(v1, xen::kDomidSelf), 0);
    EXPECT_EQ(status(v1, 127, out), 0);
    EXPECT_EQ(out.status, xen::kEvtchnStatClosed);
}

// ---- bind_interdomain ----

// Binding to our own unbound port (loopback): both ends point at each other, and the new end is
// made pending at once (Xen's conservative notification for events lost while unbound).
TEST_F(EventChannelTest, LoopbackBind) {
    const long a = alloc_unbound(v1, xen::kDomidSelf);
    const long b = bind(v1, xen::kDomidSelf, static_cast<u32>(a));
    ASSERT_EQ(b, 2);
    xen::EvtchnStatus out{};
    ASSERT_EQ(status(v1, 1, out), 0);
    EXPECT_EQ(out.status, xen::kEvtchnStatInterdomain);
    EXPECT_EQ(out.u.interdomain.dom, 1u);
    EXPECT_EQ(out.u.interdomain.port, 2u);
    ASSERT_EQ(status(v1, 2, out), 0);
    EXPECT_EQ(out.u.interdomain.port, 1u);
    EXPECT_TRUE(pending(*d1, 2));
    EXPECT_FALSE(pending(*d1, 1));
    EXPECT_EQ(selector(*d1), 1u);
    EXPECT_EQ(upcall_pending(*d1), 1);
    // Send on either end marks the other.
    acknowledge(*d1);
    ASSERT_EQ(evtchn_send(v1, 2), 0);
    EXPECT_TRUE(pending(*d1, 1));
    EXPECT_FALSE(pending(*d1, 2));
    ASSERT_EQ(evtchn_send(v1, 1), 0);
    EXPECT_TRUE(pending(*d1, 2));
}

// Two domains: a send on one end marks the other domain's port and kicks its vCPU.
TEST_F(EventChannelTest, InterdomainSendReachesThePeer) {
    const auto [local, remote] = connect();
    ASSERT_EQ(evtchn_send(v1, local), 0);
    EXPECT_TRUE(pending(*d2, remote));
    EXPECT_FALSE(pending(*d1, local));
    EXPECT_EQ(upcall_pending(*d2), 1);
    EXPECT_EQ(selector(*d2), u64{1} << (remote / 64));
    ASSERT_EQ(test::fake_event_platform().kicks.size(), 1u);
    EXPECT_EQ(test::fake_event_platform().kicks[0], &v2);
    EXPECT_TRUE(v2.wake);
    ASSERT_EQ(evtchn_send(v2, remote), 0);
    EXPECT_TRUE(pending(*d1, local));
    xen::EvtchnStatus out{};
    ASSERT_EQ(status(v2, remote, out), 0);
    EXPECT_EQ(out.status, xen::kEvtchnStatInterdomain);
    EXPECT_EQ(out.u.interdomain.dom, 1u);
    EXPECT_EQ(out.u.interdomain.port, local);
}

// The remote port must exist, be unbound and be offered to us; failures allocate nothing.
TEST_F(EventChannelTest, BindInterdomainChecksTheRemotePort) {
    const long for_other = alloc_unbound(v2, 3);
    EXPECT_EQ(bind(v1, 2, static_cast<u32>(for_other)), -xen::kEINVAL) << "offered to d3, not us";
    EXPECT_EQ(bind(v1, 2, 0), -xen::kEINVAL) << "port 0";
    EXPECT_EQ(bind(v1, 2, 40), -xen::kEINVAL) << "free port";
    EXPECT_EQ(bind(v1, 2, 5000), -xen::kEINVAL) << "beyond the table";
    EXPECT_EQ(bind(v1, 2, 0xffffffff), -xen::kEINVAL);
    EXPECT_EQ(bind(v1, 9, 1), -xen::kESRCH) << "no domain 9";
    EXPECT_EQ(bind(v1, 0x7ff5, 1), -xen::kESRCH);
    const long ipi = bind_ipi(v2);
    EXPECT_EQ(bind(v1, 2, static_cast<u32>(ipi)), -xen::kEINVAL) << "an IPI port";
    const long offered = alloc_unbound(v2, 1);
    ASSERT_EQ(bind(v1, 2, static_cast<u32>(offered)), 1) << "the failures above took no port";
    EXPECT_EQ(bind(v1, 2, static_cast<u32>(offered)), -xen::kEINVAL) << "already bound";
    EXPECT_EQ(status_of(v1, 2), xen::kEvtchnStatClosed);
}

// ---- close ----

// Closing one end leaves the other unbound (offered back to us); sends on it are then dropped.
TEST_F(EventChannelTest, ClosingAnInterdomainEndUnbindsThePeer) {
    const auto [local, remote] = connect();
    ASSERT_EQ(evtchn_close(v1, local), 0);
    EXPECT_EQ(status_of(v1, local), xen::kEvtchnStatClosed);
    xen::EvtchnStatus out{};
    ASSERT_EQ(status(v2, remote, out), 0);
    EXPECT_EQ(out.status, xen::kEvtchnStatUnbound);
    EXPECT_EQ(out.u.unbound.dom, 1u);
    EXPECT_EQ(evtchn_send(v2, remote), 0) << "a send on an unbound port is dropped silently";
    EXPECT_EQ(shared(*d1).evtchn_pending[0], 0u);
    EXPECT_EQ(evtchn_send(v1, local), -xen::kEINVAL) << "a closed port";
    EXPECT_EQ(bind(v1, 2, remote), static_cast<long>(local)) << "the peer can be bound again";
}

// Closing a loopback end leaves the other end unbound and offered to ourselves.
TEST_F(EventChannelTest, ClosingALoopbackEnd) {
    const long a = alloc_unbound(v1, xen::kDomidSelf);
    const long b = bind(v1, xen::kDomidSelf, static_cast<u32>(a));
    ASSERT_EQ(evtchn_close(v1, static_cast<u32>(a)), 0);
    xen::EvtchnStatus out{};
    ASSERT_EQ(status(v1, static_cast<u32>(b), out), 0);
    EXPECT_EQ(out.status, xen::kEvtchnStatUnbound);
    EXPECT_EQ(out.u.unbound.dom, 1u);
    EXPECT_EQ(evtchn_close(v1, static_cast<u32>(b)), 0);
}

TEST_F(EventChannelTest, CloseRejectsBadPorts) {
    EXPECT_EQ(evtchn_close(v1, 0), -xen::kEINVAL) << "reserved";
    EXPECT_EQ(evtchn_close(v1, 5), -xen::kEINVAL) << "free";
    EXPECT_EQ(evtchn_close(v1, 64), -xen::kEINVAL) << "not yet valid";
    EXPECT_EQ(evtchn_close(v1, 5000), -xen::kEINVAL);
    EXPECT_EQ(evtchn_close(v1, 0xffffffff), -xen::kEINVAL);
    const long port = alloc_unbound(v1, 0);
    EXPECT_EQ(evtchn_close(v1, static_cast<u32>(port)), 0);
    EXPECT_EQ(evtchn_close(v1, static_cast<u32>(port)), -xen::kEINVAL) << "twice";
}

// Closing clears the port's pending bit (a rebinding must not fire) but keeps its mask bit.
TEST_F(EventChannelTest, CloseClearsPendingKeepsMask) {
    const long ipi = bind_ipi(v1);
    set_mask(*d1, static_cast<u32>(ipi));
    ASSERT_EQ(evtchn_send(v1, static_cast<u32>(ipi)), 0);
    ASSERT_TRUE(pending(*d1, static_cast<u32>(ipi)));
    ASSERT_EQ(evtchn_close(v1, static_cast<u32>(ipi)), 0);
    EXPECT_FALSE(pending(*d1, static_cast<u32>(ipi)));
    EXPECT_TRUE(masked(*d1, static_cast<u32>(ipi)));
}

// ---- send, mask and unmask ----

TEST_F(EventChannelTest, SendRejectsPortsThatCannotSend) {
    EXPECT_EQ(evtchn_send(v1, 0), -xen::kEINVAL);
    EXPECT_EQ(evtchn_send(v1, 3), -xen::kEINVAL) << "free";
    EXPECT_EQ(evtchn_send(v1, 4096), -xen::kEINVAL);
    EXPECT_EQ(evtchn_send(v1, 0x80000000), -xen::kEINVAL);
    const long virq = bind_virq(v1, xen::kVirqTimer);
    EXPECT_EQ(evtchn_send(v1, static_cast<u32>(virq)), -xen::kEINVAL) << "VIRQ ports only receive";
    const long unbound = alloc_unbound(v1, 2);
    EXPECT_EQ(evtchn_send(v1, static_cast<u32>(unbound)), 0);
    EXPECT_FALSE(pending(*d1, static_cast<u32>(unbound)));
    EXPECT_EQ(shared(*d2).evtchn_pending[0], 0u);
}

// An IPI port notifies its own domain.
TEST_F(EventChannelTest, IpiSendMarksOwnPort) {
    const long ipi = bind_ipi(v1);
    ASSERT_EQ(ipi, 1);
    EXPECT_EQ(status_of(v1, 1), xen::kEvtchnStatIpi);
    ASSERT_EQ(evtchn_send(v1, 1), 0);
    EXPECT_TRUE(pending(*d1, 1));
    EXPECT_EQ(upcall_pending(*d1), 1);
}

// A masked port becomes pending without an upcall; unmasking raises the upcall it missed.
TEST_F(EventChannelTest, MaskedPortRaisesUpcallOnUnmask) {
    const auto [local, remote] = connect();
    set_mask(*d2, remote);
    ASSERT_EQ(evtchn_send(v1, local), 0);
    EXPECT_TRUE(pending(*d2, remote));
    EXPECT_EQ(selector(*d2), 0u);
    EXPECT_EQ(upcall_pending(*d2), 0);
    EXPECT_TRUE(test::fake_event_platform().kicks.empty());
    ASSERT_EQ(evtchn_unmask(v2, remote), 0);
    EXPECT_FALSE(masked(*d2, remote));
    EXPECT_EQ(selector(*d2), u64{1} << (remote / 64));
    EXPECT_EQ(upcall_pending(*d2), 1);
    EXPECT_EQ(test::fake_event_platform().kicks.size(), 1u);
    // Unmasking an unmasked port changes nothing.
    acknowledge(*d2);
    ASSERT_EQ(evtchn_unmask(v2, remote), 0);
    EXPECT_EQ(upcall_pending(*d2), 0);
}

// Unmask: -EINVAL beyond the valid ports, a no-op on free ones (the mask bit stays).
TEST_F(EventChannelTest, UnmaskOfFreeAndInvalidPorts) {
    set_mask(*d1, 5);
    EXPECT_EQ(evtchn_unmask(v1, 5), 0);
    EXPECT_TRUE(masked(*d1, 5));
    EXPECT_EQ(evtchn_unmask(v1, 0), 0);
    EXPECT_EQ(evtchn_unmask(v1, 64), -xen::kEINVAL);
    EXPECT_EQ(evtchn_unmask(v1, 0xffffffff), -xen::kEINVAL);
}

// A port already pending is not raised again; with the upcall already pending nobody is kicked.
TEST_F(EventChannelTest, RepeatedSendsRaiseOneUpcall) {
    const auto [local, remote] = connect();
    ASSERT_EQ(evtchn_send(v1, local), 0);
    ASSERT_EQ(evtchn_send(v1, local), 0);
    EXPECT_EQ(test::fake_event_platform().kicks.size(), 1u);
    const long second = alloc_unbound(v2, 1);
    const long second_local = bind(v1, 2, static_cast<u32>(second));
    ASSERT_GT(second_local, 0);
    test::fake_event_platform().kicks.clear();
    ASSERT_EQ(evtchn_send(v1, static_cast<u32>(second_local)), 0);
    EXPECT_TRUE(pending(*d2, static_cast<u32>(second)));
    EXPECT_TRUE(test::fake_event_platform().kicks.empty()) << "the upcall was already pending";
}

// A port in the second 64-port word sets selector bit 1.
TEST_F(EventChannelTest, SelectorBitFollowsThePortWord) {
    for (int i = 0; i < 70; ++i) ASSERT_GT(alloc_unbound(v1, 0), 0);
    const long ipi = bind_ipi(v1);
    ASSERT_EQ(ipi, 71);
    ASSERT_EQ(evtchn_send(v1, 71), 0);
    EXPECT_EQ(selector(*d1), 2u);
    EXPECT_EQ(shared(*d1).evtchn_pending[1], u64{1} << 7);
}

// ---- VIRQs, IPIs, bind_vcpu, status, reset ----

TEST_F(EventChannelTest, BindVirq) {
    const long timer = bind_virq(v1, xen::kVirqTimer);
    ASSERT_EQ(timer, 1);
    xen::EvtchnStatus out{};
    ASSERT_EQ(status(v1, 1, out), 0);
    EXPECT_EQ(out.status, xen::kEvtchnStatVirq);
    EXPECT_EQ(out.u.virq, xen::kVirqTimer);
    EXPECT_EQ(bind_virq(v1, xen::kVirqTimer), -xen::kEEXIST);
    EXPECT_EQ(bind_virq(v1, xen::kVirqTimer, 1), -xen::kENOENT) << "no vCPU 1";
    EXPECT_EQ(bind_virq(v1, xen::kVirqConsole, 1), -xen::kEINVAL) << "global VIRQs only on vCPU 0";
    EXPECT_EQ(bind_virq(v1, xen::kNrVirqs), -xen::kEINVAL);
    EXPECT_EQ(bind_virq(v1, 0xffffffff), -xen::kEINVAL);
    EXPECT_EQ(bind_virq(v1, xen::kVirqConsole), 2);
    ASSERT_EQ(evtchn_close(v1, 1), 0);
    EXPECT_EQ(bind_virq(v1, xen::kVirqTimer), 1) << "closing frees the VIRQ for a new binding";
}

TEST_F(EventChannelTest, BindIpiNeedsAnExistingVcpu) {
    EXPECT_EQ(bind_ipi(v1, 1), -xen::kENOENT);
    EXPECT_EQ(bind_ipi(v1, 0xffffffff), -xen::kENOENT);
    EXPECT_EQ(bind_ipi(v1, 0), 1);
}

// bind_vcpu: only vCPU 0 exists; per-vCPU VIRQs, IPIs and free ports cannot move.
TEST_F(EventChannelTest, BindVcpu) {
    const long unbound = alloc_unbound(v1, 0);
    const long timer = bind_virq(v1, xen::kVirqTimer);
    const long console = bind_virq(v1, xen::kVirqConsole);
    const long ipi = bind_ipi(v1);
    EXPECT_EQ(evtchn_bind_vcpu(v1, static_cast<u32>(unbound), 0), 0);
    EXPECT_EQ(evtchn_bind_vcpu(v1, static_cast<u32>(console), 0), 0);
    EXPECT_EQ(evtchn_bind_vcpu(v1, static_cast<u32>(timer), 0), -xen::kEINVAL);
    EXPECT_EQ(evtchn_bind_vcpu(v1, static_cast<u32>(ipi), 0), -xen::kEINVAL);
    EXPECT_EQ(evtchn_bind_vcpu(v1, 40, 0), -xen::kEINVAL);
    EXPECT_EQ(evtchn_bind_vcpu(v1, 0, 0), -xen::kEINVAL);
    EXPECT_EQ(evtchn_bind_vcpu(v1, 5000, 0), -xen::kEINVAL);
    EXPECT_EQ(evtchn_bind_vcpu(v1, static_cast<u32>(unbound), 1), -xen::kENOENT);
    const auto [local, remote] = connect();
    EXPECT_EQ(evtchn_bind_vcpu(v1, local, 0), 0);
}

// status: another domain -EPERM, a missing one -ESRCH; a closed port leaves the union as passed.
TEST_F(EventChannelTest, StatusOfOtherDomainsAndClosedPorts) {
    xen::EvtchnStatus out{};
    EXPECT_EQ(status(v1, 1, out, /*dom=*/2), -xen::kEPERM);
    EXPECT_EQ(status(v1, 1, out, /*dom=*/9), -xen::kESRCH);
    EXPECT_EQ(status(v1, 1, out, /*dom=*/1), 0);
    out = {};
    out.dom = xen::kDomidSelf;
    out.port = 3;
    out.u.interdomain.port = 0x1234;
    ASSERT_EQ(evtchn_status(v1, out), 0);
    EXPECT_EQ(out.status, xen::kEvtchnStatClosed);
    EXPECT_EQ(out.u.interdomain.port, 0x1234u);
}

// reset closes every port (interdomain peers become unbound); other domains are refused.
TEST_F(EventChannelTest, ResetClosesEverything) {
    const auto [local, remote] = connect();
    const long ipi = bind_ipi(v1);
    const long virq = bind_virq(v1, xen::kVirqDebug);
    ASSERT_EQ(evtchn_send(v1, static_cast<u32>(ipi)), 0);
    ASSERT_EQ(evtchn_reset(v1, xen::kDomidSelf), 0);
    for (u32 port : {local, static_cast<u32>(ipi), static_cast<u32>(virq)})
        EXPECT_EQ(status_of(v1, port), xen::kEvtchnStatClosed) << port;
    EXPECT_FALSE(pending(*d1, static_cast<u32>(ipi)));
    EXPECT_EQ(status_of(v2, remote), xen::kEvtchnStatUnbound);
    EXPECT_EQ(bind_virq(v1, xen::kVirqDebug), 1) << "the VIRQ binding went too";
    EXPECT_EQ(evtchn_reset(v1, 2), -xen::kEPERM);
    EXPECT_EQ(evtchn_reset(v1, 9), -xen::kESRCH);
    EXPECT_EQ(evtchn_reset_cont(v1, xen::kDomidSelf), -xen::kEBUSY);
    EXPECT_EQ(evtchn_reset_cont(v1, 9), -xen::kESRCH);
}

// ---- upcall delivery ----

struct UpcallTest : EventChannelTest {
    arch::TrapFrame regs{};
    void SetUp() override {
        EventChannelTest::SetUp();
        v1.callbacks[static_cast<unsigned>(CallbackType::Event)] = Callback{kCallback, true};
        regs.rip = 0x100010;
        regs.cs = xen::kFlatKernelCs;
        regs.ss = xen::kFlatKernelSs;
        regs.rsp = kStackTop - 0x100;
        regs.rflags = 0x246;
    }
    void raise() {
        const long ipi = bind_ipi(v1);
        ASSERT_EQ(evtchn_send(v1, static_cast<u32>(ipi)), 0);
        ASSERT_EQ(upcall_pending(*d1), 1);
    }
};

// Pending and unmasked: bounce to the event callback with no error code, events masked after.
TEST_F(UpcallTest, DeliversWhenPendingAndUnmasked) {
    raise();
    test::fake_vcpu_platform().upcall_mask = 0;
    ASSERT_TRUE(upcall_deliverable(v1));
    deliver_pending_upcall(v1, regs);
    EXPECT_EQ(regs.rip, kCallback);
    EXPECT_EQ(regs.rsp, (kStackTop - 0x100) - 7 * 8) << "7 words: no error code";
    EXPECT_EQ(get<u64>(regs.rsp + 0x10), 0x100010u) << "interrupted RIP";
    EXPECT_EQ(get<u64>(regs.rsp + 0x18), u64{xen::kFlatKernelCs} & ~u64{3}) << "kernel CS, saved mask 0";
    EXPECT_NE(get<u64>(regs.rsp + 0x20) & 0x200, 0u) << "IF shows events were enabled";
    EXPECT_EQ(test::fake_vcpu_platform().upcall_mask, 1);
    EXPECT_EQ(d1->state, DomainState::Running);
    // Masked now: a second return to the guest delivers nothing.
    const u64 rsp = regs.rsp;
    deliver_pending_upcall(v1, regs);
    EXPECT_EQ(regs.rsp, rsp);
}

TEST_F(UpcallTest, NothingWhenMaskedOrNotPendingOrNoCallback) {
    const arch::TrapFrame before = regs;
    deliver_pending_upcall(v1, regs);  // not pending
    EXPECT_EQ(regs.rip, before.rip);
    raise();
    test::fake_vcpu_platform().upcall_mask = 1;
    deliver_pending_upcall(v1, regs);  // masked
    EXPECT_EQ(regs.rip, before.rip);
    test::fake_vcpu_platform().upcall_mask = 0;
    v1.callbacks[static_cast<unsigned>(CallbackType::Event)] = Callback{};
    deliver_pending_upcall(v1, regs);  // no callback
    EXPECT_EQ(regs.rip, before.rip);
    EXPECT_EQ(test::fake_vcpu_platform().upcall_mask, 0);
}

// The guest may set the bytes itself (xsa-296): any non-zero pending byte counts.
TEST_F(UpcallTest, GuestWrittenPendingByteIsHonoured) {
    shared(*d1).vcpu_info[0].evtchn_upcall_pending = 0x80;
    test::fake_vcpu_platform().upcall_mask = 0;
    deliver_pending_upcall(v1, regs);
    EXPECT_EQ(regs.rip, kCallback);
}

// A frame that cannot be written crashes the domain instead of resuming it.
TEST_F(UpcallTest, UnwritableStackCrashesTheDomain) {
    raise();
    test::fake_vcpu_platform().upcall_mask = 0;
    regs.rsp = kUnmapped;
    deliver_pending_upcall(v1, regs);
    EXPECT_EQ(d1->state, DomainState::Crashed);
    EXPECT_NE(test::take_console_output().find("crashed"), std::string::npos);
}

// ---- SCHEDOP_block ----

// With an upcall already pending, block clears the mask and returns at once.
TEST_F(UpcallTest, BlockWithPendingEventReturnsAtOnce) {
    raise();
    EXPECT_EQ(hypercall(v1, xen::kSchedOp, xen::kSchedOpBlock), 0);
    EXPECT_EQ(test::fake_vcpu_platform().upcall_mask, 0);
    EXPECT_TRUE(test::fake_event_platform().blocks.empty());
    EXPECT_TRUE(upcall_deliverable(v1));
}

// Without one, block asks the scheduler to block; another domain's send then raises the upcall,
// sets wake and kicks the blocked vCPU (which wakes it).
TEST_F(EventChannelTest, BlockWaitsForAnEvent) {
    const auto [local, remote] = connect();
    acknowledge(*d2);
    v2.wake = true;  // a stale wake from before must not end the block
    EXPECT_EQ(sched_block(v2), 0);
    ASSERT_EQ(test::fake_event_platform().blocks.size(), 1u);
    EXPECT_EQ(test::fake_event_platform().blocks[0], &v2);
    EXPECT_FALSE(v2.wake);
    EXPECT_EQ(test::fake_vcpu_platform().upcall_mask, 0);
    test::fake_event_platform().kicks.clear();
    EXPECT_EQ(evtchn_send(v1, local), 0);
    EXPECT_TRUE(v2.wake);
    ASSERT_EQ(test::fake_event_platform().kicks.size(), 1u);
    EXPECT_EQ(test::fake_event_platform().kicks[0], &v2);
    EXPECT_EQ(upcall_pending(*d2), 1);
    (void)remote;
}

// A masked port raises no upcall, so it neither wakes nor kicks a blocked vCPU.
TEST_F(EventChannelTest, BlockIgnoresMaskedEvents) {
    const auto [local, remote] = connect();
    acknowledge(*d2);
    set_mask(*d2, remote);
    EXPECT_EQ(sched_block(v2), 0);
    test::fake_event_platform().kicks.clear();
    ASSERT_EQ(evtchn_send(v1, local), 0);  // pending but masked: no upcall
    EXPECT_FALSE(v2.wake);
    EXPECT_TRUE(test::fake_event_platform().kicks.empty());
    EXPECT_EQ(evtchn_unmask(v2, remote), 0);  // the upcall it missed
    EXPECT_TRUE(v2.wake);
}

// ---- SCHEDOP_poll ----

struct PollTest : EventChannelTest {
    static constexpr u64 kPorts = kArgs + 0x100;
    long poll(u32 nr_ports, u64 timeout = 0, u64 ports = kPorts) {
        put(kArgs, xen::SchedPoll{ports, nr_ports, 0, timeout});
        return hypercall(v1, xen::kSchedOp, xen::kSchedOpPoll, kArgs);
    }
    void set_ports(std::initializer_list<u32> ports) {
        u32 i = 0;
        for (u32 port : ports) put(kPorts + 4 * i++, port);
    }
};

TEST_F(PollTest, RejectsBadArguments) {
    EXPECT_EQ(poll(129, 1), -xen::kEINVAL) << "more than 128 ports";
    EXPECT_EQ(poll(0xffffffff, 1), -xen::kEINVAL);
    EXPECT_EQ(hypercall(v1, xen::kSchedOp, xen::kSchedOpPoll, kUnmapped), -xen::kEFAULT);
    EXPECT_EQ(hypercall(v1, xen::kSchedOp, xen::kSchedOpPoll, kXenArea), -xen::kEFAULT);
    EXPECT_EQ(poll(4, 1, kXenArea), -xen::kEFAULT) << "array in the hypervisor's area";
    EXPECT_EQ(poll(4, 1, ~u64{0} - 8), -xen::kEFAULT) << "array wrapping 2^64";
    EXPECT_EQ(poll(4, 1, kUnmapped), -xen::kEFAULT) << "array unmapped";
    EXPECT_EQ(v1.poll_port, 0) << "no poll left announced";
}

// Each port in turn: an invalid or unbound one gives -EINVAL at once, a pending one 0.
TEST_F(PollTest, ChecksPortsInOrder) {
    const long ipi = bind_ipi(v1);
    set_mask(*d1, static_cast<u32>(ipi));
    set_ports({0});
    EXPECT_EQ(poll(1, 1), -xen::kEINVAL) << "port 0";
    set_ports({40});
    EXPECT_EQ(poll(1, 1), -xen::kEINVAL) << "free port";
    set_ports({100});
    EXPECT_EQ(poll(1, 1), -xen::kEINVAL) << "beyond the valid ports";
    set_ports({4096});
    EXPECT_EQ(poll(1, 1), -xen::kEINVAL);
    ASSERT_EQ(evtchn_send(v1, static_cast<u32>(ipi)), 0);  // pending (masked)
    set_ports({static_cast<u32>(ipi), 40});
    EXPECT_EQ(poll(2, 0), 0) << "a pending port ends the poll before the bad one";
    set_ports({40, static_cast<u32>(ipi)});
    EXPECT_EQ(poll(2, 0), -xen::kEINVAL) << "the bad port comes first";
    EXPECT_EQ(poll(2, 0, kXenArea), -xen::kEFAULT);
    EXPECT_TRUE(test::fake_event_platform().blocks.empty());
}

// A deliverable upcall ends the poll at once, before the ports are even read.
TEST_F(PollTest, DeliverableUpcallReturnsAtOnce) {
    const long ipi = bind_ipi(v1);
    ASSERT_EQ(evtchn_send(v1, static_cast<u32>(ipi)), 0);
    test::fake_vcpu_platform().upcall_mask = 0;
    set_ports({40});
    EXPECT_EQ(poll(1, 0), 0);
    EXPECT_EQ(poll(1, 0, kUnmapped), 0);
}

// A timeout already passed ends the poll at once; nr_ports 0 polls nothing.
TEST_F(PollTest, PassedTimeoutReturnsAtOnce) {
    const long ipi = bind_ipi(v1);
    set_ports({static_cast<u32>(ipi)});
    test::fake_event_platform().now_ns = 5000;
    EXPECT_EQ(poll(1, 1), 0);
    EXPECT_EQ(poll(0, 1), 0);
    EXPECT_EQ(poll(1, 5000), 0);
    EXPECT_TRUE(test::fake_event_platform().blocks.empty());
    EXPECT_EQ(v1.poll_port, 0);
}

// A future timeout blocks with the deadline recorded for the scheduler's timer.
TEST_F(PollTest, FutureTimeoutBlocksWithDeadline) {
    const long ipi = bind_ipi(v1);
    set_ports({static_cast<u32>(ipi)});
    test::fake_event_platform().now_ns = 5000;
    EXPECT_EQ(poll(1, 9000), 0);
    ASSERT_EQ(test::fake_event_platform().blocks.size(), 1u);
    EXPECT_EQ(v1.poll_deadline, 9000u);
    EXPECT_EQ(v1.poll_port, ipi);
}

// Without a timeout the poll blocks; a send to the one polled port (even masked) wakes it.
TEST_F(PollTest, WaitsForThePolledPort) {
    const long remote = alloc_unbound(v2, 1);
    const long local = bind(v1, 2, static_cast<u32>(remote));
    acknowledge(*d1);
    test::fake_event_platform().kicks.clear();
    set_mask(*d1, static_cast<u32>(local));
    set_ports({static_cast<u32>(local)});
    EXPECT_EQ(poll(1, 0), 0);
    ASSERT_EQ(test::fake_event_platform().blocks.size(), 1u);
    EXPECT_EQ(v1.poll_port, local) << "one port: only it wakes the poller";
    EXPECT_FALSE(v1.wake);
    EXPECT_EQ(evtchn_send(v2, static_cast<u32>(remote)), 0);
    EXPECT_TRUE(v1.wake);
    ASSERT_EQ(test::fake_event_platform().kicks.size(), 1u);
    EXPECT_EQ(test::fake_event_platform().kicks[0], &v1);
}

// Several ports: any event of the domain wakes the poller (Xen's poll_evtchn = -1).
TEST_F(PollTest, SeveralPortsWakeOnAnyEvent) {
    const long a = bind_ipi(v1);
    const long b = bind_ipi(v1);
    const long other = bind_ipi(v1);
    set_mask(*d1, static_cast<u32>(other));
    set_ports({static_cast<u32>(a), static_cast<u32>(b)});
    EXPECT_EQ(poll(2, 0), 0);
    EXPECT_EQ(v1.poll_port, -1);
    EXPECT_EQ(evtchn_send(v1, static_cast<u32>(other)), 0);
    EXPECT_TRUE(v1.wake);
}

// A poller of one port is not woken by a masked event on another port.
TEST_F(EventChannelTest, SendWakesOnlyMatchingPoller) {
    const long a = bind_ipi(v1);
    const long b = bind_ipi(v1);
    set_mask(*d1, static_cast<u32>(b));
    v1.poll_port = static_cast<i32>(a);
    ASSERT_EQ(evtchn_send(v1, static_cast<u32>(b)), 0);
    EXPECT_FALSE(v1.wake);
    EXPECT_TRUE(test::fake_event_platform().kicks.empty());
    ASSERT_EQ(evtchn_send(v1, static_cast<u32>(a)), 0);
    EXPECT_TRUE(v1.wake);
    v1.poll_port = 0;
}

// ---- the event_channel_op hypercall ----

TEST_F(EventChannelTest, HypercallCopiesArgumentsInAndOut) {
    put(kArgs, xen::EvtchnAllocUnbound{xen::kDomidSelf, xen::kDomidSelf, 0});
    ASSERT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpAllocUnbound, kArgs), 0);
    EXPECT_EQ(get<xen::EvtchnAllocUnbound>(kArgs).port, 1u);
    put(kArgs, xen::EvtchnBindInterdomain{xen::kDomidSelf, 0, 1, 0});
    ASSERT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpBindInterdomain, kArgs), 0);
    EXPECT_EQ(get<xen::EvtchnBindInterdomain>(kArgs).local_port, 2u);
    xen::EvtchnStatus request{};
    request.dom = xen::kDomidSelf;
    request.port = 2;
    put(kArgs, request);
    ASSERT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpStatus, kArgs), 0);
    const auto out = get<xen::EvtchnStatus>(kArgs);
    EXPECT_EQ(out.status, xen::kEvtchnStatInterdomain);
    EXPECT_EQ(out.u.interdomain.port, 1u);
    put(kArgs, xen::EvtchnPortArg{2});
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpSend, kArgs), 0);
    EXPECT_TRUE(pending(*d1, 1));
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpUnmask, kArgs), 0);
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpClose, kArgs), 0);
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpClose, kArgs), -xen::kEINVAL);
    put(kArgs, xen::EvtchnBindVirq{xen::kVirqTimer, 0, 0});
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpBindVirq, kArgs), 0);
    EXPECT_EQ(get<xen::EvtchnBindVirq>(kArgs).port, 2u);
    put(kArgs, xen::EvtchnBindIpi{0, 0});
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpBindIpi, kArgs), 0);
    EXPECT_EQ(get<xen::EvtchnBindIpi>(kArgs).port, 3u);
    put(kArgs, xen::EvtchnBindVcpu{1, 0});
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpBindVcpu, kArgs), 0);
    put(kArgs, xen::EvtchnReset{xen::kDomidSelf});
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpReset, kArgs), 0);
    EXPECT_EQ(status_of(v1, 3), xen::kEvtchnStatClosed);
}

// Wild argument pointers give -EFAULT; an unwritable result gives -EFAULT after the fact.
TEST_F(EventChannelTest, HypercallWildPointers) {
    for (u32 command = 0; command <= xen::kEvtchnOpResetCont; ++command) {
        EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, command, kUnmapped), -xen::kEFAULT) << command;
        EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, command, kXenArea), -xen::kEFAULT) << command;
        EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, command, ~u64{0} - 2), -xen::kEFAULT) << command;
    }
    test::fake_guest_memory().at(kReadOnly)[0] = 0xf0;  // dom = DOMID_SELF (0x7ff0)
    test::fake_guest_memory().at(kReadOnly)[1] = 0x7f;
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpAllocUnbound, kReadOnly), -xen::kEFAULT);
    EXPECT_EQ(status_of(v1, 1), xen::kEvtchnStatUnbound) << "the port stays allocated, as in Xen";
}

TEST_F(EventChannelTest, HypercallUnsupportedCommands) {
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, 15, kArgs), -xen::kENOSYS);
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, 0xffffffff, kArgs), -xen::kENOSYS);
    // The command is an int: the register's upper half is ignored.
    put(kArgs, xen::EvtchnAllocUnbound{xen::kDomidSelf, 0, 0});
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, (u64{1} << 32) | xen::kEvtchnOpAllocUnbound, kArgs), 0);
    put(kArgs, xen::EvtchnExpandArray{0x1234});
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpExpandArray, kArgs), -xen::kEOPNOTSUPP);
    put(kArgs, xen::EvtchnSetPriority{1, 3});
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpSetPriority, kArgs), -xen::kENOSYS);
    put(kArgs, xen::EvtchnSetPriority{40, 3});
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpSetPriority, kArgs), -xen::kENOSYS) << "valid, free";
    put(kArgs, xen::EvtchnSetPriority{5000, 3});
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpSetPriority, kArgs), -xen::kEINVAL);
    put(kArgs, xen::EvtchnBindPirq{1, 0, 0});
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpBindPirq, kArgs), -xen::kEPERM);
    put(kArgs, xen::EvtchnBindPirq{100000, 0, 0});
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpBindPirq, kArgs), -xen::kEINVAL);
    put(kArgs, xen::EvtchnReset{xen::kDomidSelf});
    EXPECT_EQ(hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpResetCont, kArgs), -xen::kEBUSY);
}

// init_control (FIFO ABI) fails as Xen's checks would (xsa-188), then -EOPNOTSUPP: no FIFO.
TEST_F(EventChannelTest, InitControlChecksThenRefuses) {
    test::FakePvFrames frames(64);
    frames.give(Mfn(10), d1->id);
    test::fake_domain_mm().frames = &frames;
    const auto init = [&](u64 gfn, u32 offset, u32 vcpu) {
        put(kArgs, xen::EvtchnInitControl{gfn, offset, vcpu, 0, {}});
        return hypercall(v1, xen::kEventChannelOp, xen::kEvtchnOpInitControl, kArgs);
    };
    EXPECT_EQ(init(~u64{1}, 0, 0), -xen::kEINVAL) << "xsa-188's bad gfn";
    EXPECT_EQ(init(10, 0, 1), -xen::kENOENT);
    EXPECT_EQ(init(10, kPageSize - xen::kEvtchnFifoControlBlockSize + 8, 0), -xen::kEINVAL);
    EXPECT_EQ(init(10, 4, 0), -xen::kEINVAL);
    EXPECT_EQ(init(63, 0, 0), -xen::kEINVAL) << "not our frame";
    EXPECT_EQ(init(10, 0, 0), -xen::kEOPNOTSUPP);
    EXPECT_EQ(frames.info(Mfn(10)).ref_count, 0u) << "the reference was dropped";
    test::fake_domain_mm().frames = nullptr;
}

// ---- The port tables live in each domain's private area (domain_private.hpp) ----

// A fresh area is a fresh table; what the operations write lands in the area, not in pv::Domain.
TEST_F(EventChannelTest, PortTableIsInThePrivateArea) {
    EXPECT_EQ(alloc_unbound(v1, 2), 1);
    EXPECT_EQ(bind_virq(v1, xen::kVirqConsole), 2);
    const DomainPrivate& area = test::fake_domain_private(*d1);
    EXPECT_EQ(area.ports[1].state, EvtchnState::Unbound);
    EXPECT_EQ(area.ports[1].remote_domid, 2u);
    EXPECT_EQ(area.ports[2].state, EvtchnState::Virq);
    EXPECT_EQ(area.virq_port[xen::kVirqConsole], 2u);
    EXPECT_EQ(test::fake_domain_private(*d2).ports[1].state, EvtchnState::Free) << "d2's table is its own";
    EXPECT_EQ(test::fake_domain_private_pages_mapped(), 0u);
}

// d1 runs (its area is the window) and d2 does not (its area is reached page by page, as the
// image's mapcache path does): binding to, sending to and closing towards d2 go through d2's
// port page; d2 sees each step.
TEST_F(EventChannelTest, CrossDomainOperationsReachThePeerPageByPage) {
    const long remote = alloc_unbound(v2, d1->id);
    ASSERT_GT(remote, 0);
    test::fake_domain_private_paged(*d2, true);
    const long local = bind(v1, d2->id, static_cast<u32>(remote));
    ASSERT_GT(local, 0);
    EXPECT_GT(test::fake_domain_private_page_maps(), 0u) << "d2's port was reached through a page mapping";
    const EvtchnPort& peer = test::fake_domain_private(*d2).ports[remote];
    EXPECT_EQ(peer.state, EvtchnState::Interdomain);
    EXPECT_EQ(peer.remote_port, local);
    acknowledge(*d2);
    EXPECT_EQ(evtchn_send(v1, static_cast<u32>(local)), 0);
    EXPECT_TRUE(pending(*d2, static_cast<u32>(remote)));
    EXPECT_EQ(evtchn_close(v1, static_cast<u32>(local)), 0);
    EXPECT_EQ(peer.state, EvtchnState::Unbound) << "the peer's end waits for a new binding";
    EXPECT_EQ(peer.remote_domid, d1->id);
    EXPECT_EQ(test::fake_domain_private_pages_mapped(), 0u);
}

// A global VIRQ's slot and its port are on different pages of the area: binding and closing one
// in a domain reached page by page must still leave slot and port consistent.
TEST_F(EventChannelTest, GlobalVirqAcrossPagesOfTheArea) {
    test::fake_domain_private_paged(*d1, true);
    const long port = bind_virq(v1, xen::kVirqConsole);
    ASSERT_GT(port, 0);
    EXPECT_EQ(bind_virq(v1, xen::kVirqConsole), -xen::kEEXIST);
    const DomainPrivate& area = test::fake_domain_private(*d1);
    EXPECT_EQ(area.virq_port[xen::kVirqConsole], port);
    EXPECT_EQ(area.ports[port].virq, xen::kVirqConsole);
    EXPECT_EQ(evtchn_close(v1, static_cast<u32>(port)), 0);
    EXPECT_EQ(area.virq_port[xen::kVirqConsole], 0u);
    EXPECT_EQ(area.ports[port].state, EvtchnState::Free);
}

// The timer interrupt raises VIRQ_TIMER on vCPUs of domains that may not run on that pCPU: it
// needs nothing from their private area (the binding is in pv::Vcpu), so it maps nothing.
TEST_F(EventChannelTest, TimerVirqNeedsNoPrivateArea) {
    const long port = bind_virq(v1, xen::kVirqTimer);
    ASSERT_GT(port, 0);
    test::fake_domain_private_paged(*d1, true);
    const unsigned maps = test::fake_domain_private_page_maps();
    EXPECT_EQ(evtchn_send_virq(v1, xen::kVirqTimer), 0);
    EXPECT_TRUE(pending(*d1, static_cast<u32>(port)));
    EXPECT_EQ(test::fake_domain_private_page_maps(), maps);
}

}  // namespace
}  // namespace hv::pv
