// SPDX-License-Identifier: MIT
// Platform side of the PV memory hypercalls: the page-type engine's environment (guest frames
// through the mapcache, descriptors from the frame table) and TLB maintenance.
#include "arch/asi_roots.hpp"
#include "arch/cpu.hpp"
#include "arch/mapcache.hpp"
#include "arch/pcid.hpp"
#include "arch/perdomain_area.hpp"
#include "arch/memory.hpp"
#include "arch/pte.hpp"
#include "arch/va_layout.hpp"
#include "arch/vcpu_pt_window.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/descriptors.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/xen_abi.hpp"
#include "hv/pv/vcpu_registers.hpp"
#include "arch/flush.hpp"
#include "arch/sched.hpp"
#include "arch/smp.hpp"
#include "hv/mm/linear_map.hpp"

namespace hv::pv {
namespace {

mm::FrameInfo* frame(void*, Mfn mfn) { return arch::frame_allocator().find(mfn); }

u64 read_entry(void*, Mfn table, unsigned index) {
    const arch::MappedFrame page = arch::map_domain_page(table);
    return __atomic_load_n(&page.as<u64>()[index], __ATOMIC_RELAXED);
}

void store_entry(Mfn table, unsigned index, u64 value) {
    const arch::MappedFrame page = arch::map_domain_page(table);
    __atomic_store_n(&page.as<u64>()[index], value, __ATOMIC_RELEASE);
}

// Every guest L4 write arrives here: the vCPUs' shadow roots follow it entry by entry.
void entry_written(Mfn table, unsigned index, u64 value) {
    if (stored_type(arch::frame_allocator().info(table)) == PageType::L4) arch::asi_l4_entry_written(table, index, value);
}

void write_entry(void*, Mfn table, unsigned index, u64 value) {
    store_entry(table, index, value);
    entry_written(table, index, value);
}

// With asi vcpu-pt every vCPU has a page-table word window (vcpu_pt_window.hpp).
u64 read_entry_windowed(void*, Mfn table, unsigned index) { return arch::read_guest_table_word(table, index); }

void write_entry_windowed(void*, Mfn table, unsigned index, u64 value) {
    arch::write_guest_table_word(table, index, value);
    entry_written(table, index, value);
}

// Slots 256-271 of every guest L4 are the idle root's, except 258: the L4's own linear map,
// supervisor-only and never executable. [pv-abi.md §5.4]
u64 hypervisor_l4_entry(void*, Mfn l4, unsigned slot) {
    using F = arch::X86PteFormat;
    if (slot == arch::l4_slot_of(arch::kLinearPtBase)) return l4.maddr().raw() | F::kP | F::kRw | F::kA | F::kD | F::kXd;
    if (slot == arch::l4_slot_of(arch::kPerdomainBase)) return arch::perdomain_guest_l4_entry(l4);
    // The read-only M2P: filled at validation only with m2p_strict; otherwise when the L4
    // becomes a kernel root (set_guest_m2p_slot). [pv-abi.md §5.4, L4 slot 256]
    if (slot == arch::kHypervisorFirstSlot) {
        const mm::FrameInfo& info = arch::frame_allocator().info(l4);
        const Domain* domain = find_domain(static_cast<u16>(info.class_id));
        if (domain == nullptr || !vm_assist_enabled(*domain, xen::kVmAsstTypeM2pStrict)) return 0;
    }
    return arch::paging_env().table(arch::memory_summary().idle_root)[slot];
}

// Every pCPU that may hold the domain's translations. Guest entries are never global
// (adjust_entry strips G), so a CR3 reload is complete.
void flush_stale(void* context, Mfn) { arch::flush_domain(*static_cast<Domain*>(context), sched::kFlushTlb); }

bool descriptors_ok(void*, Mfn table) {
    const arch::MappedFrame page = arch::map_domain_page(table);
    return check_descriptor_page(page.as<u64>());
}

// update_va_mapping's fast walk: the guest's tables read through slot 258, the linear page
// tables of the loaded root. The loaded root is `root` itself (no vcpu-pt) or the loaded vCPU's
// kernel shadow when that mirrors `root` (vcpu-pt: its guest slots are root's, asi_roots.hpp).
// Every translation in the window goes through the guest's validated entries only, which the
// engine checks level by level before it reads through them; they are the same
// paging-structure entries the guest's own accesses use, so the TLB rules that keep the guest
// from reaching a frame through a stale entry (the flushes after every table change and type
// change) keep these reads on the tables the entries name.
constexpr u64 kCr3Address = 0x000f'ffff'ffff'f000;  // without the PCID and flag bits

// With vcpu-pt the loaded root is a shadow: it shows `root`'s entries when it is the kernel
// shadow of the vCPU loaded on `cpu` and mirrors `root`.
bool shadow_mirrors(unsigned cpu, u64 loaded, u64 root) {
    const Vcpu* vcpu = arch::loaded_vcpu(cpu);
    return vcpu != nullptr && vcpu->asi_root[0] == loaded && vcpu->asi_synced[0] == root;
}

// Off the pCPU stacks (the domain builder on the boot stack): the APIC says which pCPU.
[[gnu::cold, gnu::noinline]] bool root_loaded_off_stack(Mfn root) {
    const u64 loaded = arch::read_cr3() & kCr3Address;
    return loaded == root.maddr().raw() || shadow_mirrors(arch::current_cpu_index(), loaded, root.maddr().raw());
}

// Every update_va_mapping asks: no call and no stack frame on a hypercall (a pCPU stack).
bool root_loaded(void*, Mfn root) {
    const u64 loaded = arch::read_cr3() & kCr3Address;
    if (loaded == root.maddr().raw()) return true;
    const u64 cpu = arch::cpu_index_from_stack();
    if (cpu >= arch::kMaxCpus) [[unlikely]]
        return root_loaded_off_stack(root);
    return shadow_mirrors(static_cast<unsigned>(cpu), loaded, root.maddr().raw());
}

// A hypercall of `vcpu` under vcpu-pt (vcpu_engine): the loaded root shows `root`'s entries when
// CR3 names the vCPU's own kernel shadow and that mirrors `root`. No need to find the loaded vCPU
// first (shadow_mirrors): a shadow root is that vCPU's alone, so CR3 naming it means it is the
// root loaded here, and its guest slots mirror asi_synced[0] by the same invariant the lookup
// relies on (asi_roots.hpp: sync_shadow and asi_l4_entry_written keep them equal). So the
// stack-window pCPU index and the loaded-vCPU load are work this check provably does not need.
// A guest L4 itself is CR3 with vcpu-pt only for a vCPU without shadows (asi_root[0] == 0, never
// a running one): that, the user shadow and any other root answer "no", which is always safe
// (the engine then walks through mapped frames). Nothing here reads guest input unchecked: `root`
// is the validated L4 the engine asks about.
bool vcpu_root_loaded(void* context, Mfn root) {
    const Vcpu& vcpu = *static_cast<const Vcpu*>(context);
    return (arch::read_cr3() & kCr3Address) == vcpu.asi_root[0] && vcpu.asi_synced[0] == root.maddr().raw();
}

template <mm::Level kLevel>
u64 read_linear(u64 va) {
    constexpr unsigned kSelf = arch::l4_slot_of(arch::kLinearPtBase);
    constexpr u64 kWindow = mm::linear_entry_va(kSelf, kLevel, 0);
    const u64 address = kWindow + ((va & ((u64{1} << 48) - 1)) >> mm::level_shift(kLevel)) * sizeof(u64);
    return __atomic_load_n(reinterpret_cast<const u64*>(address), __ATOMIC_RELAXED);
}

u64 read_loaded_entry(void*, u64 va, mm::Level level) {
    switch (level) {
        case mm::Level::Pml4: return read_linear<mm::Level::Pml4>(va);
        case mm::Level::Pdpt: return read_linear<mm::Level::Pdpt>(va);
        case mm::Level::Pd: return read_linear<mm::Level::Pd>(va);
        case mm::Level::Pt: return read_linear<mm::Level::Pt>(va);
    }
    __builtin_unreachable();
}

// The vcpu_engine's context is the vCPU: the same flush, for its domain.
void flush_stale_vcpu(void* context, Mfn) { arch::flush_domain(*static_cast<Vcpu*>(context)->domain, sched::kFlushTlb); }

// A domain without a shared per-domain L3 gives each vCPU its own (asi vcpu-pt), and with it a
// page-table word window; a vCPU without one yet (domain build) just maps. One branch and a
// constant environment on each side (not a select per pointer): every memory hypercall builds one.
bool windowed(const Domain& domain) { return domain.perdomain_l3 == 0; }

PageTypeEngine plain_engine(Domain& domain) {
    return PageTypeEngine({&domain, frame, read_entry, write_entry, hypervisor_l4_entry, flush_stale, descriptors_ok,
                           root_loaded, read_loaded_entry},
                          domain.id);
}

}  // namespace

PageTypeEngine domain_engine(Domain& domain) {
    if (!windowed(domain)) return plain_engine(domain);
    return PageTypeEngine({&domain, frame, read_entry_windowed, write_entry_windowed, hypervisor_l4_entry, flush_stale,
                           descriptors_ok, root_loaded, read_loaded_entry},
                          domain.id);
}

PageTypeEngine vcpu_engine(Vcpu& vcpu) {
    Domain& domain = *vcpu.domain;
    if (!windowed(domain)) return plain_engine(domain);
    return PageTypeEngine({&vcpu, frame, read_entry_windowed, write_entry_windowed, hypervisor_l4_entry,
                           flush_stale_vcpu, descriptors_ok, vcpu_root_loaded, read_loaded_entry},
                          domain.id);
}

void set_guest_m2p_slot(Mfn l4, bool present) {
    const unsigned slot = arch::kHypervisorFirstSlot;
    write_entry(nullptr, l4, slot, present ? arch::paging_env().table(arch::memory_summary().idle_root)[slot] : 0);
}

void flush_guest_tlb(Vcpu& vcpu) { arch::flush_domain(*vcpu.domain, sched::kFlushTlb); }
void invalidate_guest_page(Vcpu& vcpu, u64 va) { arch::flush_domain(*vcpu.domain, sched::kFlushVa, va); }

void flush_guest_tlb_mask(Vcpu& vcpu, u32 flags, u64 va, u64 vcpu_mask, bool local_only) {
    if (!local_only) return arch::flush_domain(*vcpu.domain, flags, va, vcpu_mask);
    // This pCPU has the caller's tables loaded (it runs it); its shadows already follow every L4
    // write, so no resync (flush_domain says why).
    if ((flags & (sched::kFlushTlb | sched::kFlushTlbGlobal)) != 0) arch::flush_tlb_all();
    else if ((flags & sched::kFlushVa) != 0) arch::invalidate_page(va);
}

void release_root_elsewhere(Vcpu& vcpu) { arch::drop_lazy_vcpu(vcpu); }
// A shadow root carries its PCID (and may keep its TLB entries); a guest L4 is loaded as is.
void reload_guest_root(Vcpu& vcpu) { arch::write_cr3(arch::asi_root_cr3(vcpu)); }
void set_guest_m2p(Mfn mfn, u64 pfn) { arch::set_m2p(mfn, pfn); }
u64 machine_frame_limit() { return arch::memory_summary().frame_count; }

u64 read_frame_word(Mfn mfn, unsigned index) { return read_entry(nullptr, mfn, index); }
void write_frame_word(Mfn mfn, unsigned index, u64 value) { write_entry(nullptr, mfn, index, value); }

void clear_frame(Mfn mfn) {
    const arch::MappedFrame page = arch::map_domain_page(mfn);
    __builtin_memset(page.bytes(), 0, kPageSize);
}

void copy_frame(Mfn destination, Mfn source) {
    const arch::MappedFrame from = arch::map_domain_page(source);
    const arch::MappedFrame to = arch::map_domain_page(destination);
    __builtin_memcpy(to.bytes(), from.bytes(), kPageSize);
}

void copy_frame_bytes(Mfn destination, unsigned destination_offset, Mfn source, unsigned source_offset,
                      unsigned length) {
    const arch::MappedFrame from = arch::map_domain_page(source);
    const arch::MappedFrame to = arch::map_domain_page(destination);
    __builtin_memmove(to.bytes() + destination_offset, from.bytes() + source_offset, length);
}

void load_guest_gdt(Vcpu& vcpu) {
    arch::load_vcpu_gdt(vcpu, arch::current_cpu_index());
    load_guest_ldt(vcpu);
}

u64 guest_ldt_window(const Vcpu& vcpu) { return arch::vcpu_ldt_va(vcpu.id); }

void load_guest_ldt(Vcpu& vcpu) {
    arch::map_vcpu_ldt(vcpu);
    load_guest_ldtr(vcpu);
}

void load_guest_ldtr(Vcpu& vcpu) {
    // The LDT descriptor lives in the pCPU's reserved GDT page, reached through its own window.
    const unsigned cpu = arch::current_cpu_index();
    arch::load_ldt(reinterpret_cast<u64*>(arch::cpu_gdt_base(cpu) + arch::kGdtReservedPage * kPageSize),
                   arch::vcpu_ldt_va(vcpu.id), vcpu.ldt_ents);
}

}  // namespace hv::pv
