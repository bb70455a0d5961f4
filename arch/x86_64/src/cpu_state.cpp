// SPDX-License-Identifier: MIT
// Control registers and the per-switch reset of guest-visible CPU state.
#include "arch/cpu_state.hpp"

#include "arch/cpu.hpp"
#include "arch/pcid.hpp"

namespace hv::arch {
namespace {
constexpr u64 kCr0Mp = 1u << 1, kCr0Em = 1u << 2, kCr0Ts = 1u << 3, kCr0Ne = 1u << 5;
constexpr u64 kCr4Osfxsr = 1u << 9, kCr4Osxmmexcpt = 1u << 10, kCr4Smep = 1u << 20;
constexpr u32 kCpuidSmep = 1u << 7;  // leaf 7, EBX
}  // namespace

void init_cpu_control() {
    u64 cr0 = read_cr0();
    cr0 = (cr0 | kCr0Mp | kCr0Ne) & ~(kCr0Em | kCr0Ts);
    asm volatile("mov %0, %%cr0" ::"r"(cr0) : "memory");
    u64 cr4 = read_cr4() | kCr4Osfxsr | kCr4Osxmmexcpt;
    if (cpuid(0).eax >= 7 && (cpuid(7, 0).ebx & kCpuidSmep) != 0) cr4 |= kCr4Smep;
    write_cr4(cr4);
    pcid_enable_cpu();
}

void reset_guest_cpu_state() {
    const u32 mxcsr = 0x1f80;  // reset value: all exceptions masked
    asm volatile(
        "fninit\n\t"
        "ldmxcsr %0\n\t"
        "pxor %%xmm0, %%xmm0\n\t pxor %%xmm1, %%xmm1\n\t pxor %%xmm2, %%xmm2\n\t pxor %%xmm3, %%xmm3\n\t"
        "pxor %%xmm4, %%xmm4\n\t pxor %%xmm5, %%xmm5\n\t pxor %%xmm6, %%xmm6\n\t pxor %%xmm7, %%xmm7\n\t"
        "pxor %%xmm8, %%xmm8\n\t pxor %%xmm9, %%xmm9\n\t pxor %%xmm10, %%xmm10\n\t pxor %%xmm11, %%xmm11\n\t"
        "pxor %%xmm12, %%xmm12\n\t pxor %%xmm13, %%xmm13\n\t pxor %%xmm14, %%xmm14\n\t pxor %%xmm15, %%xmm15\n\t"
        "xorl %%eax, %%eax\n\t"
        "movl %%eax, %%ds\n\t movl %%eax, %%es\n\t movl %%eax, %%fs\n\t movl %%eax, %%gs"
        :
        : "m"(mxcsr)
        : "rax", "memory");
}

}  // namespace hv::arch
