// SPDX-License-Identifier: MIT
// PV page-type engine: entry bits and FrameInfo setters shared by its two source files.
#pragma once

#include "arch/pte.hpp"
#include "hv/core/addr.hpp"
#include "hv/mm/level.hpp"
#include "hv/pv/page_types.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv::detail {

using arch::X86PteFormat;

// Entry bits. [SDM 3A §4.5] Xen names in comments. [pv-abi.md §5.2]
inline constexpr u64 kP = X86PteFormat::kP;
inline constexpr u64 kRw = X86PteFormat::kRw;
inline constexpr u64 kUs = X86PteFormat::kUs;
inline constexpr u64 kA = X86PteFormat::kA;
inline constexpr u64 kD = X86PteFormat::kD;
inline constexpr u64 kG = X86PteFormat::kG;
inline constexpr u64 kCacheBits = X86PteFormat::kPwt | X86PteFormat::kPcd | X86PteFormat::kPat4K;
inline constexpr u64 kAvail = u64{0x7} << 9;                   // _PAGE_AVAIL, bits 11:9
inline constexpr u64 kAvailHigh = u64{0x7ff} << 52;            // _PAGE_AVAIL_HIGH, bits 62:52
inline constexpr u64 kNx = X86PteFormat::kXd;
inline constexpr u64 kAddr = X86PteFormat::kAddrMask;

// Bits any present entry may use (Xen's base_disallow_mask, inverted).
inline constexpr u64 kBaseAllowed = kP | kRw | kUs | kA | kD | kAvail | kAvailHigh | kNx | kAddr;
// Bits whose change alone skips re-validation (FASTPATH_FLAG_WHITELIST). [pv-abi.md §5.3]
inline constexpr u64 kFastPathBits = kNx | kAvailHigh | kAvail | kG | kD | kA | kUs;

static_assert((kBaseAllowed & (kCacheBits | kG | X86PteFormat::kPs)) == 0, "L2-L4 refuse PWT/PCD/PS/G");
static_assert((kFastPathBits & (kP | kRw | kAddr | kCacheBits)) == 0, "RW and the frame take the checked path");
static_assert((kGuestKernelBit & kAvailHigh) != 0);

// L4 slots the hypervisor owns: 256..271. [pv-abi.md §5.4]
inline constexpr unsigned kFirstHypervisorSlot = mm::index_of(xen::kHypervisorVirtStart, mm::Level::Pml4);
inline constexpr unsigned kEndHypervisorSlot = kFirstHypervisorSlot + 16;
static_assert(kFirstHypervisorSlot == 256);
static_assert(xen::kHypervisorVirtEnd - xen::kHypervisorVirtStart == 16 * (u64{1} << 39), "16 slots");

constexpr bool is_hypervisor_slot(PageType level, unsigned index) {
    return level == PageType::L4 && index >= kFirstHypervisorSlot && index < kEndHypervisorSlot;
}

constexpr Mfn entry_mfn(u64 entry) { return Mfn((entry & kAddr) >> kPageShift); }
constexpr bool present(u64 entry) { return (entry & kP) != 0; }

// The table level one below `level` (L2 -> L1 ...). Precondition: level is L2..L4.
constexpr PageType lower(PageType level) { return static_cast<PageType>(static_cast<u8>(level) - 1); }

// What the engine writes for a present entry the guest supplied: US on every level (the guest
// kernel runs in ring 3), the guest-kernel tag on supervisor L1 entries, A on L4 entries, and
// never G: a global guest translation would survive the CR3 loads that switch domains and the
// flushes the type rules rely on (Xen instead flushes global pages everywhere). [pv-abi.md §1.6]
constexpr u64 adjust_entry(PageType level, u64 entry) {
    if (!present(entry)) return entry;
    if (level == PageType::L1) {
        entry &= ~kG;
        return (entry & kUs) != 0 ? entry : entry | kUs | kGuestKernelBit;
    }
    return entry | kUs | (level == PageType::L4 ? kA : 0);
}

// --- FrameInfo setters (encoding documented in page_types.hpp) ---------------------------
inline void set_stored_type(mm::FrameInfo& info, PageType type) {
    info.page_type = static_cast<u8>((info.page_type & 0x80) | static_cast<u8>(type));
}
inline void set_pinned(mm::FrameInfo& info, bool pinned) {
    info.page_type = static_cast<u8>((info.page_type & 0x07) | (pinned ? 0x80 : 0));
}
inline void set_type_count(mm::FrameInfo& info, u32 count) {
    info.type_count = (info.type_count & ~kMaxTypeCount) | count;
}
inline void set_linear_count(mm::FrameInfo& info, i32 count) {
    info.type_count = type_count(info) | (static_cast<u32>(static_cast<u8>(count)) << 24);
}

}  // namespace hv::pv::detail
