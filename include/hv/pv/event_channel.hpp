// SPDX-License-Identifier: MIT
// Event channels, 2-level ABI: each domain's port table, the event_channel_op operations, the
// pending/mask logic on shared_info, upcall delivery and the SCHEDOP_block/poll waits.
// [pv-abi.md §3.2, §3.13, §4.8; Xen ABI xen/include/public/event_channel.h]
//
// Port states (port 0 is reserved at creation and never changes: status "closed", close -EINVAL):
//
//   Free --alloc_unbound--> Unbound --remote bind_interdomain--> Interdomain
//    ^  ^                    |  ^                                    |
//    |  +------close---------+  +-------the peer closes its end------+
//    +---------------------------close-------------------------------+
//   Free --bind_virq--> Virq --close--> Free       Free --bind_ipi--> Ipi --close--> Free
//
// Sends: Interdomain marks the peer's port pending, Ipi our own, Unbound drops the event, the
// rest give -EINVAL. Closing a port clears its pending bit (not its mask bit).
#pragma once

#include "arch/trap_frame.hpp"
#include "hv/core/types.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {

struct Domain;
struct Vcpu;

// The 2-level ABI names 4096 ports; our table holds the first kEvtchnPorts of them and answers
// -ENOSPC beyond (Xen: 4095 ports for dom0). 8 bytes per port: the table is
// two pages of the domain's private area.
inline constexpr unsigned kEvtchnPorts = 1024;
// As in Xen, ports become "valid" (usable in status/close/send/unmask/poll without -EINVAL) one
// bucket at a time as allocation reaches them, and stay valid. Xen 4.17's bucket is 64 ports.
inline constexpr unsigned kEvtchnBucketPorts = 64;
inline constexpr unsigned kEvtchnVirqs = 24;  // NR_VIRQS
// Physical IRQs: none is ever granted; numbers below this give -EPERM, above -EINVAL (as Xen).
inline constexpr unsigned kEvtchnPirqs = 256;
static_assert(kEvtchnPorts % kEvtchnBucketPorts == 0 && kEvtchnPorts <= 64 * 64);

enum class EvtchnState : u8 { Free = 0, Unbound, Interdomain, Virq, Ipi };

struct EvtchnPort {
    EvtchnState state;
    u8 notify_vcpu;    // the vCPU whose vcpu_info gets the upcall (bind_vcpu, bind_virq/ipi)
    u16 remote_domid;  // Unbound: the domain that may bind; Interdomain: the peer
    u16 remote_port;   // Interdomain: the peer's port
    u8 virq;           // Virq
    u8 pad;
};
static_assert(sizeof(EvtchnPort) == 8);

// A domain's port table is in its private area (domain_private.hpp), the count of valid buckets
// in pv::Domain. All-zero is a fresh table (port 0 reserved, one valid bucket).

// ---- Operations for the guest running `vcpu`. Each returns 0 or a negated Xen errno and fills
// the structure's out fields on success. They take the global event-channel lock. ----

long evtchn_alloc_unbound(Vcpu& vcpu, xen::EvtchnAllocUnbound& request);
long evtchn_bind_interdomain(Vcpu& vcpu, xen::EvtchnBindInterdomain& request);
long evtchn_bind_virq(Vcpu& vcpu, xen::EvtchnBindVirq& request);
long evtchn_bind_ipi(Vcpu& vcpu, xen::EvtchnBindIpi& request);
long evtchn_close(Vcpu& vcpu, u32 port);
long evtchn_send(Vcpu& vcpu, u32 port);
long evtchn_status(Vcpu& vcpu, xen::EvtchnStatus& request);
long evtchn_bind_vcpu(Vcpu& vcpu, u32 port, u32 target_vcpu);
long evtchn_unmask(Vcpu& vcpu, u32 port);
long evtchn_reset(Vcpu& vcpu, u16 dom);
// EVTCHNOP_reset_cont continues a preempted reset; ours never is, so there is none (-EBUSY).
long evtchn_reset_cont(Vcpu& vcpu, u16 dom);
// EVTCHNOP_set_priority: the 2-level ABI has no priorities (-ENOSYS for a valid port).
long evtchn_set_priority(Vcpu& vcpu, u32 port);

// ---- Upcalls and waiting ----

// vcpu_info says an event upcall is deliverable: upcall_pending != 0 and upcall_mask == 0.
bool upcall_deliverable(Vcpu& vcpu);
// Called before every resume of `vcpu` at `regs`: when an upcall is deliverable and an event
// callback is registered, bounces to it with events masked and no error code (pv-abi §4.8).
// A frame that cannot be written crashes the domain, as for any bounce.
void deliver_pending_upcall(Vcpu& vcpu, arch::TrapFrame& regs);

// SCHEDOP_block: unmask events; unless an upcall is pending, ask the scheduler to block the vCPU
// at its exit until one is (block_vcpu). Returns 0: the guest sees it once it runs again.
long sched_block(Vcpu& vcpu);
// SCHEDOP_poll with the guest's struct sched_poll at `argument`; blocks like sched_block, with
// poll_port (and poll_deadline for a timeout) saying what wakes it. [pv-abi.md §3.2]
long sched_poll(Vcpu& vcpu, u64 argument);
// Raises per-vCPU VIRQ `virq` (VIRQ_TIMER) on `vcpu`: its bound port becomes pending and the vCPU
// is woken or kicked. -ENOENT when no port is bound (the event is lost, as on Xen).
long evtchn_send_virq(Vcpu& vcpu, u32 virq);

}  // namespace hv::pv
