// SPDX-License-Identifier: MIT
// The guest's LDT: MMUEXT_SET_LDT and the lazy mapping of LDT frames on first use. [pv-abi.md §3.8, §4.5]
//
// SET_LDT only records the LDT's guest linear address and size. When the CPU first reads a
// descriptor from an LDT page (a selector load, LAR/LSL, a far transfer), the access faults in
// the hypervisor's LDT window; the fault handler finds the frame through the guest's kernel page
// tables (in user mode too), takes a segment-descriptor type reference on it (which validates every
// descriptor in it) and maps it, and the guest instruction simply runs again. A page that cannot be
// mapped turns the fault into a #PF for the guest at the LDT's linear address, and a descriptor at
// a non-canonical linear address into #GP(selector), as on Xen. References are dropped when the LDT
// changes.
#pragma once

#include "hv/core/types.hpp"

namespace hv::pv {

struct Vcpu;

// MMUEXT_SET_LDT with the op's `arg2` (nr_ents is its low 32 bits): 0 or -EINVAL (more than 8192
// entries; with entries, a base that is not a page-aligned guest address). As on Xen only the base
// is checked, and only when there are entries: an LDT may run into non-canonical space, and those
// descriptors give #GP(selector) when used. A different LDT drops the frames of the old one.
long set_ldt(Vcpu& vcpu, u64 base, u64 arg2);
// Drops every LDT frame reference the vCPU holds; true if any page was mapped.
bool release_ldt_frames(Vcpu& vcpu);

// What a #PF at a hypervisor address becomes.
enum class LdtFaultKind : u8 {
    NotLdt,             // not the CPU reading the LDT window: an ordinary #PF at that address
    Fixed,              // the LDT page is mapped now: retry the instruction
    PageFault,          // the LDT page cannot be mapped: #PF with cr2 = `value`, its LDT linear address
    GeneralProtection,  // the descriptor's linear address is not canonical: #GP(`value`)
};
struct LdtFault {
    LdtFaultKind kind;
    u64 value;
};
// A #PF from guest context at hypervisor address `cr2` with the CPU's `error_code`. Only the CPU's
// own descriptor reads count (supervisor accesses without reserved bits; a guest instruction is a
// user access at CPL 3). The page is found through the guest's kernel page tables, whatever the
// mode, as Xen does. [pv-abi.md §4.5]
LdtFault handle_ldt_fault(Vcpu& vcpu, u64 cr2, u64 error_code);

}  // namespace hv::pv
