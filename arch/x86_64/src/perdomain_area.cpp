// SPDX-License-Identifier: MIT
// GDT/LDT windows, shared_info and private-state windows in the per-domain slot through the
// perdomain API (see perdomain_area.hpp).
#include "arch/perdomain_area.hpp"

#include "arch/asi.hpp"
#include "arch/boot_constants.h"
#include "arch/cpu.hpp"
#include "arch/mapcache.hpp"
#include "arch/memory.hpp"
#include "arch/pcid.hpp"
#include "arch/pte.hpp"
#include "arch/vcpu_pt_window.hpp"
#include "hv/core/check.hpp"
#include "hv/mm/linear_map.hpp"
#include "hv/mm/perdomain.hpp"
#include "hv/pv/domain.hpp"

namespace hv::arch {
namespace {

constexpr unsigned kPerdomainSlot = l4_slot_of(kPerdomainBase);
constexpr unsigned kLinearSlot = l4_slot_of(kLinearPtBase);
constexpr unsigned kWindowPages = kVcpuGdtLdtWindow / kPageSize;
static_assert(kPerdomainSlot == 260 && kLinearSlot == 258);

// Tables come from the hypervisor pool like every other hypervisor page table (class Global:
// they describe the layout); the frames they map are the guest's and the pCPU's own.
struct ImageEnv {
    u64* table(Mfn mfn) { return paging_env().table(mfn); }
    Optional<Mfn> alloc_table() { return paging_env().alloc_table(); }
    void free_table(Mfn mfn) { paging_env().free_table(mfn); }
    Optional<Mfn> alloc_page() { return {}; }  // the GDT/LDT windows own no pages
    void free_page(Mfn) {}
    void invalidate(Vaddr va, mm::Level) { invalidate_page(va.raw()); }  // both roots' PCIDs share slot 260
    // Whose tables are loaded here is what the loaded root's own slot 260 says.
    bool loaded(const mm::VcpuRef& vcpu) { return loaded_area_l3() == vcpu.l3.maddr().raw(); }
    u64* linear_entry(mm::Level level, Vaddr va) {
        return reinterpret_cast<u64*>(mm::linear_entry_va(kLinearSlot, level, va.raw()));
    }
};

ImageEnv image_env;
using Api = mm::Perdomain<X86PteFormat, ImageEnv>;
// Built per use: the image runs no global constructors, and the object is two words.
Api api() { return Api(image_env, kPerdomainSlot); }

mm::VcpuRef ref(const pv::Vcpu& vcpu) { return {Maddr(vcpu.perdomain_l3).mfn(), vcpu.domain->id, vcpu.id}; }

u64 l3_entry(u64 l3) { return l3 == 0 ? 0 : X86PteFormat::make_table(mm::Level::Pml4, Maddr(l3).mfn()) & ~X86PteFormat::kUs; }

void load_gdtr(u64 base) {
    struct [[gnu::packed]] {
        u16 limit;
        u64 base;
    } gdtr{HV_GDT_LIMIT, base};
    asm volatile("lgdt %0" ::"m"(gdtr) : "memory");
}

void must(const Api::Outcome& outcome) { HV_CHECK(outcome.ok()); }

// The L1 that maps `va` in the vCPU's slot-260 tables (which exist: created before).
Mfn l1_behind(const pv::Vcpu& vcpu, u64 va) {
    const u64* const l3 = paging_env().table(Maddr(vcpu.perdomain_l3).mfn());
    const u64 l3e = l3[mm::index_of(va, mm::Level::Pdpt)];
    const u64* const l2 = paging_env().table(X86PteFormat::address(mm::Level::Pdpt, l3e).mfn());
    return X86PteFormat::address(mm::Level::Pd, l2[mm::index_of(va, mm::Level::Pd)]).mfn();
}

// vCPU v's mapcache slots in its own L3 (asi vcpu-pt).
bool vcpu_mapcache_init(pv::Vcpu& vcpu) {
    const u64 base = vcpu_mapcache_slot_va(vcpu.id, 0);
    if (!api().create(ref(vcpu), Vaddr(base), kMapcacheSlots, mm::Populate::No).ok()) return false;
    mapcache_init_vcpu(vcpu, l1_behind(vcpu, base));  // every slot empty: the L1 is new
    return true;
}

}  // namespace

Result<void, const char*> perdomain_init_domain(pv::Domain& domain) {
    domain.perdomain_l3 = 0;
    if (asi_policy().vcpu_pt) return {};
    const auto l3 = api().create_l3();
    if (!l3.ok()) return Error{"not enough memory for the per-domain area"};
    domain.perdomain_l3 = l3.value().maddr().raw();
    return {};
}

Result<void, const char*> perdomain_init_vcpu(pv::Vcpu& vcpu) {
    vcpu.perdomain_l3 = vcpu.domain->perdomain_l3;
    if (vcpu.perdomain_l3 == 0) {
        const auto l3 = api().create_l3();
        if (!l3.ok()) return Error{"not enough memory for the vCPU's per-domain area"};
        vcpu.perdomain_l3 = l3.value().maddr().raw();
    }
    const Vaddr private_va(vcpu_private_va(vcpu.id));
    if (!api().create(ref(vcpu), Vaddr(vcpu_gdt_va(vcpu.id)), kWindowPages, mm::Populate::No).ok() ||
        !api().create(ref(vcpu), Vaddr(kSharedInfoVa), 1, mm::Populate::No).ok() ||
        !api().create(ref(vcpu), private_va, 1, mm::Populate::No).ok())
        return Error{"not enough memory for the vCPU's per-domain area"};
    const Mfn shared = vcpu.domain->shared_info;
    if (!api().populate(ref(vcpu), Vaddr(kSharedInfoVa), &shared, 1, mm::Attrs{.write = true}).ok())
        return Error{"cannot map shared_info in the per-domain area"};
    // The vCPU's private state: only in its own L3 with vcpu-pt (vcpu_private.hpp).
    if (!api().populate(ref(vcpu), private_va, &vcpu.private_frame, 1, mm::Attrs{.write = true}).ok())
        return Error{"cannot map the vCPU's private state in the per-domain area"};
    // The domain's private state, in every L3 of the domain (each vCPU's own, or the shared one
    // again: populate replaces what is there with the same frames).
    const Vaddr domain_va(domain_private_va());
    if (!api().create(ref(vcpu), domain_va, pv::kDomainPrivatePages, mm::Populate::No).ok() ||
        !api().populate(ref(vcpu), domain_va, vcpu.domain->private_frames, pv::kDomainPrivatePages,
                        mm::Attrs{.write = true})
             .ok())
        return Error{"cannot map the domain's private state in the per-domain area"};
    // Only behind the vCPU's own L3: its root is then loaded on one pCPU at a time, and a pCPU
    // leaves it with a CR3 load, so the local INVLPG of a replaced window page is complete.
    // Without vcpu-pt a pCPU may keep the domain's root lazily while the vCPU runs elsewhere
    // and come back to it without a flush: no window (map_domain_page instead).
    vcpu.pt_window_l1 = 0;
    if (asi_policy().vcpu_pt && !pt_window_init(vcpu)) return Error{"not enough memory for the vCPU's per-domain area"};
    // Its own mapcache, for the same reason: only in its own L3, one pCPU at a time (mapcache.hpp).
    if (asi_policy().vcpu_pt && !vcpu_mapcache_init(vcpu)) return Error{"not enough memory for the vCPU's per-domain area"};
    return {};
}


bool pt_window_init(pv::Vcpu& vcpu) {
    const u64 base = vcpu_pt_window_va(vcpu.id);
    if (!api().create(ref(vcpu), Vaddr(base), kPtWindowSlots, mm::Populate::No).ok()) return false;
    // The window's pages share one L1 (16 pages never cross 2 MiB): found once, written directly.
    const u64* const l3 = paging_env().table(Maddr(vcpu.perdomain_l3).mfn());
    const u64 l3e = l3[mm::index_of(base, mm::Level::Pdpt)];
    const u64* const l2 = paging_env().table(X86PteFormat::address(mm::Level::Pdpt, l3e).mfn());
    vcpu.pt_window_l1 = X86PteFormat::address(mm::Level::Pd, l2[mm::index_of(base, mm::Level::Pd)]).raw();
    for (u64& frame : vcpu.pt_window_mfn) frame = pv::kNoFrame;  // the new L1 maps nothing yet
    return true;
}

bool domain_area_loaded(const pv::Domain& domain) {
    const u64 l3 = loaded_area_l3();
    if (l3 == 0) return false;
    if (l3 == domain.perdomain_l3) return true;
    for (unsigned v = 0; v < domain.vcpu_count; ++v)
        if (l3 == domain.vcpus[v].perdomain_l3) return true;
    return false;
}

u64 perdomain_l4_entry(const pv::Vcpu& vcpu) { return l3_entry(vcpu.perdomain_l3); }

u64 perdomain_guest_l4_entry(Mfn l4) {
    const pv::Domain* domain = pv::find_domain(static_cast<u16>(frame_allocator().info(l4).class_id));
    return domain == nullptr ? 0 : l3_entry(domain->perdomain_l3);
}

void load_cpu_gdt(unsigned cpu) { load_gdtr(cpu_gdt_base(cpu)); }

void load_vcpu_gdt(pv::Vcpu& vcpu, unsigned cpu) {
    const u64 base = vcpu_gdt_va(vcpu.id);
    const Mfn zero = memory_summary().zero_frame;
    Mfn frames[pv::kMaxGdtFrames];
    for (unsigned page = 0; page < pv::kMaxGdtFrames; ++page)
        frames[page] = page < vcpu.gdt_frame_count ? Mfn(vcpu.gdt_frames[page]) : zero;
    // Guest GDT frames are writable for the CPU (descriptor accessed bits), never for the guest;
    // the zero frame stays read-only. Both populate calls replace what was there.
    const unsigned count = vcpu.gdt_frame_count;
    if (count > 0) must(api().populate(ref(vcpu), Vaddr(base), frames, count, mm::Attrs{.write = true}));
    if (count < pv::kMaxGdtFrames)
        must(api().populate(ref(vcpu), Vaddr(base + count * kPageSize), frames + count, pv::kMaxGdtFrames - count,
                                mm::Attrs{}));
    const Mfn reserved = memory_summary().gdt_reserved[cpu];
    must(api().populate(ref(vcpu), Vaddr(base + kGdtReservedPage * kPageSize), &reserved, 1,
                            mm::Attrs{.write = true}));
    load_gdtr(base);
}

void map_vcpu_ldt(pv::Vcpu& vcpu) {
    const u64 base = vcpu_ldt_va(vcpu.id);
    // The usual case (no LDT page faulted in yet, e.g. every SET_LDT that replaced an unused
    // LDT): one pass over the window instead of one walk per page.
    u64 any_frame = 0;
    for (const u64 frame : vcpu.ldt_frames) any_frame |= frame;
    if (any_frame == 0) {
        must(api().destroy(ref(vcpu), Vaddr(base), pv::kMaxLdtPages));
        return;
    }
    for (unsigned page = 0; page < pv::kMaxLdtPages; ++page) {
        const Vaddr va(base + page * kPageSize);
        const Mfn frame(vcpu.ldt_frames[page]);
        if (vcpu.ldt_frames[page] != 0) must(api().populate(ref(vcpu), va, &frame, 1, mm::Attrs{.write = true}));
        else must(api().destroy(ref(vcpu), va, 1));
    }
}

}  // namespace hv::arch
