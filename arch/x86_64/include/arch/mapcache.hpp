// SPDX-License-Identifier: MIT
// map_domain_page: the one way the hypervisor touches a frame that is not in the directmap
// (every guest frame). A mapping lives as long as its MappedFrame handle, in the slots of one
// owner (the generic core: hv/mm/mapcache.hpp, slot lifetime and nesting there):
//
//   - with asi vcpu-pt, while a vCPU's root is loaded here: that vCPU's own slots in its part of
//     the per-domain slot 260 (vcpu_mapcache_slot_va), behind its own L3, so no other vCPU's
//     roots ever map them. Its root is loaded on one pCPU at a time (asi-reference §8.2
//     property 16, drop_lazy_vcpu), so one owner never runs on two pCPUs at once;
//   - otherwise (no vCPU root loaded: idle roots, the switch path before the new CR3, the domain
//     builder; or asi without vcpu-pt): the pCPU's window in slot 261 (mapcache_slot_va),
//     which cpu-stack confines to that pCPU's roots.
//
// Which one is decided at every map by the loaded root's own slot-260 entry, not by what the
// scheduler believes, so a mapping always lands in the tables CR3 holds. A handle must not
// outlive a CR3 switch (resume() checks that no slot is in use on a return to the guest).
// Invalidation is local: no other pCPU used the slot's VA while it was mapped.
#pragma once

#include "arch/memory.hpp"
#include "arch/pcid.hpp"
#include "arch/pte.hpp"
#include "arch/va_layout.hpp"
#include "hv/core/addr.hpp"
#include "hv/core/types.hpp"
#include "hv/mm/mapcache.hpp"

namespace hv::pv {
struct Vcpu;
}

namespace hv::arch {

// One owner's slots: the L1 table that maps them (hypervisor pool; reached through
// hv_frame_pointer at each write, since its VA changes when boot switches to the final tables),
// the index of slot 0's entry in it, and the VA of slot 0.
struct MapcacheSlots {
    Mfn l1;
    unsigned first_index;
    u64 base;
    Vaddr slot_va(unsigned slot) const { return Vaddr(base + slot * kPageSize); }
    // Inline: every map and unmap does both.
    void write_pte(unsigned slot, u64 entry) {
        u64* const entries = static_cast<u64*>(hv_frame_pointer(l1));
        __atomic_store_n(&entries[first_index + slot], entry, __ATOMIC_RELEASE);
    }
    void invalidate(Vaddr va) { invalidate_page(va.raw()); }  // every PCID that may cache the slot
};

using Mapcache = mm::Mapcache<X86PteFormat, MapcacheSlots, kMapcacheSlots>;
using MappedFrame = Mapcache::MappedFrame;

// Sets up `cpu`'s window: `l1_table` is the L1 that maps it (built by memory_init).
void mapcache_init_cpu(unsigned cpu, Mfn l1_table);
// Sets up `vcpu`'s slots (asi vcpu-pt): `l1_table` is the L1 behind its vcpu_mapcache_slot_va in
// its own L3 (perdomain_init_vcpu). No slot may be in use (a domain is built once).
void mapcache_init_vcpu(const pv::Vcpu& vcpu, Mfn l1_table);
// A full switch loaded `vcpu` on `cpu`: map_domain_page uses its slots once its root is loaded.
void mapcache_switch_in(const pv::Vcpu& vcpu, unsigned cpu);

MappedFrame map_domain_page(Mfn mfn);
// The leak check on every return to a guest: no slot in use in `cpu`'s window nor in the slots
// of the vCPU switched in there. Two bitmap loads, no count.
bool mapcache_all_free(unsigned cpu);
// The VA range [first, last] map_domain_page uses on this pCPU right now (the audit point's
// volatile range).
void mapcache_active_range(unsigned cpu, u64& first, u64& last);

}  // namespace hv::arch
