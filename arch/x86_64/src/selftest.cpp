// SPDX-License-Identifier: MIT
// selftest=: deliberate faults and hangs that prove no fault or hang goes unnoticed, and checks of
// mechanisms that no guest can observe (stack zeroing).
#include "arch/boot.hpp"
#include "arch/pv_run.hpp"
#include "arch/smp.hpp"
#include "arch/va_layout.hpp"
#include "arch/zero_stack.hpp"
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

// The stack zeroing a full switch does under asi zero-stack (asi-reference §8.9 properties 53 and
// 55), on this pCPU's real stacks: a pattern written into the lowest page of the primary stack
// (below the live one) and into the NMI, #MC, #DB and #DF IST pages, then zero_dead_stack_pages()
// as load_vcpu's switch runs it. Every word of the first four must be zero afterwards, the #DF
// page must still hold the pattern. Returns what failed, or nullptr.
constexpr u64 kStackPattern = 0x5a5a'c3c3'0f0f'a5a5;
constexpr unsigned kIstNmi = 0, kIstDf = 1, kIstMc = 2, kIstDb = 3;

void fill_page(u64 va, u64 value) {
    volatile u64* const words = reinterpret_cast<volatile u64*>(va);
    for (u64 i = 0; i < kPageSize / 8; ++i) words[i] = value;
}

bool page_holds(u64 va, u64 value) {
    const volatile u64* const words = reinterpret_cast<const volatile u64*>(va);
    for (u64 i = 0; i < kPageSize / 8; ++i)
        if (words[i] != value) return false;
    return true;
}

const char* zero_stack_check() {
    const unsigned cpu = current_cpu_index();
    const u64 lowest = cpu_primary_stack_base(cpu);
    u64 rsp;
    asm volatile("movq %%rsp, %0" : "=r"(rsp));
    if (rsp - lowest < 2 * kPageSize) return "the live stack reaches its lowest page";
    const u64 zeroed[] = {lowest, cpu_ist_stack_base(cpu, kIstNmi), cpu_ist_stack_base(cpu, kIstMc),
                          cpu_ist_stack_base(cpu, kIstDb)};
    const u64 double_fault = cpu_ist_stack_base(cpu, kIstDf);
    for (const u64 va : zeroed) fill_page(va, kStackPattern);
    fill_page(double_fault, kStackPattern);
    (void)zero_dead_stack_pages(cpu);
    const char* failed = nullptr;
    for (const u64 va : zeroed)
        if (!page_holds(va, 0)) failed = "a written stack page below the live one, or a used IST page, is not zero";
    if (failed == nullptr && !page_holds(double_fault, kStackPattern)) failed = "the #DF IST page was changed";
    fill_page(double_fault, 0);  // no pattern left behind: nothing uses the page until a #DF ends the run
    return failed;
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
        case boot::Selftest::ZeroStack:
            if (const char* failed = zero_stack_check()) {
                print("selftest: zero-stack: FAILED: %s\n", failed);
                machine_exit(ExitCode::HypervisorFault);
            }
            print("selftest: zero-stack: dead stack pages and used IST pages zeroed, #DF page untouched\n");
            return;
        case boot::Selftest::None: break;
    }
    print("selftest: %s did not fault\n", boot::selftest_name(selftest));
    machine_exit(ExitCode::HypervisorFault);
}

}  // namespace hv::arch
