// SPDX-License-Identifier: MIT
// Per-vCPU shadow roots for asi vcpu-pt (see asi_roots.hpp for the slot plan).
#include "arch/asi_roots.hpp"

#include "arch/asi.hpp"
#include "arch/cpu.hpp"
#include "arch/mapcache.hpp"
#include "arch/memory.hpp"
#include "arch/pcid.hpp"
#include "arch/perdomain_area.hpp"
#include "arch/pte.hpp"
#include "arch/va_layout.hpp"
#include "hv/core/counters.hpp"
#include "hv/mm/linear_map.hpp"
#include "hv/pv/domain.hpp"

namespace hv::arch {
namespace {

constexpr unsigned kSlotCount = 512;
constexpr unsigned kRoM2pSlot = kHypervisorFirstSlot;

// Slots the guest's L4 decides: everything outside 257-271.
constexpr bool guest_slot(unsigned slot) { return slot <= kRoM2pSlot || slot > kHypervisorLastSlot; }

// Frame class id of a vCPU's private frames: domain in the high half, vCPU in the low half.
u32 vcpu_class_id(const pv::Vcpu& vcpu) { return (u32{vcpu.domain->id} << 16) | vcpu.id; }

void fill_hypervisor_slots(u64* root, Mfn self, const pv::Vcpu& vcpu) {
    const u64* idle = paging_env().table(memory_summary().idle_root);
    for (unsigned slot = kHypervisorFirstSlot + 1; slot <= kHypervisorLastSlot; ++slot) root[slot] = 0;
    for (unsigned slot = l4_slot_of(kDirectmapBase); slot <= kHypervisorLastSlot; ++slot) root[slot] = idle[slot];
    root[l4_slot_of(kLinearPtBase)] = self.maddr().raw() | X86PteFormat::kP | X86PteFormat::kRw | X86PteFormat::kXd;
    root[l4_slot_of(kPerdomainBase)] = perdomain_l4_entry(vcpu);
}

// Copies the guest slots of guest L4 `l4` (0: none, all guest slots empty) into shadow `which`.
void sync_shadow(pv::Vcpu& vcpu, unsigned which, u64 l4) {
    const MappedFrame shadow = map_domain_page(Maddr(vcpu.asi_root[which]).mfn());
    u64* to = shadow.as<u64>();
    if (l4 == 0) {
        for (unsigned slot = 0; slot < kSlotCount; ++slot)
            if (guest_slot(slot)) to[slot] = 0;
    } else {
        const MappedFrame guest = map_domain_page(Maddr(l4).mfn());
        const u64* from = guest.as<u64>();
        for (unsigned slot = 0; slot < kSlotCount; ++slot)
            if (guest_slot(slot)) __atomic_store_n(&to[slot], __atomic_load_n(&from[slot], __ATOMIC_RELAXED), __ATOMIC_RELAXED);
    }
    vcpu.asi_synced[which] = l4;
    pcid_shadow_changed(vcpu, which);  // its PCID may cache what the shadow mapped before
    count_event(Event::RootResync);
}

}  // namespace

Result<void, const char*> asi_create_vcpu_roots(pv::Vcpu& vcpu) {
    vcpu.asi_cpu = -1;
    if (!asi_policy().vcpu_pt) return {};
    const mm::FrameUse use{mm::FrameOwner::Hypervisor, mm::FrameClass::PerVcpu, vcpu_class_id(vcpu)};
    for (unsigned which = 0; which < 2; ++which) {
        const Optional<Mfn> frame = frame_allocator().alloc(mm::Pool::Domain, use);
        if (!frame) return Error{"not enough memory for the vCPU's root tables"};
        const MappedFrame page = map_domain_page(frame.value());
        u64* root = page.as<u64>();
        for (unsigned slot = 0; slot < kSlotCount; ++slot) root[slot] = 0;
        fill_hypervisor_slots(root, frame.value(), vcpu);
        vcpu.asi_root[which] = frame.value().maddr().raw();
        vcpu.asi_synced[which] = 0;
    }
    return {};
}

// A guest chose another L4 since the last sync, or PCIDs are in use: the out-of-line part of
// asi_root_cr3. Re-copies the shadows that mirror an old L4, then adds the root's PCID.
u64 asi_root_cr3_slow(pv::Vcpu& vcpu) {
    const u64 wanted[2] = {vcpu.kernel_cr3, vcpu.user_cr3};
    for (unsigned which = 0; which < 2; ++which)
        if (vcpu.asi_synced[which] != wanted[which]) sync_shadow(vcpu, which, wanted[which]);
    const unsigned which = vcpu.kernel_mode ? 0 : 1;
    return pv_root_cr3(vcpu, which, vcpu.asi_root[which]);
}

void asi_resync(pv::Vcpu& vcpu) {
    if (vcpu.asi_root[0] == 0) return;
    sync_shadow(vcpu, 0, vcpu.kernel_cr3);
    sync_shadow(vcpu, 1, vcpu.user_cr3);
}

void asi_switch_in_moved(pv::Vcpu& vcpu, unsigned cpu) {
    const unsigned slot = l4_slot_of(kImageBase);
    for (unsigned which = 0; which < 2; ++which) {
        const MappedFrame shadow = map_domain_page(Maddr(vcpu.asi_root[which]).mfn());
        __atomic_store_n(&shadow.as<u64>()[slot], cpu_global_slot_entry(cpu), __ATOMIC_RELEASE);
    }
    vcpu.asi_cpu = static_cast<i32>(cpu);
}

void asi_l4_entry_written(Mfn l4, unsigned index, u64 value) {
    if (!asi_policy().vcpu_pt || !guest_slot(index)) return;
    const mm::FrameInfo& info = frame_allocator().info(l4);
    if (info.owner != mm::FrameOwner::Domain) return;
    pv::Domain* domain = pv::find_domain(static_cast<u16>(info.class_id));
    if (domain == nullptr) return;
    // Every vCPU of the domain whose shadow mirrors this L4, loaded anywhere or not: the caller's
    // shootdown (with a root resync) then reaches the pCPUs that have them loaded.
    // The shadow loaded here (usually the caller's kernel shadow) is written through the self-map
    // of slot 258, which shows the loaded root's own entries: no mapcache slot, no INVLPG.
    const u64 loaded = read_cr3() & 0x000f'ffff'ffff'f000;  // without the PCID bits
    u64* const loaded_entry = reinterpret_cast<u64*>(mm::linear_entry_va(l4_slot_of(kLinearPtBase), mm::Level::Pml4,
                                                                         l4_slot_base(index)));
    for (unsigned v = 0; v < domain->vcpu_count; ++v) {
        pv::Vcpu& vcpu = domain->vcpus[v];
        for (unsigned which = 0; which < 2; ++which) {
            if (vcpu.asi_root[which] == 0 || vcpu.asi_synced[which] != l4.maddr().raw()) continue;
            if (vcpu.asi_root[which] == loaded) {
                __atomic_store_n(loaded_entry, value, __ATOMIC_RELEASE);
                continue;
            }
            const MappedFrame shadow = map_domain_page(Maddr(vcpu.asi_root[which]).mfn());
            __atomic_store_n(&shadow.as<u64>()[index], value, __ATOMIC_RELEASE);
        }
    }
}

}  // namespace hv::arch
