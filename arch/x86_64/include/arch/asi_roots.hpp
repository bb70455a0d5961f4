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
// pointer is copied in once (asi_root_cr3). So a guest user/kernel switch is one CR3 load and
// never a copy. Shadow frames come from the domain pool (never in the directmap) and are
// reached through the mapcache.
#pragma once

#include "arch/pcid.hpp"
#include "hv/core/addr.hpp"
#include "hv/core/result.hpp"
#include "hv/core/types.hpp"
#include "hv/pv/domain.hpp"

namespace hv::arch {

// Allocates and fills the vCPU's shadow roots (no-op without vcpu-pt).
Result<void, const char*> asi_create_vcpu_roots(pv::Vcpu& vcpu);
// asi_root_cr3 when a shadow must be re-copied or PCIDs are in use (asi_roots.cpp).
u64 asi_root_cr3_slow(pv::Vcpu& vcpu);

// The CR3 value for the vCPU's current mode: its shadow root (with PCID and no-flush bit when
// PCIDs are in use), or without vcpu-pt its guest L4. Re-copies a shadow whose guest L4 changed
// since it was last synced: both shadows, so neither ever mirrors a guest L4 the vCPU has let
// go (the audit walks both). Inline: every guest user/kernel switch (syscall, iret, bounce)
// comes here, and the common case (both shadows current, no PCIDs) is a few loads and compares
// with no call and no stack frame.
// Whether both shadows mirror the guest L4s the vCPU has chosen (nothing to re-copy).
inline bool asi_shadows_current(const pv::Vcpu& vcpu) {
    return vcpu.asi_synced[0] == vcpu.kernel_cr3 && vcpu.asi_synced[1] == vcpu.user_cr3;
}

inline u64 asi_root_cr3(pv::Vcpu& vcpu) {
    const bool kernel = vcpu.kernel_mode;
    if (vcpu.asi_root[0] == 0) return kernel ? vcpu.kernel_cr3 : vcpu.user_cr3;
    if (!asi_shadows_current(vcpu) || pcids_in_use()) [[unlikely]]
        return asi_root_cr3_slow(vcpu);
    return vcpu.asi_root[kernel ? 0 : 1];
}

// asi_root_cr3 for a guest user/kernel switch (switch_guest_mode): checks only the shadow it
// loads. The other one is current already: the guest's chosen L4s change only by a new base
// pointer, which reloads through asi_root_cr3 at once (set_root), or while the vCPU is down
// (VCPUOP_initialise), and load_vcpu checks both; neither happens between two mode switches. The
// shadow loaded is always checked, so a stale one is never loaded.
inline u64 asi_mode_root_cr3(pv::Vcpu& vcpu) {
    const unsigned which = vcpu.kernel_mode ? 0 : 1;
    const u64 guest = which == 0 ? vcpu.kernel_cr3 : vcpu.user_cr3;
    const u64 shadow = vcpu.asi_root[which];
    if (shadow == 0) return guest;
    if (vcpu.asi_synced[which] != guest || pcids_in_use()) [[unlikely]]
        return asi_root_cr3_slow(vcpu);
    return shadow;
}
// asi_switch_in for a vCPU whose shadows show another pCPU's windows (asi_roots.cpp).
void asi_switch_in_moved(pv::Vcpu& vcpu, unsigned cpu);
// Switch-in on `cpu`: points slot 261 of the shadows at that pCPU's windows (if it moved). The
// test is inline: on most full switches the vCPU stays on its pCPU and nothing is written.
inline void asi_switch_in(pv::Vcpu& vcpu, unsigned cpu) {
    if (vcpu.asi_root[0] == 0 || vcpu.asi_cpu == static_cast<i32>(cpu)) return;
    asi_switch_in_moved(vcpu, cpu);
}
// Re-copies the guest slots of both shadows from the vCPU's guest L4s (a root-resync request).
void asi_resync(pv::Vcpu& vcpu);
// The page-type engine wrote `value` into entry `index` of guest L4 `l4`.
void asi_l4_entry_written(Mfn l4, unsigned index, u64 value);

}  // namespace hv::arch
