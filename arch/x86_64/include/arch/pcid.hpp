// SPDX-License-Identifier: MIT
// PCIDs for the per-vCPU shadow roots (asi vcpu-pt): every vCPU's kernel and user root get a
// PCID of their own, so a guest user/kernel switch loads CR3 without flushing (docs/asi.md).
//
// Which PCIDs can hold TLB entries on a pCPU (the invariant every invalidation relies on):
//   - load_vcpu() flushes every PCID, global entries included, right after it loads a vCPU;
//   - a CR3 load keeps a PCID's entries (no-flush bit) only for the two roots of the vCPU loaded
//     on this pCPU (pv_root_cr3); PCID 0 (the idle roots) is always loaded with a flush.
// So at any time only the current PCID and the loaded vCPU's two PCIDs hold entries that can be
// used again; any other PCID's entries are dead (reachable only through a no-flush load of that
// PCID, which load_vcpu's full flush precedes). A vCPU that migrates and comes back is loaded by
// load_vcpu again, so no per-pCPU generation is needed. Every invalidation the hypervisor does
// therefore covers the current PCID and the loaded vCPU's other one (invalidate_page,
// flush_tlb_local). Without PCIDs these are INVLPG and a CR3 reload, as before.
#pragma once

#include "hv/core/types.hpp"

namespace hv::pv {
struct Vcpu;
}

namespace hv::arch {

// Boot, after the ASI policy is fixed: PCIDs are used when `wanted` (option pcid), asi vcpu-pt
// is on and CPUID offers both PCID (1:ECX[17]) and INVPCID (7:EBX[10]). Prints the boot line.
void pcid_select(bool wanted);
namespace pcid_records {
extern bool in_use;  // set once by pcid_select, before any guest runs; read inline by asi_root_cr3
}  // namespace pcid_records
inline bool pcids_in_use() { return pcid_records::in_use; }
// Every pCPU, while CR3 still holds PCID 0: sets CR4.PCIDE when PCIDs are in use.
void pcid_enable_cpu();

// The CR3 value that loads root `which` (0 kernel, 1 user) of `vcpu`, at `root` (a maddr). With
// PCIDs: the root's PCID, and the no-flush bit when that PCID holds nothing stale on this pCPU:
// a guest user/kernel switch keeps it; a reload of the same root (a new base pointer) or a root
// whose shadow was re-copied since flushes it.
u64 pv_root_cr3(const pv::Vcpu& vcpu, unsigned which, u64 root);
// load_vcpu flushed every PCID after loading `vcpu`: both its PCIDs are clean.
void pcid_vcpu_flushed(const pv::Vcpu& vcpu);
// Shadow `which` of `vcpu` was re-copied from a guest L4: its PCID flushes on its next load.
void pcid_shadow_changed(const pv::Vcpu& vcpu, unsigned which);

// INVLPG of `va` for every PCID whose entries this pCPU may use again (see above).
void invalidate_page(u64 va);
// Every non-global entry of every such PCID (was: a CR3 reload).
void flush_tlb_local();

}  // namespace hv::arch
