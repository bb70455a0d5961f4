// SPDX-License-Identifier: MIT
// asi vcpu-pt: every PV vCPU runs on root tables of its own, never on the guest's L4.
//
// Each vCPU has two shadow roots, kernel ([0]) and user ([1]). Their guest slots (0-255 and
// 272-511, plus 256 which follows the guest L4's read-only M2P entry) mirror the guest's chosen
// L4 (kernel_cr3 / user_cr3); their hypervisor slots are the vCPU's own:
//
//   256      follows the guest L4 (the read-only M2P, as the guest's L4 says)
//   257,259  empty
//   258      self-map of this shadow (the linear page tables of the vCPU's hierarchy)
//   260      the vCPU's own L3 (perdomain_area.hpp: its GDT and LDT windows)
//   261      the slot-261 entry of the pCPU the vCPU runs on (asi.hpp: per-pCPU with cpu-stack)
//   262-271  the directmap (hypervisor pool only)
//
// Both shadows are kept in sync at all times: every write to a guest L4 entry arrives by
// hypercall through the page-type engine, which calls asi_l4_entry_written(), and a new base
// pointer is copied in once (asi_load_root). So a guest user/kernel switch is one CR3 load and
// never a copy. Shadow frames come from the domain pool (never in the directmap) and are
// reached through the mapcache.
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/result.hpp"
#include "hv/core/types.hpp"

namespace hv::pv {
struct Vcpu;
}

namespace hv::arch {

// Allocates and fills the vCPU's shadow roots (no-op without vcpu-pt).
Result<void, const char*> asi_create_vcpu_roots(pv::Vcpu& vcpu);
// The root CR3 must hold for the vCPU's current mode; re-copies a shadow whose guest L4 changed
// since it was last synced. Called by every path that loads a guest address space.
u64 asi_load_root(pv::Vcpu& vcpu);
// Switch-in on `cpu`: points slot 261 of the shadows at that pCPU's windows (if it moved).
void asi_switch_in(pv::Vcpu& vcpu, unsigned cpu);
// Re-copies the guest slots of both shadows from the vCPU's guest L4s (a root-resync request).
void asi_resync(pv::Vcpu& vcpu);
// The page-type engine wrote `value` into entry `index` of guest L4 `l4`.
void asi_l4_entry_written(Mfn l4, unsigned index, u64 value);

}  // namespace hv::arch
