// SPDX-License-Identifier: MIT
// The per-domain slot (L4 260) in the image: each vCPU's GDT and LDT windows, mapped through the
// perdomain API (hv/mm/perdomain.hpp), at Xen's addresses (a guest's SGDT shows
// 0xffff820000000000 for vCPU 0, as on Xen). [pv-abi.md §1.10; asi-reference §2.1]
//
//   vCPU v:  kPerdomainBase + v * 128 KiB
//            GDT pages 0-13   the guest's GDT frames (set_gdt), else one shared zero frame, read-only
//            GDT page 14      Xen's reserved page: the reserved GDT frame of the pCPU v runs on
//            GDT page 15      unmapped
//            LDT pages 0-15   (64 KiB above) the guest's LDT frames, mapped lazily on first use
//            private state    vcpu_private_va(v): the vCPU's private page (hv/pv/vcpu_private.hpp)
//
// With asi vcpu-pt each vCPU has an L3 of its own behind slot 260 (in its shadow roots); without,
// the vCPUs of a domain share the domain's L3 (in every guest L4 of the domain). While no vCPU is
// loaded, and across every CR3 switch, GDTR points at the pCPU's own GDT window in slot 261,
// which maps the same reserved page: the hypervisor's selectors and the TSS stay valid in any root.
#pragma once

#include "arch/pte.hpp"
#include "arch/va_layout.hpp"
#include "hv/core/addr.hpp"
#include "hv/core/result.hpp"
#include "hv/core/types.hpp"
#include "hv/mm/linear_map.hpp"
#include "hv/pv/domain.hpp"

namespace hv::arch {

// Addresses: the sub-area table of the per-domain slot in va_layout.hpp.

// The domain's shared L3 (without vcpu-pt); call before its first L4 is validated.
Result<void, const char*> perdomain_init_domain(pv::Domain& domain);
// The vCPU's L3 (its own with vcpu-pt), its reserved GDT/LDT windows and its private-state window
// (vcpu.private_frame must exist).
Result<void, const char*> perdomain_init_vcpu(pv::Vcpu& vcpu);
// The L4 slot-260 entry of the roots `vcpu` runs on (its own L3, or its domain's).
u64 perdomain_l4_entry(const pv::Vcpu& vcpu);
// The slot-260 entry guest L4 `l4` gets at validation: the owning domain's shared L3 without
// vcpu-pt, nothing with it (those L4s are never loaded).
u64 perdomain_guest_l4_entry(Mfn l4);

// The L3 behind slot 260 of the root loaded on this pCPU (its own entry, read through the
// slot-258 self-map), or 0: the one answer to "whose per-domain area is loaded here". Inline:
// every exit to a guest asks it (vcpu_area_loaded, through the vcpu_info accessors).
inline u64 loaded_area_l3() {
    constexpr u64 kEntryVa = mm::linear_entry_va(l4_slot_of(kLinearPtBase), mm::Level::Pml4, kPerdomainBase);
    const u64 entry = *reinterpret_cast<const volatile u64*>(kEntryVa);
    return X86PteFormat::present(mm::Level::Pml4, entry) ? X86PteFormat::address(mm::Level::Pml4, entry).raw() : 0;
}
// Whether the area behind L3 `area_l3` (a vCPU's or a domain's perdomain_l3) is the loaded one.
inline bool area_loaded(u64 area_l3) {
    const u64 l3 = loaded_area_l3();
    return l3 != 0 && l3 == area_l3;
}

// Whether the loaded root's slot 260 is `domain`'s area (its L3, or one of its vCPUs'), so
// kSharedInfoVa shows its shared_info.
bool domain_area_loaded(const pv::Domain& domain);
// The same for one vCPU's area (its own L3 with vcpu-pt, else its domain's): one compare, for the
// hot paths that ask about the running vCPU.
inline bool vcpu_area_loaded(const pv::Vcpu& vcpu) {
    const u64 l3 = loaded_area_l3();
    return l3 != 0 && l3 == vcpu.perdomain_l3;
}

// GDTR on this pCPU's own window: before any CR3 switch, and whenever no vCPU is loaded.
void load_cpu_gdt(unsigned cpu);
// With the vCPU's root loaded on `cpu`: maps its GDT frames and the pCPU's reserved page in its
// window and points GDTR there.
void load_vcpu_gdt(pv::Vcpu& vcpu, unsigned cpu);
// Maps the vCPU's LDT frames (0: not present) in its LDT window.
void map_vcpu_ldt(pv::Vcpu& vcpu);

}  // namespace hv::arch
