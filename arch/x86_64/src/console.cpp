// SPDX-License-Identifier: MIT
// Console output on the serial line, and the end of a run through QEMU's isa-debug-exit.
#include "hv/core/console.hpp"

#include <cstdarg>

#include "arch/cpu.hpp"
#include "arch/serial.hpp"
#include "hv/core/check.hpp"
#include "hv/core/format.hpp"
#include "hv/core/spinlock.hpp"

namespace hv {
namespace {

Spinlock console_lock;
constexpr u16 kDebugExitPort = 0xf4;

void write_unlocked(const char* data, usize length) {
    for (usize i = 0; i < length; ++i) {
        if (data[i] == '\n') arch::serial_putc('\r');
        arch::serial_putc(data[i]);
    }
}

}  // namespace

void console_write(const char* data, usize length) {
    SpinlockGuard guard(console_lock);
    write_unlocked(data, length);
}

void print(const char* fmt, ...) {
    char line[512];
    va_list args;
    va_start(args, fmt);
    const usize length = format_v(line, sizeof line, fmt, args);
    va_end(args);
    console_write(line, length);
}

[[noreturn]] void machine_exit(ExitCode code) {
    // QEMU exits with status (code << 1) | 1; tools/isola_cli decodes it.
    arch::outl(kDebugExitPort, static_cast<u32>(code));
    arch::halt_forever();
    __builtin_unreachable();
}

[[noreturn]] void panic(const char* file, int line, const char* message) {
    print("\n*** Isola PANIC at %s:%d: %s\n", file, line, message);
    machine_exit(ExitCode::HypervisorFault);
}

}  // namespace hv
