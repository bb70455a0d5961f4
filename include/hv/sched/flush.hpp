// SPDX-License-Identifier: MIT
// TLB-flush requests between pCPUs: what a request asks for, and which pCPUs must get it.
//
// A pCPU's TLB can only hold translations of the vCPU whose page tables it has loaded
// (loaded_vcpu: kept across a lazy switch to idle), so a flush for a domain (or some of its
// vCPUs) goes exactly to the pCPUs whose loaded vCPU matches. The platform side (IPIs, waiting
// for acknowledgements) is arch/x86_64/src/flush.cpp; this is the host-testable part.
#pragma once

#include "hv/core/types.hpp"

namespace hv::sched {

// Flags of one request; a pCPU handles them in this order (a root-table resync comes before the
// TLB flush of the same request, so the flush removes what the old root entries produced).
enum FlushFlags : u32 {
    kFlushRootResync = 1u << 0,  // resync_loaded_root(cpu): the guest L4 changed (ASI hook)
    kFlushDropLazy = 1u << 1,    // an idle pCPU still holding the vCPU's tables loads the idle root
    kFlushVa = 1u << 2,          // INVLPG of one address
    kFlushTlb = 1u << 3,         // every non-global translation (CR3 reload)
    kFlushTlbGlobal = 1u << 4,   // every translation, global ones too
};

// What one pCPU has loaded, as the flush code sees it.
struct LoadedView {
    u16 domain;  // 0: nothing of a guest (idle page tables)
    u8 vcpu;     // vCPU id within the domain
};

inline constexpr u64 kAllVcpus = ~u64{0};

// The pCPUs (bit per pCPU, `self` included when it matches) whose loaded tables belong to
// `domain` and to one of the vCPUs in `vcpu_mask` (bit per vCPU id).
u32 flush_targets(const LoadedView* loaded, unsigned cpus, u16 domain, u64 vcpu_mask);

// What a pCPU does for `flags`: the TLB part reduced to the strongest one asked for (a full
// flush makes an INVLPG pointless). `va` is kept only for kFlushVa.
u32 effective_flush(u32 flags);

}  // namespace hv::sched
