// SPDX-License-Identifier: MIT
// Event channels (2-level ABI): port tables, the pending/mask logic on shared_info, upcall
// delivery, SCHEDOP_block and SCHEDOP_poll. [pv-abi.md §3.2, §3.13, §4.8]
#include "hv/pv/event_channel.hpp"

#include "hv/core/check.hpp"
#include "hv/core/optional.hpp"
#include "hv/core/spinlock.hpp"
#include "hv/pv/bounce.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/domain_private.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/guest_mode.hpp"

namespace hv::pv {
namespace {

// One lock for every domain's table: interdomain operations change two tables at once, there
// are at most kMaxDomains domains and every operation is short. Never held while waiting.
// The tables themselves are in each domain's private area (domain_private.hpp): an operation
// opens one DomainPrivateView of its own domain, and one of the peer's when it crosses over.
Spinlock table_lock;

constexpr unsigned kPortsPerWord = 64;  // bits per evtchn_pending word: one evtchn_pending_sel bit each

unsigned valid_ports(const Domain& domain) { return (domain.evtchn_valid_buckets + 1u) * kEvtchnBucketPorts; }

// Xen's port_is_valid: inside a bucket that allocation has reached (port 0 included).
bool port_is_valid(const Domain& domain, u32 port) { return port < valid_ports(domain); }

// Xen's evtchn_usable: a valid port that is bound to something (port 0 is reserved).
bool port_is_usable(const Domain& domain, DomainPrivateView& table, u32 port) {
    return port != 0 && port_is_valid(domain, port) && table.port(port).state != EvtchnState::Free;
}

// The lowest free port (Xen's get_free_port). Reaching a new bucket makes it valid.
Optional<u32> alloc_port(Domain& domain, DomainPrivateView& table) {
    for (u32 port = 1; port < kEvtchnPorts; ++port) {
        if (table.port(port).state != EvtchnState::Free) continue;
        while (port >= valid_ports(domain)) ++domain.evtchn_valid_buckets;
        return port;
    }
    return {};
}

// VIRQs bound per vCPU; every other one is global and may only name vCPU 0.
bool virq_is_global(u32 virq) {
    return virq != xen::kVirqTimer && virq != xen::kVirqDebug && virq != xen::kVirqXenoprof &&
           virq != xen::kVirqXenpmu;
}

// Where the port bound to `virq` is recorded: per vCPU for per-vCPU VIRQs (VIRQ_TIMER...), in
// the domain's table for global ones.
u16& virq_slot(Domain& domain, DomainPrivateView& table, u32 virq, u32 vcpu) {
    if (virq_is_global(virq) || vcpu >= domain.vcpu_count) return table.global_virq_port(virq);
    return domain.vcpus[vcpu].virq_port[virq];
}

// Xen's domain_vcpu(): the vCPU with that id exists.
bool vcpu_exists(const Domain& domain, u32 id) { return id < domain.vcpu_count; }

// The domain an operation names (DOMID_SELF or an id). Isola keeps domains apart: naming another
// existing domain gives -EPERM (Xen lets a privileged dom0 do it); a missing one -ESRCH.
Domain* target_domain(Vcpu& vcpu, u16 dom, long& error) {
    Domain& self = *vcpu.domain;
    if (dom == xen::kDomidSelf || dom == self.id) return &self;
    error = find_domain(dom) != nullptr ? -xen::kEPERM : -xen::kESRCH;
    return nullptr;
}

// The vCPU that gets a port's upcalls: its entry's notify_vcpu (bind_vcpu may have moved it off
// vCPU 0).
Vcpu& notify_vcpu(Domain& domain, unsigned id) { return domain.vcpus[id < domain.vcpu_count ? id : 0]; }

// Marks `port` of `domain` pending for its vCPU `notify_id` (the port entry's notify_vcpu: the
// caller has the entry at hand; Xen's evtchn_2l_set_pending, then the poller check). Returns the
// vCPU to kick once the lock is dropped, or nullptr. Precondition: table_lock held.
Vcpu* set_pending(Domain& domain, u32 port, unsigned notify_id) {
    if (evtchn_test_and_set_bit(domain, EvtchnBits::Pending, port)) return nullptr;  // nothing new
    Vcpu& vcpu = notify_vcpu(domain, notify_id);
    bool wake = false;
    // An unmasked port sets its selector bit; the first selector bit makes the upcall pending.
    if (!evtchn_test_bit(domain, EvtchnBits::Mask, port) &&
        !evtchn_selector_test_and_set(domain, vcpu.id, port / kPortsPerWord))
        wake = !upcall_pending_test_and_set(domain, vcpu.id);
    // Every vCPU of the domain polling this port (or several ports) wakes whatever the mask says
    // (Xen's evtchn_check_pollers looks at every vCPU of the domain): the notify vCPU through the
    // return value, any other one here.
    for (unsigned i = 0; i < domain.vcpu_count; ++i) {
        Vcpu& poller = domain.vcpus[i];
        const i32 polling = __atomic_load_n(&poller.poll_port, __ATOMIC_SEQ_CST);
        if (polling >= 0 && polling != static_cast<i32>(port)) continue;
        if (polling == 0) continue;
        if (&poller == &vcpu) {
            wake = true;
            continue;
        }
        __atomic_store_n(&poller.wake, true, __ATOMIC_SEQ_CST);
        kick_vcpu(poller);
    }
    if (!wake) return nullptr;
    __atomic_store_n(&vcpu.wake, true, __ATOMIC_SEQ_CST);
    return &vcpu;
}

// Xen's evtchn_2l_unmask: clearing the mask of a pending port raises the upcall it missed.
// Precondition: table_lock held.
Vcpu* unmask_port(Domain& domain, u32 port, unsigned notify_id) {
    Vcpu& vcpu = notify_vcpu(domain, notify_id);
    if (!evtchn_test_and_clear_bit(domain, EvtchnBits::Mask, port)) return nullptr;
    if (!evtchn_test_bit(domain, EvtchnBits::Pending, port)) return nullptr;
    if (evtchn_selector_test_and_set(domain, vcpu.id, port / kPortsPerWord)) return nullptr;
    if (upcall_pending_test_and_set(domain, vcpu.id)) return nullptr;
    __atomic_store_n(&vcpu.wake, true, __ATOMIC_SEQ_CST);
    return &vcpu;
}

// Back to Free; a stale pending bit must not fire on the next binding. The mask bit stays.
void free_port(Domain& domain, DomainPrivateView& table, u32 port) {
    evtchn_test_and_clear_bit(domain, EvtchnBits::Pending, port);
    table.port(port) = EvtchnPort{};
}

// Xen's evtchn_close. Closing one end of an interdomain channel leaves the other end unbound,
// waiting for a new binding from us. Precondition: table_lock held.
long close_port(Domain& domain, DomainPrivateView& table, u32 port) {
    if (!port_is_usable(domain, table, port)) return -xen::kEINVAL;
    const EvtchnPort entry = table.port(port);  // a copy: the VIRQ slot may be on another page
    switch (entry.state) {
        case EvtchnState::Virq: {
            u16& slot = virq_slot(domain, table, entry.virq, entry.notify_vcpu);
            if (slot == port) slot = 0;
            break;
        }
        case EvtchnState::Interdomain: {
            Domain* peer = find_domain(entry.remote_domid);
            HV_CHECK(peer != nullptr && entry.remote_port < kEvtchnPorts);  // domains are never destroyed
            DomainPrivateView peer_table(*peer);
            EvtchnPort& remote = peer_table.port(entry.remote_port);
            HV_DEBUG_ASSERT(remote.state == EvtchnState::Interdomain && remote.remote_domid == domain.id &&
                            remote.remote_port == port);
            remote = EvtchnPort{EvtchnState::Unbound, remote.notify_vcpu, domain.id, 0, 0, 0};
            break;
        }
        case EvtchnState::Unbound:
        case EvtchnState::Ipi:
        case EvtchnState::Free: break;
    }
    free_port(domain, table, port);
    return 0;
}

void kick(Vcpu* vcpu) {
    if (vcpu != nullptr) kick_vcpu(*vcpu);
}

// Result of looking at one polled port.
enum class PollPort : u8 { Invalid, Pending, Idle };

PollPort poll_port(Domain& domain, DomainPrivateView& table, u32 port) {
    SpinlockGuard guard(table_lock);
    if (!port_is_usable(domain, table, port)) return PollPort::Invalid;
    return evtchn_test_bit(domain, EvtchnBits::Pending, port) ? PollPort::Pending : PollPort::Idle;
}

}  // namespace

long evtchn_alloc_unbound(Vcpu& vcpu, xen::EvtchnAllocUnbound& request) {
    long error = 0;
    Domain* domain = target_domain(vcpu, request.dom, error);
    if (domain == nullptr) return error;
    DomainPrivateView table(*domain);
    SpinlockGuard guard(table_lock);
    const Optional<u32> port = alloc_port(*domain, table);
    if (!port) return -xen::kENOSPC;
    // DOMID_SELF as the remote means the caller.
    const u16 remote = request.remote_dom == xen::kDomidSelf ? vcpu.domain->id : request.remote_dom;
    table.port(port.value()) = EvtchnPort{EvtchnState::Unbound, 0, remote, 0, 0, 0};
    request.port = port.value();
    return 0;
}

long evtchn_bind_interdomain(Vcpu& vcpu, xen::EvtchnBindInterdomain& request) {
    Domain& local = *vcpu.domain;
    const u16 remote_id = request.remote_dom == xen::kDomidSelf ? local.id : request.remote_dom;
    Domain* remote = find_domain(remote_id);
    if (remote == nullptr) return -xen::kESRCH;
    Vcpu* to_kick = nullptr;
    {
        DomainPrivateView local_table(vcpu);
        DomainPrivateView remote_table(*remote);  // the same area when binding to ourselves
        SpinlockGuard guard(table_lock);
        // Xen takes the local port first, so a full table answers -ENOSPC before the checks.
        const Optional<u32> local_port = alloc_port(local, local_table);
        if (!local_port) return -xen::kENOSPC;
        // The remote port must be unbound and offered to us.
        const u32 remote_port = request.remote_port;
        if (remote_port == 0 || !port_is_valid(*remote, remote_port)) return -xen::kEINVAL;
        EvtchnPort& remote_entry = remote_table.port(remote_port);
        if (remote_entry.state != EvtchnState::Unbound || remote_entry.remote_domid != local.id) return -xen::kEINVAL;
        remote_entry.state = EvtchnState::Interdomain;
        remote_entry.remote_domid = local.id;
        remote_entry.remote_port = static_cast<u16>(local_port.value());
        local_table.port(local_port.value()) =
            EvtchnPort{EvtchnState::Interdomain, 0, remote->id, static_cast<u16>(remote_port), 0, 0};
        // Events sent to the unbound remote end were dropped: like Xen, raise one on our end.
        to_kick = set_pending(local, local_port.value(), 0);
        request.local_port = local_port.value();
    }
    kick(to_kick);
    return 0;
}

long evtchn_bind_virq(Vcpu& vcpu, xen::EvtchnBindVirq& request) {
    if (request.virq >= kEvtchnVirqs) return -xen::kEINVAL;
    if (virq_is_global(request.virq) && request.vcpu != 0) return -xen::kEINVAL;
    Domain& domain = *vcpu.domain;
    if (!vcpu_exists(domain, request.vcpu)) return -xen::kENOENT;
    DomainPrivateView table(vcpu);
    SpinlockGuard guard(table_lock);
    // The slot is looked up twice: a global one may be on another page of the area than the port.
    if (virq_slot(domain, table, request.virq, request.vcpu) != 0) return -xen::kEEXIST;
    const Optional<u32> port = alloc_port(domain, table);
    if (!port) return -xen::kENOSPC;
    table.port(port.value()) =
        EvtchnPort{EvtchnState::Virq, static_cast<u8>(request.vcpu), 0, 0, static_cast<u8>(request.virq), 0};
    virq_slot(domain, table, request.virq, request.vcpu) = static_cast<u16>(port.value());
    request.port = port.value();
    return 0;
}

long evtchn_bind_ipi(Vcpu& vcpu, xen::EvtchnBindIpi& request) {
    Domain& domain = *vcpu.domain;
    if (!vcpu_exists(domain, request.vcpu)) return -xen::kENOENT;
    DomainPrivateView table(vcpu);
    SpinlockGuard guard(table_lock);
    const Optional<u32> port = alloc_port(domain, table);
    if (!port) return -xen::kENOSPC;
    table.port(port.value()) = EvtchnPort{EvtchnState::Ipi, static_cast<u8>(request.vcpu), 0, 0, 0, 0};
    request.port = port.value();
    return 0;
}

long evtchn_close(Vcpu& vcpu, u32 port) {
    DomainPrivateView table(vcpu);
    SpinlockGuard guard(table_lock);
    return close_port(*vcpu.domain, table, port);
}

long evtchn_send(Vcpu& vcpu, u32 port) {
    Domain& domain = *vcpu.domain;
    Vcpu* to_kick = nullptr;
    {
        DomainPrivateView table(vcpu);
        SpinlockGuard guard(table_lock);
        if (!port_is_usable(domain, table, port)) return -xen::kEINVAL;
        const EvtchnPort& entry = table.port(port);
        switch (entry.state) {
            case EvtchnState::Interdomain: {
                Domain* peer = find_domain(entry.remote_domid);
                HV_CHECK(peer != nullptr);  // domains are never destroyed
                DomainPrivateView peer_table(*peer);
                to_kick = set_pending(*peer, entry.remote_port, peer_table.port(entry.remote_port).notify_vcpu);
                break;
            }
            case EvtchnState::Ipi: to_kick = set_pending(domain, port, entry.notify_vcpu); break;
            case EvtchnState::Unbound: break;  // nobody listens yet: the event is dropped
            case EvtchnState::Virq:
            case EvtchnState::Free: return -xen::kEINVAL;
        }
    }
    kick(to_kick);
    return 0;
}

long evtchn_status(Vcpu& vcpu, xen::EvtchnStatus& request) {
    long error = 0;
    Domain* domain = target_domain(vcpu, request.dom, error);
    if (domain == nullptr) return error;
    DomainPrivateView table(*domain);
    SpinlockGuard guard(table_lock);
    if (!port_is_valid(*domain, request.port)) return -xen::kEINVAL;
    const EvtchnPort& entry = table.port(request.port);
    // Port 0 and free ports read as closed; the union is left as the caller passed it.
    switch (request.port == 0 ? EvtchnState::Free : entry.state) {
        case EvtchnState::Free: request.status = xen::kEvtchnStatClosed; break;
        case EvtchnState::Unbound:
            request.status = xen::kEvtchnStatUnbound;
            request.u.unbound.dom = entry.remote_domid;
            break;
        case EvtchnState::Interdomain:
            request.status = xen::kEvtchnStatInterdomain;
            request.u.interdomain.dom = entry.remote_domid;
            request.u.interdomain.port = entry.remote_port;
            break;
        case EvtchnState::Virq:
            request.status = xen::kEvtchnStatVirq;
            request.u.virq = entry.virq;
            break;
        case EvtchnState::Ipi: request.status = xen::kEvtchnStatIpi; break;
    }
    request.vcpu = entry.notify_vcpu;
    return 0;
}

long evtchn_bind_vcpu(Vcpu& vcpu, u32 port, u32 target_vcpu) {
    Domain& domain = *vcpu.domain;
    if (!vcpu_exists(domain, target_vcpu)) return -xen::kENOENT;
    DomainPrivateView table(vcpu);
    SpinlockGuard guard(table_lock);
    if (!port_is_usable(domain, table, port)) return -xen::kEINVAL;
    EvtchnPort& entry = table.port(port);
    switch (entry.state) {
        case EvtchnState::Virq:
            if (!virq_is_global(entry.virq)) return -xen::kEINVAL;  // per-vCPU VIRQs stay where bound
            break;
        case EvtchnState::Unbound:
        case EvtchnState::Interdomain: break;
        case EvtchnState::Ipi:
        case EvtchnState::Free: return -xen::kEINVAL;
    }
    entry.notify_vcpu = static_cast<u8>(target_vcpu);
    return 0;
}

long evtchn_unmask(Vcpu& vcpu, u32 port) {
    Domain& domain = *vcpu.domain;
    Vcpu* to_kick = nullptr;
    {
        DomainPrivateView table(vcpu);
        SpinlockGuard guard(table_lock);
        if (!port_is_valid(domain, port)) return -xen::kEINVAL;
        if (!port_is_usable(domain, table, port)) return 0;  // Xen: a no-op on free ports
        to_kick = unmask_port(domain, port, table.port(port).notify_vcpu);
    }
    kick(to_kick);
    return 0;
}

long evtchn_reset(Vcpu& vcpu, u16 dom) {
    long error = 0;
    Domain* domain = target_domain(vcpu, dom, error);
    if (domain == nullptr) return error;
    DomainPrivateView table(*domain);
    SpinlockGuard guard(table_lock);
    for (u32 port = 1; port < valid_ports(*domain); ++port)
        if (table.port(port).state != EvtchnState::Free) (void)close_port(*domain, table, port);
    return 0;
}

long evtchn_reset_cont(Vcpu& vcpu, u16 dom) {
    long error = 0;
    return target_domain(vcpu, dom, error) == nullptr ? error : -xen::kEBUSY;
}

long evtchn_set_priority(Vcpu& vcpu, u32 port) {
    SpinlockGuard guard(table_lock);
    return port_is_valid(*vcpu.domain, port) ? -xen::kENOSYS : -xen::kEINVAL;
}

bool upcall_deliverable(Vcpu& vcpu) { return read_upcall_deliverable(vcpu); }

void deliver_pending_upcall(Vcpu& vcpu, arch::TrapFrame& regs) {
    if (vcpu.domain->state != DomainState::Running) return;
    // Without an event callback there is nowhere to deliver (Xen would bounce to address 0).
    const Callback& callback = vcpu.callbacks[static_cast<unsigned>(CallbackType::Event)];
    if (callback.address == 0 || !upcall_deliverable(vcpu)) return;
    const char* why = nullptr;
    if (!deliver(vcpu, regs, Delivery{callback.address, /*mask_events=*/true, {}, /*clear_df=*/false}, &why))
        domain_crash(*vcpu.domain, why);
}

long sched_block(Vcpu& vcpu) {
    write_upcall_mask(vcpu, 0);
    // Clear wake before looking: a sender that raises the upcall after our look sets it again,
    // and the scheduler then does not block us (the no-lost-wakeup protocol: sched.cpp).
    __atomic_store_n(&vcpu.wake, false, __ATOMIC_SEQ_CST);
    if (read_upcall_pending(vcpu) != 0) return 0;
    block_vcpu(vcpu);
    return 0;
}

long sched_poll(Vcpu& vcpu, u64 argument) {
    xen::SchedPoll request{};
    if (!copy_from_guest(vcpu, &request, argument, sizeof request)) return -xen::kEFAULT;
    if (request.nr_ports > xen::kSchedPollMaxPorts) return -xen::kEINVAL;
    if (!guest_range_ok(request.ports, u64{request.nr_ports} * sizeof(u32))) return -xen::kEFAULT;
    // Announce the poll before looking at the ports: a sender that sets a bit after our look
    // then sees us polling and wakes us (Xen sets poll_mask first for the same reason).
    __atomic_store_n(&vcpu.wake, false, __ATOMIC_SEQ_CST);
    __atomic_store_n(&vcpu.poll_port, -1, __ATOMIC_SEQ_CST);
    const auto done = [&](long result) {
        __atomic_store_n(&vcpu.poll_port, 0, __ATOMIC_SEQ_CST);
        return result;
    };
    if (upcall_deliverable(vcpu)) return done(0);
    u32 port = 0;
    DomainPrivateView table(vcpu);
    for (u32 i = 0; i < request.nr_ports; ++i) {
        if (!copy_from_guest(vcpu, &port, request.ports + u64{i} * sizeof port, sizeof port))
            return done(-xen::kEFAULT);
        switch (poll_port(*vcpu.domain, table, port)) {
            case PollPort::Invalid: return done(-xen::kEINVAL);
            case PollPort::Pending: return done(0);
            case PollPort::Idle: break;
        }
    }
    if (request.nr_ports == 1) __atomic_store_n(&vcpu.poll_port, static_cast<i32>(port), __ATOMIC_SEQ_CST);
    // The timeout is absolute system time: one already passed ends the poll at once (xsa-221
    // polls with timeout 1), as Xen's poll timer would fire at once.
    if (request.timeout != 0 && request.timeout <= system_time_ns()) return done(0);
    vcpu.poll_deadline = request.timeout;
    // The scheduler clears poll_port and poll_deadline when the block ends.
    block_vcpu(vcpu);
    return 0;
}

long evtchn_send_virq(Vcpu& vcpu, u32 virq) {
    // Per-vCPU VIRQs only: their binding is in pv::Vcpu and their port notifies the vCPU bound
    // (bind_vcpu cannot move them), so the timer interrupt needs no view of a private area that
    // may belong to a domain that does not run here.
    HV_CHECK(virq < kEvtchnVirqs && !virq_is_global(virq));
    Domain& domain = *vcpu.domain;
    Vcpu* to_kick = nullptr;
    {
        SpinlockGuard guard(table_lock);
        const u16 port = vcpu.virq_port[virq];
        if (port == 0) return -xen::kENOENT;  // nobody bound it: the event is dropped (as Xen)
        to_kick = set_pending(domain, port, vcpu.id);
    }
    kick(to_kick);
    return 0;
}

}  // namespace hv::pv
