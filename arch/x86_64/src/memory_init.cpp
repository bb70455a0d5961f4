// SPDX-License-Identifier: MIT
// Boot-time memory setup: pools, frame table, idle root page table, and the switch to it.
//
// The boot tables (start.S) identity-map 4 GiB and alias the first GiB at the image base. Here we
// pick the hypervisor pool inside that first GiB (so it is reachable before the switch), put the
// frame table at its start, and build the idle root: image sections with their own permissions,
// the directmap of the hypervisor pool only, the frame table, the per-pCPU stacks with guard
// pages, and the linear self-map. Nothing below slot 256 is mapped: that space is the guests'.
#include "arch/memory.hpp"

#include <new>

#include "arch/asi.hpp"
#include "arch/cpu.hpp"
#include "arch/mapcache.hpp"
#include "arch/pcid.hpp"
#include "arch/va_layout.hpp"
#include "hv/core/check.hpp"
#include "hv/core/console.hpp"

extern "C" char __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[], __data_end[];
extern "C" void* memset(void*, int, hv::usize);

namespace hv::arch {
namespace {

constexpr u64 kBootAliasLimit = 1 * GiB;
constexpr u64 kLowMemoryEnd = 1 * MiB;  // real-mode IVT, BIOS data, EBDA, AP trampoline
constexpr mm::FrameUse kGlobalUse{mm::FrameOwner::Hypervisor, mm::FrameClass::Global, 0};

u64 phys_to_virt_offset = kImageBase;  // the boot alias until the final tables are live
bool paging_live = false;
alignas(mm::FrameAllocator) char allocator_storage[sizeof(mm::FrameAllocator)];
HvPagingEnv env;
MemorySummary summary;

mm::FrameAllocator& allocator() { return *reinterpret_cast<mm::FrameAllocator*>(allocator_storage); }

u64 image_phys_start() { return HV_ABSOLUTE_ADDRESS(__image_phys_start); }
u64 image_phys_end() { return HV_ABSOLUTE_ADDRESS(__image_phys_end); }

// Usable RAM less what must never be handed out.
Result<void, const char*> free_ram(const boot::BootInfo& boot, mm::RangeSet& free) {
    free = boot.ram;
    bool ok = free.remove({0, kLowMemoryEnd});
    ok = ok && free.remove({image_phys_start(), image_phys_end()});
    for (usize i = 0; i < boot.module_count; ++i)
        ok = ok && free.remove({align_down(boot.modules[i].start, kPageSize), align_up(boot.modules[i].end, kPageSize)});
    if (!ok) return Error{"memory map is too fragmented"};
    return {};
}

void hand_out_frames(const boot::BootInfo& boot, const mm::RangeSet& free, mm::Range pool, u64 table_pages) {
    mm::FrameAllocator& frames = allocator();
    const u64 image_start = image_phys_start();
    frames.claim(Maddr(image_start).mfn(), (image_phys_end() - image_start) >> kPageShift,
                 kGlobalUse);
    for (usize i = 0; i < boot.module_count; ++i) {
        const u64 start = align_down(boot.modules[i].start, kPageSize);
        frames.claim(Maddr(start).mfn(), (align_up(boot.modules[i].end, kPageSize) - start) >> kPageShift,
                     mm::FrameUse{mm::FrameOwner::BootModule, mm::FrameClass::Global, static_cast<u32>(i)});
    }
    frames.claim(Maddr(pool.start).mfn(), table_pages, kGlobalUse);
    const u64 pool_rest = pool.start + (table_pages << kPageShift);
    frames.add_free(mm::Pool::Hypervisor, Maddr(pool_rest).mfn(), (pool.end - pool_rest) >> kPageShift);
    for (usize i = 0; i < free.count(); ++i) {
        mm::RangeSet piece;
        (void)piece.add(free[i]);
        (void)piece.remove(pool);  // one range minus one range never needs more than two slots
        for (usize j = 0; j < piece.count(); ++j)
            frames.add_free(mm::Pool::Domain, Maddr(piece[j].start).mfn(), piece[j].size() >> kPageShift);
    }
}

Result<void, const char*> map_or_fail(HvPageTable& table, u64 va, u64 ma, u64 size, mm::Attrs attrs,
                                      mm::PageSize granule) {
    if (!table.map(Vaddr(va), Maddr(ma), size, attrs, granule).ok()) return Error{"cannot build the idle page tables"};
    return {};
}

Result<void, const char*> map_image(HvPageTable& root) {
    struct Section {
        const char* start;
        const char* end;
        mm::Attrs attrs;
    };
    const Section sections[] = {
        {__text_start, __text_end, {.exec = true, .global = true}},
        {__rodata_start, __rodata_end, {.global = true}},
        {__data_start, __data_end, {.write = true, .global = true}},
    };
    for (const Section& s : sections) {
        const u64 va = reinterpret_cast<u64>(s.start);
        HV_TRY(map_or_fail(root, va, va - kImageBase, static_cast<u64>(s.end - s.start), s.attrs, mm::PageSize::k4K));
    }
    return {};
}

Mfn l1_table_of(Mfn root, u64 va);

// Primary and IST stacks of every pCPU, each between unmapped guard pages (va_layout.hpp). Stack
// frames are private to their pCPU: they come from the domain pool, so the directmap never shows
// them; they are zeroed through these mappings once the idle root is live.
Result<void, const char*> map_cpu_stacks(HvPageTable& root, unsigned cpu_count) {
    for (unsigned cpu = 0; cpu < cpu_count; ++cpu) {
        const mm::FrameUse use{mm::FrameOwner::Hypervisor, mm::FrameClass::PerCpu, cpu};
        auto map_stack = [&](u64 base, u64 size) -> Result<void, const char*> {
            for (u64 offset = 0; offset < size; offset += kPageSize) {
                const Optional<Mfn> frame = allocator().alloc(mm::Pool::Domain, use);
                if (!frame) return Error{"not enough memory for the pCPU stacks"};
                HV_TRY(map_or_fail(root, base + offset, frame.value().maddr().raw(), kPageSize, {.write = true},
                                   mm::PageSize::k4K));
            }
            return {};
        };
        HV_TRY(map_stack(cpu_primary_stack_base(cpu), kPrimaryStackSize));
        for (unsigned ist = 0; ist < kIstCount; ++ist) HV_TRY(map_stack(cpu_ist_stack_base(cpu, ist), kIstStackSize));
        summary.stack_l1[cpu] = l1_table_of(root.root(), cpu_primary_stack_base(cpu));
    }
    return {};
}

Result<Mfn, const char*> alloc_zeroed(mm::FrameUse use) {
    const Optional<Mfn> frame = allocator().alloc(mm::Pool::Hypervisor, use);
    if (!frame) return Error{"not enough memory for the hypervisor's own structures"};
    memset(hv_frame_pointer(frame.value()), 0, kPageSize);
    return frame.value();
}

// The L1 table that maps `va` in `root` (which must have one).
Mfn l1_table_of(Mfn root, u64 va) {
    Mfn table = root;
    for (mm::Level level = mm::Level::Pml4; level != mm::Level::Pt; level = mm::lower(level)) {
        const u64 entry = env.table(table)[mm::index_of(va, level)];
        HV_CHECK(X86PteFormat::present(level, entry) && !X86PteFormat::is_leaf(level, entry));
        table = X86PteFormat::address(level, entry).mfn();
    }
    return table;
}

// GDT windows: pages 0-13 show one shared all-zero frame read-only until a guest installs its
// own GDT frames; page 14 is the pCPU's reserved page; page 15 stays unmapped.
Result<void, const char*> map_cpu_gdts(HvPageTable& root, unsigned cpu_count) {
    const auto zero = alloc_zeroed(kGlobalUse);
    if (!zero.ok()) return Error{zero.error()};
    for (unsigned cpu = 0; cpu < cpu_count; ++cpu) {
        for (unsigned page = 0; page < kGdtReservedPage; ++page)
            HV_TRY(map_or_fail(root, cpu_gdt_base(cpu) + page * kPageSize, zero.value().maddr().raw(), kPageSize, {},
                               mm::PageSize::k4K));
        // Private to the pCPU like its stacks (domain pool, zeroed once live).
        const Optional<Mfn> reserved =
            allocator().alloc(mm::Pool::Domain, mm::FrameUse{mm::FrameOwner::Hypervisor, mm::FrameClass::PerCpu, cpu});
        if (!reserved) return Error{"not enough memory for the pCPU GDTs"};
        HV_TRY(map_or_fail(root, cpu_gdt_base(cpu) + kGdtReservedPage * kPageSize, reserved.value().maddr().raw(),
                           kPageSize, {.write = true}, mm::PageSize::k4K));
        summary.gdt_reserved[cpu] = reserved.value();
    }
    summary.zero_frame = zero.value();
    return {};
}

// Creates each pCPU's mapcache L1 by mapping and unmapping the window once (unmap keeps tables).
Result<void, const char*> make_mapcache_tables(HvPageTable& root, unsigned cpu_count) {
    for (unsigned cpu = 0; cpu < cpu_count; ++cpu) {
        const u64 window = mapcache_slot_va(cpu, 0);
        const u64 size = kMapcacheSlots * kPageSize;
        HV_TRY(map_or_fail(root, window, summary.hypervisor_pool.start, size, {}, mm::PageSize::k4K));
        if (!root.unmap(Vaddr(window), size).ok()) return Error{"cannot prepare the mapcache"};
        mapcache_init_cpu(cpu, l1_table_of(root.root(), window));
    }
    return {};
}

// The M2P: one 8-byte entry per machine frame (the guest pfn it backs, or ~0). Mapped read-write
// for the hypervisor in slot 261 and read-only for guests at slot 256, where PV kernels expect it
// (XTF walks its page tables through it). [pv-abi.md §1.5]
Result<void, const char*> map_m2p(HvPageTable& root) {
    const u64 bytes = align_up(summary.frame_count * 8, kPageSize);
    for (u64 offset = 0; offset < bytes; offset += kPageSize) {
        const auto frame = alloc_zeroed(kGlobalUse);
        if (!frame.ok()) return Error{frame.error()};
        memset(hv_frame_pointer(frame.value()), 0xff, kPageSize);
        const u64 ma = frame.value().maddr().raw();
        HV_TRY(map_or_fail(root, kM2pBase + offset, ma, kPageSize, {.write = true, .global = true}, mm::PageSize::k4K));
        HV_TRY(map_or_fail(root, kRoM2pBase + offset, ma, kPageSize, {.user = true, .global = true}, mm::PageSize::k4K));
    }
    return {};
}

Result<void, const char*> build_idle_root(unsigned cpu_count) {
    const Optional<Mfn> root_frame = env.alloc_table();
    if (!root_frame) return Error{"not enough memory for the idle page tables"};
    HvPageTable root(env, root_frame.value());
    HV_TRY(map_image(root));
    const mm::Range pool = summary.hypervisor_pool;
    HV_TRY(map_or_fail(root, kDirectmapBase + pool.start, pool.start, pool.size(), {.write = true, .global = true},
                       mm::PageSize::k2M));
    HV_TRY(map_or_fail(root, kFrameTableBase, pool.start, summary.frame_table_bytes, {.write = true, .global = true},
                       mm::PageSize::k4K));
    HV_TRY(map_cpu_stacks(root, cpu_count));
    HV_TRY(map_cpu_gdts(root, cpu_count));
    HV_TRY(make_mapcache_tables(root, cpu_count));
    HV_TRY(map_m2p(root));
    // vmap() maps after boot, when the per-pCPU L3s are already copies: give its first GiB an L2
    // now so every copy shares it.
    HV_TRY(map_or_fail(root, kVmapBase, summary.hypervisor_pool.start, kPageSize, {}, mm::PageSize::k4K));
    if (!root.unmap(Vaddr(kVmapBase), kPageSize).ok()) return Error{"cannot prepare the vmap region"};
    // Guests copy slots 256-271 into their L4s: only the read-only M2P (256) may be reachable from
    // guest rings, so every other hypervisor slot loses US at the top. [pv-abi.md §1.6]
    u64* top = env.table(root.root());
    for (unsigned slot = kHypervisorFirstSlot + 1; slot <= kHypervisorLastSlot; ++slot)
        top[slot] &= ~X86PteFormat::kUs;
    top[kHypervisorFirstSlot] = (top[kHypervisorFirstSlot] & ~X86PteFormat::kRw) | X86PteFormat::kXd;
    // Linear self-map in slot 258: supervisor-only, never executable. [SDM 3A §4.5]
    env.table(root.root())[l4_slot_of(kLinearPtBase)] =
        root.root().maddr().raw() | X86PteFormat::kP | X86PteFormat::kRw | X86PteFormat::kXd;
    summary.idle_root = root.root();
    return {};
}

// The table an entry of `table` points at (which must be present and not a leaf).
Mfn child_table(Mfn table, unsigned index, mm::Level level) {
    const u64 entry = env.table(table)[index];
    HV_CHECK(X86PteFormat::present(level, entry) && !X86PteFormat::is_leaf(level, entry));
    return X86PteFormat::address(level, entry).mfn();
}

// A copy of the L2 under `l3[l3_index]` that keeps only the L2 entries for `va`s (one per pCPU
// window), and the L3 entry pointing at it.
Result<u64, const char*> private_l2_entry(Mfn l3, unsigned l3_index, const u64* vas, unsigned count) {
    const Mfn shared = child_table(l3, l3_index, mm::Level::Pdpt);
    const Optional<Mfn> copy = env.alloc_table();
    if (!copy) return Error{"not enough memory for the per-pCPU page tables"};
    for (unsigned i = 0; i < count; ++i) {
        const unsigned index = mm::index_of(vas[i], mm::Level::Pd);
        env.table(copy.value())[index] = env.table(shared)[index];
    }
    const u64 entry = env.table(l3)[l3_index];
    return (entry & ~X86PteFormat::address(mm::Level::Pdpt, entry).raw()) | copy.value().maddr().raw();
}

// asi cpu-stack: each pCPU gets an L3 for slot 261 that is the global one except for the two
// GiBs holding per-pCPU windows, which map only its own stack, GDT and mapcache windows; and an
// idle root that uses it. Without cpu-stack every pCPU shares the global root. Page-table frames
// of the hypervisor's layout are Global: they describe the layout, not anyone's data.
Result<void, const char*> build_cpu_roots(unsigned cpu_count) {
    const unsigned slot = l4_slot_of(kImageBase);
    const Mfn global_l3 = child_table(summary.idle_root, slot, mm::Level::Pml4);
    for (unsigned cpu = 0; cpu < cpu_count; ++cpu) {
        summary.cpu_idle_root[cpu] = summary.idle_root;
        summary.cpu_slot_entry[cpu] = env.table(summary.idle_root)[slot];
        if (!asi_policy().cpu_stack) continue;
        const Optional<Mfn> l3 = env.alloc_table();
        const Optional<Mfn> root = env.alloc_table();
        if (!l3 || !root) return Error{"not enough memory for the per-pCPU page tables"};
        for (unsigned i = 0; i < 512; ++i) env.table(l3.value())[i] = env.table(global_l3)[i];
        const u64 stacks[] = {kCpuStacksBase + cpu * kCpuStackWindow};
        const u64 windows[] = {cpu_gdt_base(cpu), mapcache_slot_va(cpu, 0)};
        const unsigned stacks_index = mm::index_of(kCpuStacksBase, mm::Level::Pdpt);
        const unsigned windows_index = mm::index_of(kCpuGdtBase, mm::Level::Pdpt);
        const auto stack_entry = private_l2_entry(global_l3, stacks_index, stacks, 1);
        const auto window_entry = private_l2_entry(global_l3, windows_index, windows, 2);
        if (!stack_entry.ok() || !window_entry.ok()) return Error{"not enough memory for the per-pCPU page tables"};
        env.table(l3.value())[stacks_index] = stack_entry.value();
        env.table(l3.value())[windows_index] = window_entry.value();
        const u64 top = env.table(summary.idle_root)[slot];
        const u64 slot_entry = (top & ~X86PteFormat::address(mm::Level::Pml4, top).raw()) | l3.value().maddr().raw();
        for (unsigned i = 0; i < 512; ++i) env.table(root.value())[i] = env.table(summary.idle_root)[i];
        env.table(root.value())[slot] = slot_entry;
        env.table(root.value())[l4_slot_of(kLinearPtBase)] =
            root.value().maddr().raw() | X86PteFormat::kP | X86PteFormat::kRw | X86PteFormat::kXd;
        summary.cpu_idle_root[cpu] = root.value();
        summary.cpu_slot_entry[cpu] = slot_entry;
    }
    return {};
}

// Private per-pCPU frames are not in the directmap: zero them through their mappings in the
// global idle root, which maps every pCPU's windows.
void zero_private_cpu_frames(unsigned cpu_count) {
    for (unsigned cpu = 0; cpu < cpu_count; ++cpu) {
        memset(reinterpret_cast<void*>(cpu_primary_stack_base(cpu)), 0, kPrimaryStackSize);
        for (unsigned ist = 0; ist < kIstCount; ++ist)
            memset(reinterpret_cast<void*>(cpu_ist_stack_base(cpu, ist)), 0, kIstStackSize);
        memset(reinterpret_cast<void*>(cpu_gdt_base(cpu) + kGdtReservedPage * kPageSize), 0, kPageSize);
    }
}

void switch_to_idle_root() {
    write_cr4(read_cr4() | (1u << 7));  // CR4.PGE: global hypervisor mappings survive CR3 loads
    write_cr3(summary.idle_root.maddr().raw());
    phys_to_virt_offset = kDirectmapBase;
    paging_live = true;
    allocator().relocate_table(reinterpret_cast<mm::FrameInfo*>(kFrameTableBase));
}

}  // namespace

void* hv_frame_pointer(Mfn mfn) { return reinterpret_cast<void*>(phys_to_virt_offset + mfn.maddr().raw()); }

u64* HvPagingEnv::table(Mfn mfn) { return static_cast<u64*>(hv_frame_pointer(mfn)); }

Optional<Mfn> HvPagingEnv::alloc_table() {
    const Optional<Mfn> frame = allocator().alloc(mm::Pool::Hypervisor, kGlobalUse);
    if (frame) memset(hv_frame_pointer(frame.value()), 0, kPageSize);
    return frame;
}

// Scrubbed on free: the directmap keeps showing free hypervisor-pool frames (the audit counts
// them as free, not as anyone's), so they must hold nothing.
void HvPagingEnv::free_table(Mfn mfn) {
    memset(hv_frame_pointer(mfn), 0, kPageSize);
    allocator().free(mfn);
}

void HvPagingEnv::invalidate(Vaddr va, mm::Level) {
    if (paging_live) invalidate_page(va.raw());  // every PCID that may cache it (arch/pcid.hpp)
}

Result<void, const char*> memory_init(const boot::BootInfo& boot, u64 hypervisor_pool_bytes, unsigned cpu_count) {
    mm::RangeSet free;
    HV_TRY(free_ram(boot, free));
    const u64 frame_count = boot.ram_top >> kPageShift;
    const u64 table_bytes = align_up(frame_count * sizeof(mm::FrameInfo), kPageSize);
    const u64 pool_bytes = align_up(hypervisor_pool_bytes + table_bytes, 2 * MiB);
    mm::Range pool{};
    if (!free.find_aligned(pool_bytes, 2 * MiB, kBootAliasLimit, pool))
        return Error{"not enough memory below 1 GiB for the hypervisor pool (try a smaller hvpool=)"};
    summary = MemorySummary{pool, free.total_bytes() - pool.size(), frame_count, table_bytes, Mfn()};

    auto* table = static_cast<mm::FrameInfo*>(hv_frame_pointer(Maddr(pool.start).mfn()));
    new (allocator_storage) mm::FrameAllocator(table, frame_count);
    hand_out_frames(boot, free, pool, table_bytes >> kPageShift);
    HV_TRY(build_idle_root(cpu_count));
    HV_TRY(build_cpu_roots(cpu_count));
    switch_to_idle_root();
    zero_private_cpu_frames(cpu_count);
    write_cr3(summary.cpu_idle_root[0].maddr().raw());
    return {};
}

u64 vmap(Maddr maddr, u64 size_bytes, mm::Attrs attrs) {
    static u64 next_va = kVmapBase;
    const u64 offset = maddr.raw() & (kPageSize - 1);
    const u64 size = align_up(size_bytes + offset, kPageSize);
    HvPageTable root(env, summary.idle_root);
    attrs.global = true;
    // Only the vmap's first GiB has an L2 that every per-pCPU L3 shares (build_idle_root).
    if (next_va + size > kVmapBase + GiB ||
        !root.map(Vaddr(next_va), Maddr(align_down(maddr.raw(), kPageSize)), size, attrs, mm::PageSize::k4K).ok())
        panic(__FILE__, __LINE__, "cannot map into the vmap region");
    const u64 va = next_va + offset;
    next_va += size + kPageSize;  // an unmapped guard page between mappings
    return va;
}

void vunmap(u64 va, u64 size_bytes) {
    const u64 start = align_down(va, kPageSize);
    HvPageTable root(env, summary.idle_root);
    HV_CHECK(root.unmap(Vaddr(start), align_up(va + size_bytes, kPageSize) - start).ok());
}

u64 map_mmio(Maddr maddr, u64 size_bytes) {
    return vmap(maddr, size_bytes, mm::Attrs{.write = true, .mem_type = mm::MemType::Uncached});
}

const MemorySummary& memory_summary() { return summary; }

Mfn cpu_idle_root(unsigned cpu) { return summary.cpu_idle_root[cpu]; }
u64 cpu_global_slot_entry(unsigned cpu) { return summary.cpu_slot_entry[cpu]; }

namespace {
AsiPolicy policy{true, true, true};
}
void set_asi_policy(const AsiPolicy& p) { policy = p; }
const AsiPolicy& asi_policy() { return policy; }

void set_m2p(Mfn mfn, u64 pfn) {
    HV_CHECK(mfn.raw() < summary.frame_count);
    reinterpret_cast<u64*>(kM2pBase)[mfn.raw()] = pfn;
}
mm::FrameAllocator& frame_allocator() { return allocator(); }
HvPagingEnv& paging_env() { return env; }

}  // namespace hv::arch
