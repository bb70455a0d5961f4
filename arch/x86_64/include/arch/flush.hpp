// SPDX-License-Identifier: MIT
// TLB shootdown (flush.cpp): synchronous flush requests to the pCPUs whose loaded page tables
// belong to a domain (or some of its vCPUs), by IPI. Protocol:
//   1. the sender has made its page-table change (or whatever makes translations stale);
//   2. it computes the targets from loaded_vcpu() of every pCPU (hv/sched/flush.hpp), handles
//      its own pCPU directly, and takes the shootdown lock (one shootdown at a time);
//   3. it writes each target's mailbox (flags, address), marks it pending and sends the flush IPI;
//   4. it waits until every target cleared its pending mark. Waiting, like every spin in the
//      hypervisor, serves this pCPU's own mailbox (spin_relax), so two pCPUs flushing each
//      other, or one spinning on a lock the other holds, cannot deadlock; a target in a guest or
//      halted gets the IPI.
// A target handles a request in this order: drop a lazily loaded vCPU's tables, resync the root
// table (resync_loaded_root), then the TLB flush.
#pragma once

#include "hv/core/types.hpp"
#include "hv/sched/flush.hpp"

namespace hv::pv {
struct Domain;
struct Vcpu;
}  // namespace hv::pv

namespace hv::arch {

inline constexpr u8 kVectorFlush = 0xf1;

// Flush `flags` (sched::FlushFlags) on every pCPU whose loaded vCPU belongs to `domain` and is
// in `vcpu_mask` (bit per vCPU id), this pCPU included; returns after all have done it.
void flush_domain(pv::Domain& domain, u32 flags, u64 va = 0, u64 vcpu_mask = sched::kAllVcpus);
// The pCPUs (other than this one) that still hold `vcpu`'s tables while idle switch to the idle
// root: `vcpu`'s root is about to lose its last reference.
void drop_lazy_vcpu(pv::Vcpu& vcpu);
// The flush IPI arrived (or a spin loop found a pending request): handle this pCPU's mailbox.
void serve_flush_request();

// ASI hook: re-copy the loaded vCPU's guest L4 into its per-vCPU root table on `cpu`. Called
// before the TLB flush of the same request. A counted no-op until ASI root tables exist (today
// CR3 is the guest L4 itself, so the change is already visible).
void resync_loaded_root(unsigned cpu);
u64 resync_count();
u64 shootdown_count();

}  // namespace hv::arch
