// SPDX-License-Identifier: MIT
// Fixed-width integer types and the few freestanding-safe std headers we use.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using i16 = std::int16_t;
using i32 = std::int32_t;
using i64 = std::int64_t;
using usize = std::size_t;

inline constexpr u64 kPageShift = 12;
inline constexpr u64 kPageSize = u64{1} << kPageShift;
inline constexpr u64 KiB = 1024;
inline constexpr u64 MiB = 1024 * KiB;
inline constexpr u64 GiB = 1024 * MiB;
inline constexpr u64 TiB = 1024 * GiB;

constexpr u64 align_down(u64 value, u64 alignment) { return value & ~(alignment - 1); }
constexpr u64 align_up(u64 value, u64 alignment) { return (value + alignment - 1) & ~(alignment - 1); }
constexpr bool is_aligned(u64 value, u64 alignment) { return (value & (alignment - 1)) == 0; }

}  // namespace hv
