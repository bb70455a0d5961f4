// SPDX-License-Identifier: MIT
// VCPUOP_initialise's FXSAVE image (vcpu_guest_context.fpu_ctxt), vcpus=4 (pv-abi.md §3.19):
//   - vCPU 1, VGCF_I387_VALID: it starts with the given FCW, MXCSR, XMM0 and XMM15;
//   - vCPU 2, VGCF_I387_VALID with an MXCSR bit no CPU has (bit 16): initialise succeeds and the
//     vCPU starts with the image. On hardware the restore faults and Xen 4.17 retries with the bit
//     cleared; QEMU TCG's XRSTOR does not fault, so under Xen the bit stays. Isola clears it at
//     initialise. Only the defined bits 0-15 are compared;
//   - vCPU 3, the flag clear and garbage in the image: the default state (FCW 0x037f, MXCSR
//     0x1f80, XMM registers zero).
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "vcpu_fpu: VCPUOP_initialise loads the FXSAVE image of the new vCPU";

namespace {

constexpr u16 kFcw = 0x027f;       // double precision, all exceptions masked
constexpr u32 kMxcsr = 0xff80;     // FZ, round toward zero, all exceptions masked
constexpr u32 kMxcsrBit16 = 0x10000;
constexpr u64 kXmm0Low = 0x0123456789abcdef, kXmm0High = 0xfedcba9876543210;
constexpr u64 kXmm15Low = 0x1111222233334444, kXmm15High = 0x5555666677778888;

struct FpuSeen {
    u16 fcw;
    u32 mxcsr;
    u64 xmm0_low, xmm0_high, xmm15_low, xmm15_high;
};
FpuSeen seen[4];
volatile unsigned finished[4];
xen::VcpuGuestContext context;

// What the vCPU finds in its x87/SSE registers before it uses them.
void report_fpu(unsigned id) {
    FpuSeen& s = seen[id & 3];
    asm volatile("fnstcw %0" : "=m"(s.fcw));
    asm volatile("stmxcsr %0" : "=m"(s.mxcsr));
    asm volatile("movq %%xmm0, %0\n\tpextrq $1, %%xmm0, %1" : "=r"(s.xmm0_low), "=r"(s.xmm0_high));
    asm volatile("movq %%xmm15, %0\n\tpextrq $1, %%xmm15, %1" : "=r"(s.xmm15_low), "=r"(s.xmm15_high));
    __atomic_store_n(&finished[id & 3], 1, __ATOMIC_RELEASE);
}

void put16(u16 value, unsigned offset) { __builtin_memcpy(context.fpu_ctxt + offset, &value, sizeof value); }
void put32(u32 value, unsigned offset) { __builtin_memcpy(context.fpu_ctxt + offset, &value, sizeof value); }
void put64(u64 value, unsigned offset) { __builtin_memcpy(context.fpu_ctxt + offset, &value, sizeof value); }

// The FXSAVE image: FCW at 0, MXCSR at 24, XMMn at 160 + 16n.
void fill_image(u32 mxcsr) {
    for (u8& byte : context.fpu_ctxt) byte = 0;
    put16(kFcw, 0);
    put32(mxcsr, 24);
    put64(kXmm0Low, 160), put64(kXmm0High, 168);
    put64(kXmm15Low, 160 + 15 * 16), put64(kXmm15High, 168 + 15 * 16);
}

bool run_vcpu(unsigned id) {
    const long initialised = vcpu_op(xen::kVcpuOpInitialise, id, &context);
    expect_eq("initialise", initialised, 0);
    if (initialised != 0) return false;
    expect_eq("up", vcpu_op(xen::kVcpuOpUp, id, nullptr), 0);
    for (unsigned spin = 0; spin < 1'000'000 && __atomic_load_n(&finished[id], __ATOMIC_ACQUIRE) == 0; ++spin) yield();
    if (finished[id] == 0) fail("vCPU %u never ran\n", id);
    return finished[id] != 0;
}

void expect_seen(unsigned id, u16 fcw, u32 mxcsr, u64 x0l, u64 x0h, u64 x15l, u64 x15h, u32 mxcsr_bits = ~0u) {
    FpuSeen s = seen[id];
    print("  vCPU %u: FCW 0x%x MXCSR 0x%x XMM0 %016lx%016lx XMM15 %016lx%016lx\n", id, s.fcw, s.mxcsr, s.xmm0_high,
          s.xmm0_low, s.xmm15_high, s.xmm15_low);
    s.mxcsr &= mxcsr_bits;
    if (s.fcw != fcw) fail("vCPU %u: FCW 0x%x, expected 0x%x\n", id, s.fcw, fcw);
    if (s.mxcsr != mxcsr) fail("vCPU %u: MXCSR 0x%x, expected 0x%x\n", id, s.mxcsr, mxcsr);
    if (s.xmm0_low != x0l || s.xmm0_high != x0h) fail("vCPU %u: XMM0 differs\n", id);
    if (s.xmm15_low != x15l || s.xmm15_high != x15h) fail("vCPU %u: XMM15 differs\n", id);
}

}  // namespace

void test_main() {
    if (map_shared_info() == nullptr) return;
    if (vcpu_count() < 4) return error("needs 4 vCPUs, has %u\n", vcpu_count());

    default_vcpu_context(context, 1, report_fpu);
    context.flags |= xen::kVgcfI387Valid;
    fill_image(kMxcsr);
    if (run_vcpu(1)) expect_seen(1, kFcw, kMxcsr, kXmm0Low, kXmm0High, kXmm15Low, kXmm15High);

    default_vcpu_context(context, 2, report_fpu);
    context.flags |= xen::kVgcfI387Valid;
    fill_image(kMxcsr | kMxcsrBit16);
    if (run_vcpu(2)) expect_seen(2, kFcw, kMxcsr, kXmm0Low, kXmm0High, kXmm15Low, kXmm15High, 0xffff);

    default_vcpu_context(context, 3, report_fpu);
    fill_image(kMxcsr | kMxcsrBit16);  // ignored: no VGCF_I387_VALID
    if (run_vcpu(3)) expect_seen(3, 0x037f, 0x1f80, 0, 0, 0, 0);
}

}  // namespace guest
