// SPDX-License-Identifier: MIT
// Linear (self-map) page-table window: where the entry of a level for a VA appears.
//
// When root entry `self_slot` points back at the root itself, the hardware walk of an address
// inside that slot stops one level early for every extra pass through the self entry, so the
// page-table entries of the *loaded* root appear as ordinary memory:
//
//   window = base of L4 slot self_slot (sign-extended)
//   L1 entries (Level::Pt)    at window                                        + (va48 >> 12) * 8
//   L2 entries (Level::Pd)    at window + (s << 30)                            + (va48 >> 21) * 8
//   L3 entries (Level::Pdpt)  at window + (s << 30) + (s << 21)                + (va48 >> 30) * 8
//   L4 entries (Level::Pml4)  at window + (s << 30) + (s << 21) + (s << 12)   + (va48 >> 39) * 8
//
// (s = self_slot, va48 = the low 48 bits of va). An address is only usable if every entry above
// it is present: the L2 entry of va exists only if its L4 and L3 entries are present tables.
// Pure arithmetic, so the image computes it without touching memory; the host tests check it
// against a software walk through a real self-map (perdomain_test.cpp).
#pragma once

#include "hv/core/types.hpp"
#include "hv/mm/level.hpp"

namespace hv::mm {

// Canonical VA of the entry of `level` that translates `va`, in the window of `self_slot`.
constexpr u64 linear_entry_va(unsigned self_slot, Level level, u64 va) {
    const u64 slot = self_slot;
    u64 base = slot << level_shift(kRootLevel);
    if (self_slot >= kEntriesPerTable / 2) base |= ~((u64{1} << 48) - 1);  // upper half: sign-extend
    // Each extra pass through the self entry selects the next lower 9-bit index field.
    for (unsigned pass = 1; pass <= level_number(level); ++pass)
        base += slot << (level_shift(kRootLevel) - kBitsPerLevel * pass);
    const u64 va48 = va & ((u64{1} << 48) - 1);
    return base + (va48 >> level_shift(level)) * sizeof(u64);
}

static_assert(linear_entry_va(258, Level::Pt, 0) == 0xffff'8100'0000'0000);
static_assert(linear_entry_va(258, Level::Pt, 0xffff'8200'0000'1000) == 0xffff'8100'0000'0000 + (0x8200'0000'1000 >> 12) * 8);
// The L4 table itself sits on one page of the window, and its entry 258 is the self entry.
static_assert(linear_entry_va(258, Level::Pml4, 0) == 0xffff'8140'a050'2000);
static_assert(linear_entry_va(258, Level::Pml4, 0xffff'8100'0000'0000) == 0xffff'8140'a050'2000 + 258 * 8);

}  // namespace hv::mm
