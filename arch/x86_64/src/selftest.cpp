// SPDX-License-Identifier: MIT
// selftest=: deliberate faults and hangs that prove no fault or hang goes unnoticed.
#include "arch/boot.hpp"
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
        case boot::Selftest::None: break;
    }
    print("selftest: %s did not fault\n", boot::selftest_name(selftest));
    machine_exit(ExitCode::HypervisorFault);
}

}  // namespace hv::arch
