// SPDX-License-Identifier: MIT
// A fake page-table entry format whose encoding differs at every level.
//
// The x86 format decodes most bits the same way at every level, so a walker that hands the
// format the wrong level often still works with it. This format makes such a slip fail:
//
//   level  present leaf write user exec        global uncached  frame field        tag 63:61
//   Pt     0       2    4     6    8           10     12        bits 49:14 ^ kXor  1
//   Pd     3       5    7     9    11 (no-exec) 13     1         bits 55:20 ^ kXor  2
//   Pdpt   6       8    10    12   0           2      4         bits 51:16 ^ kXor  3
//   Pml4   9       11   13    1    3 (no-exec) 5      7         bits 59:24 ^ kXor  4
//
// Flag f of level L sits at bit (2f + 3L) mod 14; the software bit avail0 sits at (3L + 7) mod 14
// (bits 7, 10, 13, 2: the other parity, so never on a flag). The frame number (36 bits, so machine
// addresses below 2^48) is XORed with a per-level constant and shifted per level; at odd levels
// the exec flag is stored inverted. Every non-zero entry carries its level in a tag, and
// decoding it at another level panics. Zero is "not present" at every level, as the walker
// requires.
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/check.hpp"
#include "hv/core/types.hpp"
#include "hv/mm/attrs.hpp"
#include "hv/mm/level.hpp"

namespace hv::test {

struct SkewedPteFormat {
    using Level = mm::Level;
    using Attrs = mm::Attrs;

    static constexpr u64 kMaxMaddr = (u64{1} << 48) - 1;

    static constexpr u64 make_leaf(Level level, Maddr ma, Attrs attrs) {
        if (level == Level::Pml4) panic(__FILE__, __LINE__, "skewed format: no leaves at Pml4");
        if (!is_aligned(ma.raw(), mm::level_size(level)) || ma.raw() > kMaxMaddr)
            panic(__FILE__, __LINE__, "skewed format: bad leaf address");
        const bool no_exec = inverted_exec(level) ? !attrs.exec : attrs.exec;
        return tag(level) | frame_field(level, ma.mfn()) | flag(level, kPresent) | flag(level, kLeaf) |
               (attrs.write ? flag(level, kWrite) : 0) | (attrs.user ? flag(level, kUser) : 0) |
               (no_exec ? flag(level, kExec) : 0) | (attrs.global ? flag(level, kGlobal) : 0) |
               (attrs.mem_type == mm::MemType::Uncached ? flag(level, kUncached) : 0);
    }

    static constexpr u64 make_table(Level level, Mfn table) {
        if (level == Level::Pt) panic(__FILE__, __LINE__, "skewed format: no tables below Pt");
        return tag(level) | frame_field(level, table) | flag(level, kPresent);
    }

    static constexpr bool present(Level level, u64 entry) {
        check_tag(level, entry);
        return (entry & flag(level, kPresent)) != 0;
    }

    static constexpr u64 set_avail0(Level level, u64 entry) {
        check_tag(level, entry);
        return entry | avail0_bit(level);
    }

    static constexpr bool avail0(Level level, u64 entry) {
        check_tag(level, entry);
        return (entry & avail0_bit(level)) != 0;
    }

    static constexpr bool is_leaf(Level level, u64 entry) {
        check_tag(level, entry);
        return (entry & flag(level, kLeaf)) != 0;
    }

    static constexpr Maddr address(Level level, u64 entry) {
        check_tag(level, entry);
        const u64 frame = ((entry >> kAddrShift[index(level)]) & kFrameMask) ^ kXor[index(level)];
        return Mfn(frame).maddr();
    }

    static constexpr Attrs attrs(Level level, u64 entry) {
        check_tag(level, entry);
        const bool exec_bit = (entry & flag(level, kExec)) != 0;
        return Attrs{
            .write = (entry & flag(level, kWrite)) != 0,
            .user = (entry & flag(level, kUser)) != 0,
            .exec = inverted_exec(level) ? !exec_bit : exec_bit,
            .global = (entry & flag(level, kGlobal)) != 0,
            .mem_type = (entry & flag(level, kUncached)) != 0 ? mm::MemType::Uncached : mm::MemType::WriteBack,
        };
    }

  private:
    enum Flag : unsigned { kPresent, kLeaf, kWrite, kUser, kExec, kGlobal, kUncached };
    static constexpr u64 kFrameMask = (u64{1} << 36) - 1;
    static constexpr unsigned kAddrShift[mm::kLevelCount] = {14, 20, 16, 24};
    static constexpr u64 kXor[mm::kLevelCount] = {0x5'a5a5'a5a5, 0x1'2345'6789, 0xe'dcba'9876, 0x0'f0f0'f0f0};
    static constexpr unsigned kTagShift = 61;
    // Flags use bits 0..13, so every frame field starts at bit 14 or above and ends below the tag.
    static_assert(kAddrShift[0] >= 14 && kAddrShift[1] >= 14 && kAddrShift[2] >= 14 && kAddrShift[3] >= 14);
    static_assert(kAddrShift[0] + 36 <= kTagShift && kAddrShift[1] + 36 <= kTagShift &&
                  kAddrShift[2] + 36 <= kTagShift && kAddrShift[3] + 36 <= kTagShift);

    static constexpr unsigned index(Level level) { return mm::level_number(level); }
    static constexpr bool inverted_exec(Level level) { return (index(level) & 1) != 0; }
    static constexpr u64 flag(Level level, Flag f) { return u64{1} << ((2 * f + 3 * index(level)) % 14); }
    static constexpr u64 avail0_bit(Level level) { return u64{1} << ((3 * index(level) + 7) % 14); }
    static constexpr u64 tag(Level level) { return u64{index(level) + 1} << kTagShift; }
    static constexpr u64 frame_field(Level level, Mfn mfn) {
        return ((mfn.raw() ^ kXor[index(level)]) & kFrameMask) << kAddrShift[index(level)];
    }
    static constexpr void check_tag(Level level, u64 entry) {
        if (entry != 0 && (entry >> kTagShift) != index(level) + 1)
            panic(__FILE__, __LINE__, "skewed format: entry decoded at the wrong level");
    }
};

static_assert(!SkewedPteFormat::present(mm::Level::Pd, 0));
static_assert(SkewedPteFormat::address(mm::Level::Pd, SkewedPteFormat::make_table(mm::Level::Pd, Mfn(0x1234))) ==
              Mfn(0x1234).maddr());
static_assert(SkewedPteFormat::make_leaf(mm::Level::Pt, Maddr(0x5000), mm::Attrs{}) !=
              SkewedPteFormat::make_leaf(mm::Level::Pd, Maddr(0), mm::Attrs{}));

}  // namespace hv::test
