// SPDX-License-Identifier: MIT
// The register frame vectors.S builds on the stack for every interrupt and exception.
#pragma once

#include <cstddef>

#include "hv/core/types.hpp"

namespace hv::arch {

struct TrapFrame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8;
    u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector, error_code;
    u64 rip, cs, rflags, rsp, ss;  // pushed by the CPU
};
static_assert(sizeof(TrapFrame) == 22 * 8);
static_assert(offsetof(TrapFrame, vector) == 15 * 8, "vectors.S pushes 15 registers first");

}  // namespace hv::arch
