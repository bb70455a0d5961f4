// SPDX-License-Identifier: MIT
// Start-of-day virtual layout of a 64-bit PV domain: where the builder puts each boot region.
//
// Regions are laid out back to back from the page-rounded kernel end, each page-aligned, as
// Xen's dom0 builder does (pv-abi §1.4, §1.6; [Xen ABI xen/include/public/xen.h]
// "Start-of-day memory layout"):
//
//   v_start = VIRT_BASE
//   |  (mapped, below the kernel)
//   kernel       [virt_kstart, round_up(virt_kend))
//   initrd       initrd_bytes, page-rounded (empty when there is none)
//   p2m list     nr_pages * 8 bytes, page-rounded          -> start_info.mfn_list
//   start_info   1 page
//   page tables  nr_pt_frames pages (L4 first)             -> start_info.pt_base
//   boot stack   1 page; initial RSP = its end
//   padding      up to v_end = round_up(stack end, 4 MiB), plus 4 MiB more if that leaves
//                less than 512 KiB after the stack
//
// Everything in [v_start, v_end) is mapped by the bootstrap page tables, with VA = v_start +
// PFN * 4096. nr_pt_frames is the smallest n >= 2 with 1 (L4) + #L3 + #L2 + #L1 <= n, where
// #Lk counts the 512 GiB / 1 GiB / 2 MiB regions [v_start, v_end) touches; v_end depends on n.
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/result.hpp"
#include "hv/core/types.hpp"
#include "hv/pv/elf_image.hpp"

namespace hv::pv {

inline constexpr u64 kInitialMappingAlign = 4 * MiB;
inline constexpr u64 kMinStackPadding = 512 * KiB;

// A virtual range [start, end); empty when start == end. Both ends are page-aligned, except
// that BootLayout::kernel starts at virt_kstart exactly.
struct VaRegion {
    Vaddr start;
    Vaddr end;  // exclusive

    constexpr u64 size_bytes() const { return end.raw() - start.raw(); }
    constexpr u64 page_count() const { return size_bytes() >> kPageShift; }
};

struct BootLayout {
    Vaddr v_start;  // = VIRT_BASE: first mapped VA, PFN 0
    Vaddr v_end;    // exclusive end of the initial mapping, 4 MiB aligned
    VaRegion kernel;       // [virt_kstart, round_up(virt_kend))
    VaRegion initrd;       // empty when initrd_bytes is 0
    VaRegion p2m;          // nr_pages * 8 bytes, end page-rounded
    VaRegion start_info;   // one page
    VaRegion page_tables;  // nr_pt_frames pages
    VaRegion boot_stack;   // one page
    u64 nr_pt_frames;
    Vaddr initial_rsp;     // = boot_stack.end
    u64 pages_in_initial_mapping;  // (v_end - v_start) / 4096
};

// Bootstrap page-table frames needed to map [v_start, v_end) with 4 KiB pages:
// 1 L4 + the 512 GiB, 1 GiB and 2 MiB regions the range touches. Precondition: v_start < v_end.
u64 bootstrap_table_count(Vaddr v_start, Vaddr v_end);

// Lays out the boot regions after `image`'s kernel for a domain of `nr_pages` pages with an
// optional initrd of `initrd_bytes`. Returns the layout or one reason:
//   "kernel range is invalid"            (the image is not one parse_pv_elf accepts)
//   "initial mapping address overflow"   (a region would run past 2^64)
//   "initial mapping is not canonical"
//   "initial mapping reaches into the hypervisor area"
//   "domain memory too small for its initial mapping"   (nr_pages < pages_in_initial_mapping)
Result<BootLayout, const char*> compute_boot_layout(const PvImage& image, u64 nr_pages, u64 initrd_bytes);

}  // namespace hv::pv
