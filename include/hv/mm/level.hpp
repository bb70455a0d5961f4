// SPDX-License-Identifier: MIT
// Page-table levels and the VA bits each one translates (4-level paging).
//
// Levels count up from the leaf: Level::Pt = 0 is the last level (4 KiB pages), Level::Pml4 = 3
// is the root. An entry "of level L" lives in a table of level L and covers level_size(L) bytes.
//
//   VA: | 63..48 sign | 47..39 Pml4 | 38..30 Pdpt | 29..21 Pd | 20..12 Pt | 11..0 offset |
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/types.hpp"

namespace hv::mm {

enum class Level : u8 { Pt = 0, Pd, Pdpt, Pml4 };  // leaf = 0, root = 3

inline constexpr unsigned kLevelCount = 4;
inline constexpr unsigned kBitsPerLevel = 9;
inline constexpr unsigned kEntriesPerTable = 1u << kBitsPerLevel;  // 512 eight-byte entries
inline constexpr Level kRootLevel = Level::Pml4;

// Page size of one mapping operation; PageTable::map uses it for the whole range.
enum class PageSize : u8 { k4K, k2M, k1G };

constexpr unsigned level_number(Level level) { return static_cast<unsigned>(level); }

// Lowest VA bit translated by an entry of `level`: 12, 21, 30, 39.
constexpr u64 level_shift(Level level) { return kPageShift + kBitsPerLevel * level_number(level); }

// Bytes covered by one entry of `level`: 4 KiB, 2 MiB, 1 GiB, 512 GiB.
constexpr u64 level_size(Level level) { return u64{1} << level_shift(level); }

// Index of the entry of `level` that translates `va` (raw canonical or not: only bits 47..12 count).
constexpr unsigned index_of(u64 va, Level level) {
    return static_cast<unsigned>((va >> level_shift(level)) & (kEntriesPerTable - 1));
}
constexpr unsigned index_of(Vaddr va, Level level) { return index_of(va.raw(), level); }

// The level one step towards the leaf. Precondition: level != Level::Pt.
constexpr Level lower(Level level) { return static_cast<Level>(level_number(level) - 1); }

// The level whose leaves are pages of `size`.
constexpr Level leaf_level(PageSize size) {
    switch (size) {
        case PageSize::k4K: return Level::Pt;
        case PageSize::k2M: return Level::Pd;
        case PageSize::k1G: return Level::Pdpt;
    }
    return Level::Pt;
}

static_assert(level_shift(Level::Pt) == 12 && level_shift(Level::Pd) == 21);
static_assert(level_shift(Level::Pdpt) == 30 && level_shift(Level::Pml4) == 39);
static_assert(level_size(Level::Pd) == 2 * MiB && level_size(Level::Pdpt) == GiB);
static_assert(level_shift(kRootLevel) + kBitsPerLevel == 48, "4 levels translate 48 VA bits");
static_assert(index_of(u64{0xffff'8000'0000'0000}, Level::Pml4) == 256);
static_assert(index_of(u64{0x0000'7fff'ffff'f000}, Level::Pt) == 511);
static_assert(lower(Level::Pd) == Level::Pt && leaf_level(PageSize::k1G) == Level::Pdpt);

}  // namespace hv::mm
