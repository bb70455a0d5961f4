// SPDX-License-Identifier: MIT
// x86-64 page-table entry format (4-level paging), as pure constexpr bit logic.
//
// The one place that knows what the bits of a hypervisor page-table entry mean. The generic
// walker (hv/mm/page_table.hpp) only ever calls the static members of X86PteFormat, always
// with the level of the entry, and treats an all-zero entry as "not present".
//
// Table numbers below are those of the SDM editions that include 5-level paging
// (Table 4-15 PML4E ... Table 4-20 PTE); older editions number them one lower.
//
//   bit   name  PML4E  PDPTE/PDE -> table  PDPTE/PDE page   PTE (4 KiB page)
//   0     P     P      P                   P                P
//   1     R/W   R/W    R/W                 R/W              R/W
//   2     U/S   U/S    U/S                 U/S              U/S
//   3     PWT   PWT    PWT                 PWT              PWT
//   4     PCD   PCD    PCD                 PCD              PCD
//   5     A     A      A                   A                A
//   6     D     -      -                   D                D
//   7     PS    0      0                   1 (PS)           PAT
//   8     G     -      -                   G                G
//   9     AVL0  ign    ign                 ign              ign   (software: "owned" page)
//   12    PAT   addr   addr                PAT              addr
//   51:12 addr  table  table               page (51:21/30)  page
//   63    XD    XD     XD                  XD               XD
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/check.hpp"
#include "hv/core/types.hpp"
#include "hv/mm/attrs.hpp"
#include "hv/mm/level.hpp"

namespace hv::arch {

using mm::Attrs;
using mm::Level;
using mm::MemType;

struct X86PteFormat {
    // Entry bits. [SDM 3A §4.5, Tables 4-15 to 4-20]
    static constexpr u64 kP = u64{1} << 0;     // present
    static constexpr u64 kRw = u64{1} << 1;    // read/write
    static constexpr u64 kUs = u64{1} << 2;    // user/supervisor
    static constexpr u64 kPwt = u64{1} << 3;   // page-level write-through [SDM 3A §4.9.2]
    static constexpr u64 kPcd = u64{1} << 4;   // page-level cache disable [SDM 3A §4.9.2]
    static constexpr u64 kA = u64{1} << 5;     // accessed [SDM 3A §4.8]
    static constexpr u64 kD = u64{1} << 6;     // dirty (leaves only) [SDM 3A §4.8]
    static constexpr u64 kPs = u64{1} << 7;    // page size, in PDPTEs and PDEs
    static constexpr u64 kPat4K = u64{1} << 7; // PAT, in PTEs (same bit as PS)
    static constexpr u64 kG = u64{1} << 8;     // global (leaves only) [SDM 3A §4.10.2.4]
    static constexpr u64 kAvail0 = u64{1} << 9;  // ignored by the CPU at every level: ours [SDM 3A §4.5]
    static constexpr u64 kPatLarge = u64{1} << 12;  // PAT, in PDPTEs/PDEs that map a page
    static constexpr u64 kXd = u64{1} << 63;   // execute-disable, needs EFER.NXE [SDM 3A §4.6]

    // Physical address bits 51:12 (MAXPHYADDR is at most 52). [SDM 3A §4.1.4]
    static constexpr u64 kAddrMask = 0x000f'ffff'ffff'f000;
    static constexpr u64 kMaxMaddr = (u64{1} << 52) - 1;

    // Leaf entry mapping the `level_size(level)` page at `ma`. Precondition: `ma` is aligned to
    // that size and `level` is Pt, Pd or Pdpt (no 512 GiB pages). A and D are preset so the CPU
    // never writes back to hypervisor tables [SDM 3A §4.8]. Uncached selects PAT entry 3
    // (PCD|PWT), which is UC in the power-on PAT and in Xen's layout [SDM 3A §4.9.2].
    static constexpr u64 make_leaf(Level level, Maddr ma, Attrs attrs) {
        HV_DEBUG_ASSERT(level != Level::Pml4);
        HV_DEBUG_ASSERT(is_aligned(ma.raw(), mm::level_size(level)) && ma.raw() <= kMaxMaddr);
        u64 entry = kP | kA | kD | (ma.raw() & kAddrMask);
        if (level != Level::Pt) entry |= kPs;
        if (attrs.write) entry |= kRw;
        if (attrs.user) entry |= kUs;
        if (attrs.global) entry |= kG;
        if (!attrs.exec) entry |= kXd;
        if (attrs.mem_type == MemType::Uncached) entry |= kPcd | kPwt;
        return entry;
    }

