// SPDX-License-Identifier: MIT
// The image's mapcache owners: one per pCPU (slot 261 windows) and, with asi vcpu-pt, one per
// vCPU (slot 260); see mapcache.hpp for which one a mapping uses.
#include "arch/mapcache.hpp"

#include <new>

#include "arch/cpu.hpp"
#include "arch/memory.hpp"
#include "arch/pcid.hpp"
#include "arch/perdomain_area.hpp"
#include "arch/sched.hpp"
#include "arch/smp.hpp"
#include "hv/core/check.hpp"
#include "hv/mm/level.hpp"
#include "hv/pv/domain.hpp"

namespace hv::arch {
namespace {

// One owner's slots and their bitmap. `l3` is the L3 behind slot 260 that shows a vCPU's slots
// (0 for a pCPU's window): its slots may be used only while that L3 is the loaded one.
struct Owner {
    Owner(MapcacheSlots s, u64 area_l3) : slots(s), l3(area_l3), cache(slots) {}
    MapcacheSlots slots;
    u64 l3;
    Mapcache cache;
};

// Raw storage: the image runs no global constructors, so owners are built in place at init.
struct alignas(Owner) OwnerStorage {
    unsigned char bytes[sizeof(Owner)];
};
OwnerStorage cpu_storage[kMaxCpus];
OwnerStorage vcpu_storage[pv::kMaxDomains * pv::kMaxVcpus];
Owner* cpu_owner[kMaxCpus];
Owner* vcpu_owner[pv::kMaxDomains * pv::kMaxVcpus];
// The vCPU owner of the vCPU last fully loaded on each pCPU (nullptr: none, or no vcpu-pt).
Owner* switched_in[kMaxCpus];

static_assert(kMapcacheSlots == 64 && kMaxCpuWindows == kMaxCpus);

// Domain id n lives in slot n - 1 (pv::find_domain), so the id gives the slot without a pointer
// division: mapcache_switch_in asks on every full switch.
unsigned vcpu_index(const pv::Vcpu& vcpu) {
    const unsigned domain = vcpu.domain->id - 1u;
    HV_CHECK(domain < pv::kMaxDomains && vcpu.id < pv::kMaxVcpus);
    return domain * pv::kMaxVcpus + vcpu.id;
}

Owner* build(OwnerStorage& storage, Mfn l1_table, u64 slot0_va, u64 area_l3) {
    const MapcacheSlots slots{l1_table, static_cast<unsigned>(mm::index_of(slot0_va, mm::Level::Pt)), slot0_va};
    return new (storage.bytes) Owner(slots, area_l3);
}

// The vCPU owner whose slots the loaded root shows, or nullptr. One compare of the loaded root's
// slot-260 entry: with vcpu-pt only that vCPU's two roots carry its L3.
Owner* loaded_vcpu_owner(unsigned cpu) {
    Owner* const owner = switched_in[cpu];
    return owner != nullptr && area_loaded(owner->l3) ? owner : nullptr;
}

Mapcache& cache_here(unsigned cpu) {
    if (Owner* owner = loaded_vcpu_owner(cpu)) return owner->cache;
    Owner* const owner = cpu_owner[cpu];
    HV_CHECK(owner != nullptr);
    return owner->cache;
}

}  // namespace

void mapcache_init_cpu(unsigned cpu, Mfn l1_table) {
    cpu_owner[cpu] = build(cpu_storage[cpu], l1_table, mapcache_slot_va(cpu, 0), 0);
}

void mapcache_init_vcpu(const pv::Vcpu& vcpu, Mfn l1_table) {
    const unsigned index = vcpu_index(vcpu);
    const bool no_mapping_survives_a_rebuild = vcpu_owner[index] == nullptr || vcpu_owner[index]->cache.slots_in_use() == 0;
    HV_CHECK(no_mapping_survives_a_rebuild);
    vcpu_owner[index] = build(vcpu_storage[index], l1_table, vcpu_mapcache_slot_va(vcpu.id, 0), vcpu.perdomain_l3);
}

void mapcache_switch_in(const pv::Vcpu& vcpu, unsigned cpu) {
    if (vcpu.asi_root[0] == 0) {  // no vcpu-pt: it runs on its guest's L4s, the pCPU's window serves
        switched_in[cpu] = nullptr;
        return;
    }
    Owner* const owner = vcpu_owner[vcpu_index(vcpu)];
    // A vCPU built without vcpu-pt has no slots of its own (and its L3 is its domain's).
    switched_in[cpu] = owner != nullptr && owner->l3 == vcpu.perdomain_l3 ? owner : nullptr;
}

MappedFrame map_domain_page(Mfn mfn) { return cache_here(current_cpu_index()).map(mfn); }

// Every resume asks (the leak check): the vCPU switched in here is the one resumed, whether or
// not its root is loaded yet.
bool mapcache_all_free(unsigned cpu) {
    const Owner* const vcpu = switched_in[cpu];
    return cpu_owner[cpu]->cache.all_free() && (vcpu == nullptr || vcpu->cache.all_free());
}

void mapcache_active_range(unsigned cpu, u64& first, u64& last) {
    const Owner* const vcpu = loaded_vcpu_owner(cpu);
    first = vcpu != nullptr ? vcpu->slots.base : cpu_owner[cpu]->slots.base;
    last = first + kMapcacheSlots * kPageSize - 1;
}

}  // namespace hv::arch
