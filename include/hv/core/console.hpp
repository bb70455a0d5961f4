// SPDX-License-Identifier: MIT
// The hypervisor console: whole lines, never interleaved between pCPUs.
#pragma once

#include "hv/core/types.hpp"

namespace hv {

// printf-style line output; '\n' becomes CR LF on the wire.
void print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Raw bytes (guest console output goes here later), with the same line handling.
void console_write(const char* data, usize length);

// How a run ends; the CLI turns the QEMU status back into these values.
enum class ExitCode : u8 {
    Success = 0,
    GuestFailure = 1,
    BadBootInput = 2,
    HypervisorFault = 3,
};

// Ends the machine run with `code` (QEMU isa-debug-exit), or halts forever without that device.
[[noreturn]] void machine_exit(ExitCode code);

}  // namespace hv
