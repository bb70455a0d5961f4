// SPDX-License-Identifier: MIT
// What the PV memory hypercalls need from the platform: the page-type engine of a domain (its
// environment reaches guest frames through the mapcache) and TLB maintenance for the running vCPU.
#pragma once

#include "hv/core/addr.hpp"
#include "hv/pv/page_types.hpp"

namespace hv::pv {

struct Domain;
struct Vcpu;

PageTypeEngine domain_engine(Domain& domain);
// The engine for a hypercall of `vcpu` (running on this pCPU) on its own domain: domain_engine's
// rules and frames; with asi vcpu-pt update_va_mapping's fast walk asks about `vcpu`'s own
// shadow root directly instead of looking up the vCPU loaded here.
PageTypeEngine vcpu_engine(Vcpu& vcpu);

// TLB maintenance for the domain of `vcpu`, on every pCPU whose loaded tables belong to it (a
// synchronous shootdown: done everywhere when the call returns). [arch/x86_64 flush.hpp]
void flush_guest_tlb(Vcpu& vcpu);
void invalidate_guest_page(Vcpu& vcpu, u64 va);
// Fills (or empties) the read-only M2P slot 256 of validated guest L4 `l4`; the vCPUs' shadow
// roots follow. Xen fills it when an L4 becomes a kernel root and, with m2p_strict, empties it
// when one becomes a user root. [pv-abi.md §5.4]
void set_guest_m2p_slot(Mfn l4, bool present);
// `flags` (hv/sched/flush.hpp FlushFlags) on the pCPUs holding one of the domain's vCPUs in
// `vcpu_mask` (bit per vCPU id), or with `local_only` on this pCPU alone.
void flush_guest_tlb_mask(Vcpu& vcpu, u32 flags, u64 va, u64 vcpu_mask, bool local_only);
// Before the vCPU's old root loses its last reference: pCPUs idle with it still loaded (the lazy
// switch) move to the idle root.
void release_root_elsewhere(Vcpu& vcpu);
// After the vCPU's current root changed: load it. Every guest CR3 write goes through here.
void reload_guest_root(Vcpu& vcpu);
// The M2P entry of a frame (MMU_MACHPHYS_UPDATE).
void set_guest_m2p(Mfn mfn, u64 pfn);
// One past the highest machine frame number of RAM (XENMEM_maximum_ram_page).
u64 machine_frame_limit();
// One 8-byte word of a guest frame (the caller holds the references that make access safe).
u64 read_frame_word(Mfn mfn, unsigned index);
void write_frame_word(Mfn mfn, unsigned index, u64 value);
// MMUEXT_CLEAR_PAGE and MMUEXT_COPY_PAGE: a whole guest frame zeroed, or copied from `source`
// (the caller holds the references and types that make access safe). Through map_domain_page,
// the one way the hypervisor reaches a guest frame.
void clear_frame(Mfn mfn);
void copy_frame(Mfn destination, Mfn source);
// GNTTABOP_copy: `length` bytes from `source` + `source_offset` to `destination` +
// `destination_offset` (offset + length <= 4096 on both sides; the frames may be the same).
void copy_frame_bytes(Mfn destination, unsigned destination_offset, Mfn source, unsigned source_offset,
                      unsigned length);
// Maps the vCPU's GDT frames (vcpu.gdt_frames) as GDT pages 0..n-1 of the pCPU it runs on;
// the other pages up to 13 show an all-zero page.
void load_guest_gdt(Vcpu& vcpu);
// Maps the vCPU's LDT frames (vcpu.ldt_frames; 0 = not present, faults lazily) in the LDT window of
// the pCPU it runs on and loads LDTR for vcpu.ldt_ents entries (none: a null LDTR).
void load_guest_ldt(Vcpu& vcpu);
// Loads LDTR only (vcpu.ldt_ents entries; none: a null LDTR), for an LDT change that leaves the
// window as it is: no page was mapped in it and none is (vcpu.ldt_frames all 0).
void load_guest_ldtr(Vcpu& vcpu);
// The hypervisor VA where the vCPU's LDT page 0 shows while it runs.
u64 guest_ldt_window(const Vcpu& vcpu);

}  // namespace hv::pv
