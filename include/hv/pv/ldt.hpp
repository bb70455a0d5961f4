// SPDX-License-Identifier: MIT
// The guest's LDT: MMUEXT_SET_LDT and the lazy mapping of LDT frames on first use. [pv-abi.md §3.9]
//
// SET_LDT only records the LDT's guest linear address and size. When the CPU first reads a
// descriptor from an LDT page (a selector load, LAR/LSL, a far transfer), the access faults in
// the hypervisor's LDT window; the fault handler finds the frame through the guest's current page
// tables, takes a segment-descriptor type reference on it (which validates every descriptor in it)
// and maps it, and the guest instruction simply runs again. A page that cannot be mapped turns the
// fault into a #PF for the guest at the LDT's linear address, as on Xen. References are dropped
// when the LDT changes.
#pragma once

#include "hv/core/types.hpp"

namespace hv::pv {

struct Vcpu;

// MMUEXT_SET_LDT: 0 or -EINVAL (base not page aligned or not a guest address, more than 8192
// entries). A different LDT drops the frames of the old one.
long set_ldt(Vcpu& vcpu, u64 base, u64 entries);
// Drops every LDT frame reference the vCPU holds; true if any page was mapped.
bool release_ldt_frames(Vcpu& vcpu);

enum class LdtFault : u8 { NotLdt, Fixed, Bounce };
// A #PF at hypervisor address `cr2` from guest context: Fixed when it was a lazy LDT mapping now
// done (retry the instruction); Bounce when it hit the LDT window but the page cannot be mapped
// (`guest_cr2` is then the LDT linear address to report); NotLdt otherwise.
LdtFault handle_ldt_fault(Vcpu& vcpu, u64 cr2, u64& guest_cr2);

}  // namespace hv::pv