    // Entry of `level` (Pd, Pdpt or Pml4) pointing at the table in frame `table`. Tables grant
    // everything (present|write|user, no XD): rights are the AND of all levels [SDM 3A §4.6],
    // so this makes the leaf alone decide, and lets guest-visible regions work later.
    static constexpr u64 make_table([[maybe_unused]] Level level, Mfn table) {
        HV_DEBUG_ASSERT(level != Level::Pt);
        return kP | kRw | kUs | kA | (table.maddr().raw() & kAddrMask);
    }

    static constexpr bool present(Level, u64 entry) { return (entry & kP) != 0; }

    // Software-available bit 0 (bit 9, AVAIL0 in Xen): the hardware ignores it, so the
    // hypervisor can tag entries; the per-domain API marks the pages it owns with it.
    static constexpr u64 set_avail0(Level, u64 entry) { return entry | kAvail0; }
    static constexpr bool avail0(Level, u64 entry) { return (entry & kAvail0) != 0; }

    // Whether a present entry maps a page: always in a PTE, never in a PML4E, and in PDPTEs
    // and PDEs when PS is set. [SDM 3A §4.5, Tables 4-16 and 4-18]
    static constexpr bool is_leaf(Level level, u64 entry) {
        switch (level) {
            case Level::Pt: return true;
            case Level::Pd:
            case Level::Pdpt: return (entry & kPs) != 0;
            case Level::Pml4: return false;
        }
        return false;
    }

    // The page (leaves) or table (otherwise) the entry points at. In large pages bit 12 is
    // PAT, and the bits between 12 and the page size are reserved, so they are masked.
    static constexpr Maddr address(Level level, u64 entry) {
        const bool large = level != Level::Pt && is_leaf(level, entry);
        const u64 mask = large ? kAddrMask & ~(mm::level_size(level) - 1) : kAddrMask;
        return Maddr(entry & mask);
    }

    // The attributes of this entry alone. Memory type: PAT index 0 (PAT=PCD=PWT=0) is
    // WriteBack; any other index is reported as Uncached, since we only ever write 0 or 3.
    static constexpr Attrs attrs(Level level, u64 entry) {
        const u64 pat_bit = (level == Level::Pt) ? kPat4K : kPatLarge;
        const bool large = level != Level::Pt && is_leaf(level, entry);
        const bool pat = (level == Level::Pt || large) && (entry & pat_bit) != 0;
        const bool write_back = !pat && (entry & (kPcd | kPwt)) == 0;
        return Attrs{
            .write = (entry & kRw) != 0,
            .user = (entry & kUs) != 0,
            .exec = (entry & kXd) == 0,
            .global = (entry & kG) != 0,
            .mem_type = write_back ? MemType::WriteBack : MemType::Uncached,
        };
    }
};

// --- Sanity checks (levels, bits, round trips) -------------------------------------------
static_assert(mm::kEntriesPerTable * sizeof(u64) == kPageSize, "one table fills one frame");
static_assert(X86PteFormat::kPs == X86PteFormat::kPat4K, "PS and 4 KiB PAT share bit 7");
static_assert((X86PteFormat::kAddrMask & (X86PteFormat::kXd | X86PteFormat::kG | X86PteFormat::kAvail0)) == 0);
static_assert(!X86PteFormat::present(Level::Pt, 0) && !X86PteFormat::present(Level::Pml4, 0));
static_assert(X86PteFormat::make_leaf(Level::Pt, Maddr(0x1234'5000), Attrs{}) ==
              (0x1234'5000 | X86PteFormat::kP | X86PteFormat::kA | X86PteFormat::kD |
               X86PteFormat::kXd));
static_assert(X86PteFormat::is_leaf(Level::Pd, X86PteFormat::make_leaf(Level::Pd, Maddr(2 * MiB), Attrs{})));
static_assert(!X86PteFormat::is_leaf(Level::Pd, X86PteFormat::make_table(Level::Pd, Mfn(7))));
static_assert(X86PteFormat::address(Level::Pdpt, X86PteFormat::make_table(Level::Pdpt, Mfn(0x1001))) ==
              Maddr(0x1001000));
static_assert(X86PteFormat::address(Level::Pd, X86PteFormat::make_leaf(Level::Pd, Maddr(6 * MiB),
                                                                       Attrs{.mem_type = MemType::Uncached})) ==
              Maddr(6 * MiB));
static_assert(X86PteFormat::attrs(Level::Pdpt, X86PteFormat::make_leaf(Level::Pdpt, Maddr(GiB),
                                                                       Attrs{.write = true, .exec = true})) ==
              Attrs{.write = true, .exec = true});

}  // namespace hv::arch
