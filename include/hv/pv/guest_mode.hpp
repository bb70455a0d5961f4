// SPDX-License-Identifier: MIT
// What PV logic needs from the platform about the running vCPU: its mode switch (CR3 and GS
// bases) and its shared vcpu_info fields. The image implements these in arch/x86_64; host
// tests use fakes.
#pragma once

#include "hv/core/types.hpp"

namespace hv::pv {

struct Vcpu;

// Switches between guest kernel and user mode: loads that mode's root and swaps the GS bases.
void switch_guest_mode(Vcpu& vcpu, bool to_kernel);

// vcpu_info.evtchn_upcall_mask (the virtual interrupt flag: 1 = masked) and arch.cr2.
u8 read_upcall_mask(Vcpu& vcpu);
void write_upcall_mask(Vcpu& vcpu, u8 mask);
void write_guest_cr2(Vcpu& vcpu, u64 cr2);

}  // namespace hv::pv
