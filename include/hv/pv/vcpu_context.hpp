// SPDX-License-Identifier: MIT
// VCPUOP_initialise: checking a guest's struct vcpu_guest_context and loading it into a vCPU
// that has never run. [pv-abi.md §3.15]
#pragma once

#include "hv/core/types.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {

struct Vcpu;
class PageTypeEngine;

// The checks that need no frame references, in Xen's order: canonical RIP, RSP, kernel_sp,
// segment bases, callbacks and trap handlers; the LDT (Isola gives none: a non-empty one is
// refused); at most 14 GDT frames; DR0-3 guest addresses and DR6/DR7 as set_debugreg accepts
// them; a user root when the context is not in kernel mode. 0 or -EINVAL.
long check_vcpu_context(const xen::VcpuGuestContext& context);

// Takes the references the context needs (GDT frames as segment-descriptor pages, ctrlreg[3]
// and a non-zero ctrlreg[1] as L4 roots: frames of this domain that validate) and loads the
// context into `vcpu`: registers, traps, callbacks, stack, roots, GDT, debug registers, segment
// state and a clean x87/SSE image. -EINVAL with nothing taken on any failure.
// Precondition: check_vcpu_context passed; the domain's mm_lock is held; vcpu is not initialised.
long load_vcpu_context(Vcpu& vcpu, PageTypeEngine& engine, const xen::VcpuGuestContext& context);

// The x87/SSE state VCPUOP_initialise gives a vCPU: the context's FXSAVE image (fpu_ctxt) with
// VGCF_I387_VALID, else the default state; an image whose MXCSR this CPU would refuse also gives
// the default state (what Xen's restore falls back to).
void load_fpu_image(u8 (&area)[512], const xen::VcpuGuestContext& context);
// The x87/SSE image of a vCPU that never ran: FNINIT state, MXCSR 0x1f80, every register zero.
void reset_fxsave_area(u8 (&area)[512]);

}  // namespace hv::pv
