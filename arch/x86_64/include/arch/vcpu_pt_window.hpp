// SPDX-License-Identifier: MIT
// The page-table word window: how the page-type engine reads and writes guest page-table
// entries without a mapcache round trip per entry.
//
// With asi vcpu-pt each vCPU has 16 pages in its own part of the per-domain slot 260
// (vcpu_pt_window_va), behind its own L3, so no other root maps them. Guest frame f of the vCPU's own
// domain always shows at page f mod 16, and stays mapped there until another frame needs that
// page: the entries a hypercall walks (L4, L3, L2, L1, read then write) are usually still mapped
// from the previous one, and a hit costs no PTE write and no INVLPG. Replacing a page rewrites
// its PTE and invalidates its VA on this pCPU (with vcpu-pt a vCPU's root is loaded on one pCPU at
// a time, a pCPU leaves it with a CR3 load, and every full switch flushes the TLB; without
// vcpu-pt that does not hold, so there is no window). The window maps only frames its vCPU's domain owns, and
// guest frames never change owner while their domain runs, so it adds nothing to what the
// vCPU's roots may reach (the audit classifies those frames as its own).
//
// Used only while the vCPU's per-domain area is the one loaded here (the loaded root's own slot
// 260 says so); any other frame or situation goes through map_domain_page.
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/types.hpp"

namespace hv::pv {
struct Vcpu;
}

namespace hv::arch {

// Creates the vCPU's window (its L2/L1 in slot 260) with every page empty; asi vcpu-pt only.
[[nodiscard]] bool pt_window_init(pv::Vcpu& vcpu);

// Word `index` (< 512) of frame `mfn`: one aligned 8-byte load or store.
u64 read_guest_table_word(Mfn mfn, unsigned index);
void write_guest_table_word(Mfn mfn, unsigned index, u64 value);

}  // namespace hv::arch
