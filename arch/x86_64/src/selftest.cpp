// SPDX-License-Identifier: MIT
// selftest=: deliberate faults and hangs that prove no fault or hang goes unnoticed.
#include "arch/boot.hpp"
#include "arch/pv_run.hpp"
#include "hv/core/console.hpp"

namespace hv::arch {
namespace {

// Recurses until the stack runs into its guard page. The #PF cannot be delivered on the same
// stack, so the CPU raises #DF, which runs on its own IST stack and prints the dump.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
[[gnu::noinline]] u64 recurse_forever(u64 depth) {
    volatile u8 frame[256];
    frame[0] = static_cast<u8>(depth);
    asm volatile("" ::: "memory");
    return recurse_forever(depth + 1) + frame[0];
}
#pragma GCC diagnostic pop

// The state a guest's MOV SS + SYSCALL leaves (CVE-2018-8897): a #DB in ring 0 while RSP holds
// an address the hypervisor cannot push to. A read/write breakpoint (DR0, LEN 8) on `watched` is
// hit with RSP = 0x1000 (guest space, unmapped here); without IST4 the #DB frame would fault
// into a #DF. With it, the #DB is dropped and RSP comes back as it was. Returns true when exactly
// one #DB was taken.
alignas(8) volatile u64 watched;

bool debug_trap_on_bad_stack() {
    constexpr u64 kL0ReadWrite8Bytes = 1 | (u64{3} << 16) | (u64{3} << 18);
    const u64 before = hypervisor_debug_traps_dropped();
    asm volatile("mov %0, %%dr0\n\tmov %1, %%dr7" ::"r"(&watched), "r"(kL0ReadWrite8Bytes | 0x400) : "memory");
    u64 value;
    asm volatile("movq %%rsp, %%rbx\n\t"
                 "movq $0x1000, %%rsp\n\t"
                 "movq (%1), %0\n\t"
                 "movq %%rbx, %%rsp"
                 : "=r"(value)
                 : "r"(&watched)
                 : "rbx", "memory");
    asm volatile("mov %0, %%dr7" ::"r"(u64{0x400}) : "memory");
    (void)value;
    return hypervisor_debug_traps_dropped() == before + 1;
}

}  // namespace

void run_selftest(boot::Selftest selftest) {
    if (selftest == boot::Selftest::None) return;
    print("selftest: %s\n", boot::selftest_name(selftest));
    switch (selftest) {
        case boot::Selftest::FaultUd: asm volatile("ud2"); break;
        case boot::Selftest::FaultPf: {
            // Slot 0 is guest space: nothing is mapped there in the idle root.
            volatile u64* unmapped = reinterpret_cast<volatile u64*>(0x1000);
            (void)*unmapped;
            break;
        }
        case boot::Selftest::StackOverflow: (void)recurse_forever(0); break;
        case boot::Selftest::Hang:
            for (;;) asm volatile("cli; hlt");
        case boot::Selftest::DebugBadStack:
            if (!debug_trap_on_bad_stack()) break;
            print("selftest: db-bad-stack: #DB with RSP 0x1000 taken on IST4 and dropped\n");
            return;
        case boot::Selftest::None: break;
    }
    print("selftest: %s did not fault\n", boot::selftest_name(selftest));
    machine_exit(ExitCode::HypervisorFault);
}

}  // namespace hv::arch
