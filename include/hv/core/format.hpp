// SPDX-License-Identifier: MIT
// printf-style formatting into a fixed buffer (no heap). Supports %s %c %d %i %u %x %X %p %%,
// the l/ll/z length modifiers, a field width and the 0 and - flags. Always NUL-terminates.
#pragma once

#include <cstdarg>

#include "hv/core/types.hpp"

namespace hv {

// Returns the number of characters written (excluding the NUL), truncated to capacity - 1.
usize format_v(char* buffer, usize capacity, const char* fmt, va_list args);
usize format(char* buffer, usize capacity, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

}  // namespace hv
