// SPDX-License-Identifier: MIT
// The register frame vectors.S builds on the stack for every interrupt and exception.
#pragma once

#include <cstddef>

#include "hv/core/types.hpp"

namespace hv::arch {

// The general registers in vectors.S's push order, reversed. The hypercall argument registers
// come last and in argument order (RDI, RSI, RDX, R10, R8): a hypercall reads its arguments in
// place (pv::HypercallArgs, hypercall.hpp) instead of copying them.
struct TrapFrame {
    u64 r15, r14, r13, r12, rbp, rbx;
    u64 r11, r9, rcx, rax;
    u64 rdi, rsi, rdx, r10, r8;
    u64 vector, error_code;
    u64 rip, cs, rflags, rsp, ss;  // pushed by the CPU
};
static_assert(sizeof(TrapFrame) == 22 * 8);
static_assert(offsetof(TrapFrame, vector) == 15 * 8, "vectors.S pushes 15 registers first");
static_assert(offsetof(TrapFrame, rsi) == offsetof(TrapFrame, rdi) + 8 &&
                  offsetof(TrapFrame, rdx) == offsetof(TrapFrame, rdi) + 16 &&
                  offsetof(TrapFrame, r10) == offsetof(TrapFrame, rdi) + 24 &&
                  offsetof(TrapFrame, r8) == offsetof(TrapFrame, rdi) + 32,
              "the hypercall arguments are contiguous, in argument order");

}  // namespace hv::arch
