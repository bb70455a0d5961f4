// SPDX-License-Identifier: MIT
// Benchmark guest: the vcpu_op part of the Xen PV ABI that the two-vCPU benchmarks need
// (VCPUOP_initialise/up/down/is_up and struct vcpu_guest_context for x86-64), written from
// pv-abi.md §3.15. Kept here, not in hv/pv/xen_abi.hpp, until the hypervisor implements
// vcpu_op (issue 4), which will move it there.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/pv/xen_abi.hpp"

namespace guest::bench::vcpu_abi {

inline constexpr unsigned kVcpuOpInitialise = 0;
inline constexpr unsigned kVcpuOpUp = 1;
inline constexpr unsigned kVcpuOpDown = 2;
inline constexpr unsigned kVcpuOpIsUp = 3;

inline constexpr std::uint64_t kVgcfInKernel = 1u << 2;

// struct cpu_user_regs (x86-64), 200 bytes.
struct CpuUserRegs {
    std::uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi;
    std::uint32_t error_code, entry_vector;
    std::uint64_t rip;
    std::uint16_t cs, pad0;
    std::uint8_t saved_upcall_mask, pad1[3];
    std::uint64_t rflags, rsp;
    std::uint16_t ss, pad2[3];
    std::uint16_t es, pad3[3];
    std::uint16_t ds, pad4[3];
    std::uint16_t fs, pad5[3];
    std::uint16_t gs, pad6[3];
};
static_assert(sizeof(CpuUserRegs) == 200 && offsetof(CpuUserRegs, rax) == 0x50);
static_assert(offsetof(CpuUserRegs, rip) == 0x80 && offsetof(CpuUserRegs, saved_upcall_mask) == 0x8c);
static_assert(offsetof(CpuUserRegs, rflags) == 0x90 && offsetof(CpuUserRegs, ss) == 0xa0);

// struct vcpu_guest_context (x86-64), 0x1430 bytes.
struct VcpuGuestContext {
    std::uint8_t fpu_ctxt[512];
    std::uint64_t flags;
    CpuUserRegs user_regs;
    xen::TrapInfo trap_ctxt[256];
    std::uint64_t ldt_base, ldt_ents;
    std::uint64_t gdt_frames[16];
    std::uint64_t gdt_ents;
    std::uint64_t kernel_ss, kernel_sp;
    std::uint64_t ctrlreg[8];  // [3]: kernel root (mfn << 12), [1]: user root
    std::uint64_t debugreg[8];
    std::uint64_t event_callback_eip, failsafe_callback_eip, syscall_callback_eip;
    std::uint64_t vm_assist;
    std::uint64_t fs_base, gs_base_kernel, gs_base_user;
};
static_assert(offsetof(VcpuGuestContext, user_regs) == 0x208);
static_assert(offsetof(VcpuGuestContext, trap_ctxt) == 0x2d0);
static_assert(offsetof(VcpuGuestContext, ldt_base) == 0x12d0);
static_assert(offsetof(VcpuGuestContext, gdt_ents) == 0x1360);
static_assert(offsetof(VcpuGuestContext, ctrlreg) == 0x1378);
static_assert(offsetof(VcpuGuestContext, event_callback_eip) == 0x13f8);
static_assert(sizeof(VcpuGuestContext) == 0x1430);

}  // namespace guest::bench::vcpu_abi
