// SPDX-License-Identifier: MIT
// Host implementation of hv::print and hv::console_write (captured, not printed).
#include "support/host_console.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "hv/core/console.hpp"
#include "hv/core/format.hpp"

namespace hv {
namespace {
std::string captured;
}

void console_write(const char* data, usize length) { captured.append(data, length); }

void print(const char* fmt, ...) {
    char line[512];
    va_list args;
    va_start(args, fmt);
    const usize length = format_v(line, sizeof line, fmt, args);
    va_end(args);
    console_write(line, length);
}

[[noreturn]] void machine_exit(ExitCode code) {
    std::fprintf(stderr, "machine_exit(%d) called in a host test\n", static_cast<int>(code));
    std::abort();
}

namespace test {
std::string take_console_output() {
    std::string out;
    out.swap(captured);
    return out;
}
}  // namespace test

}  // namespace hv
