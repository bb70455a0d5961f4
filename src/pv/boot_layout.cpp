// SPDX-License-Identifier: MIT
// Start-of-day virtual layout of a 64-bit PV domain (pv-abi §1.4, §1.6).
#include "hv/pv/boot_layout.hpp"

#include "hv/core/check.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

using Error_ = Error<const char*>;

// Bytes one entry of each table level maps. [SDM 3A §4.5]
constexpr u64 kL4EntryShift = 39;  // 512 GiB: one L3 table each
constexpr u64 kL3EntryShift = 30;  // 1 GiB: one L2 table each
constexpr u64 kL2EntryShift = 21;  // 2 MiB: one L1 table each
constexpr u64 kP2mEntryBytes = 8;
// The table count grows with the layout, so the search below repeats; each round adds at most
// a 1/512 share of the previous growth, so a handful of rounds always suffices.
constexpr unsigned kMaxLayoutRounds = 64;

// Regions of 2^shift bytes that [start, end) touches; start < end. Cannot overflow.
constexpr u64 regions_touched(u64 start, u64 end, u64 shift) { return ((end - 1) >> shift) - (start >> shift) + 1; }

// out = align_up(value, alignment); false if that passes 2^64.
bool checked_align_up(u64 value, u64 alignment, u64& out) {
    if (__builtin_add_overflow(value, alignment - 1, &out)) return false;
    out = align_down(out, alignment);
    return true;
}

// A region of `bytes` at `start` (page-aligned); its end is page-rounded. False on overflow.
bool place_region(u64 start, u64 bytes, VaRegion& region) {
    u64 end = 0;
    if (__builtin_add_overflow(start, bytes, &end) || !checked_align_up(end, kPageSize, end)) return false;
    region = VaRegion{Vaddr(start), Vaddr(end)};
    return true;
}

// The image must be what parse_pv_elf accepts: VIRT_BASE page-aligned, <= a non-empty kernel.
bool kernel_range_valid(const PvImage& image) {
    return image.virt_kstart.raw() < image.virt_kend.raw() && image.virt_base.raw() <= image.virt_kstart.raw() &&
           is_aligned(image.virt_base.raw(), kPageSize);
}

// Kernel, initrd, p2m and start_info: the regions that do not depend on nr_pt_frames.
Result<void, const char*> place_fixed_regions(const PvImage& image, u64 nr_pages, u64 initrd_bytes,
                                              BootLayout& layout) {
    layout.v_start = image.virt_base;
    u64 p2m_bytes = 0;
    if (__builtin_mul_overflow(nr_pages, kP2mEntryBytes, &p2m_bytes) ||
        !place_region(image.virt_kstart.raw(), image.virt_kend.raw() - image.virt_kstart.raw(), layout.kernel) ||
        !place_region(layout.kernel.end.raw(), initrd_bytes, layout.initrd) ||
        !place_region(layout.initrd.end.raw(), p2m_bytes, layout.p2m) ||
        !place_region(layout.p2m.end.raw(), kPageSize, layout.start_info))
        return Error_{"initial mapping address overflow"};
    return {};
}

// Page tables (nr_pt_frames pages), boot stack and v_end for a given table count.
Result<void, const char*> place_tables_and_stack(u64 nr_pt_frames, BootLayout& layout) {
    u64 table_bytes = 0;
    if (__builtin_mul_overflow(nr_pt_frames, kPageSize, &table_bytes) ||
        !place_region(layout.start_info.end.raw(), table_bytes, layout.page_tables) ||
        !place_region(layout.page_tables.end.raw(), kPageSize, layout.boot_stack))
        return Error_{"initial mapping address overflow"};
    const u64 stack_end = layout.boot_stack.end.raw();
    u64 v_end = 0;
    if (!checked_align_up(stack_end, kInitialMappingAlign, v_end)) return Error_{"initial mapping address overflow"};
    // Keep at least 512 KiB of mapped padding after the stack.
    if (v_end - stack_end < kMinStackPadding && __builtin_add_overflow(v_end, kInitialMappingAlign, &v_end))
        return Error_{"initial mapping address overflow"};
    layout.nr_pt_frames = nr_pt_frames;
    layout.v_end = Vaddr(v_end);
    return {};
}

// [v_start, v_end) must lie in one canonical half and clear of the hypervisor's area.
Result<void, const char*> check_mapping_range(const BootLayout& layout) {
    const u64 start = layout.v_start.raw();
    const u64 last = layout.v_end.raw() - 1;
    if (!is_canonical(start) || !is_canonical(last) || (start >> 47) != (last >> 47))
        return Error_{"initial mapping is not canonical"};
    if (start < xen::kHypervisorVirtEnd && last >= xen::kHypervisorVirtStart)
        return Error_{"initial mapping reaches into the hypervisor area"};
    return {};
}

// Finds the smallest nr_pt_frames >= 2 whose tables map the layout they end up in. The table
// count is non-decreasing in nr_pt_frames, so jumping straight to the count the current guess
// needs never skips a smaller answer.
Result<void, const char*> place_page_tables(BootLayout& layout) {
    u64 nr_pt_frames = 2;
    for (unsigned round = 0; round < kMaxLayoutRounds; ++round) {
        HV_TRY(place_tables_and_stack(nr_pt_frames, layout));
        HV_TRY(check_mapping_range(layout));
        const u64 needed = bootstrap_table_count(layout.v_start, layout.v_end);
        if (needed <= nr_pt_frames) return {};
        nr_pt_frames = needed;
    }
    HV_CHECK(false && "bootstrap page-table count did not converge");
    return Error_{"initial mapping address overflow"};
}

}  // namespace

u64 bootstrap_table_count(Vaddr v_start, Vaddr v_end) {
    HV_DEBUG_ASSERT(v_start.raw() < v_end.raw());
    const u64 start = v_start.raw();
    const u64 end = v_end.raw();
    return 1 + regions_touched(start, end, kL4EntryShift) + regions_touched(start, end, kL3EntryShift) +
           regions_touched(start, end, kL2EntryShift);
}

Result<BootLayout, const char*> compute_boot_layout(const PvImage& image, u64 nr_pages, u64 initrd_bytes) {
    if (!kernel_range_valid(image)) return Error_{"kernel range is invalid"};
    BootLayout layout{};
    HV_TRY(place_fixed_regions(image, nr_pages, initrd_bytes, layout));
    HV_TRY(place_page_tables(layout));
    layout.initial_rsp = layout.boot_stack.end;
    layout.pages_in_initial_mapping = (layout.v_end.raw() - layout.v_start.raw()) >> kPageShift;
    if (nr_pages < layout.pages_in_initial_mapping) return Error_{"domain memory too small for its initial mapping"};
    return layout;
}

}  // namespace hv::pv
