// SPDX-License-Identifier: MIT
// Benchmarks of the guest's own entry paths through the hypervisor: a user -> kernel -> user
// syscall round trip (SYSCALL, the syscall callback, the iret hypercall back to user mode) and a
// page fault bounced to the guest kernel and resumed. Both use bench_entry.S's minimal handlers.
#include "bench.hpp"

extern "C" void bench_syscall_entry();
extern "C" void bench_pf_entry();

namespace guest::bench {
namespace {

constexpr u64 kUnmapped = 0x40000000;  // 1 GiB: far above the initial mapping of every guest

// The user-mode loop reads its count from and leaves its ticks in globals (exec_user passes
// no argument).
u64 syscall_iterations;
u64 syscall_ticks;

void user_syscall() { asm volatile("syscall" ::: "rax", "rcx", "r11", "memory"); }

long user_syscall_loop() {
    for (u64 i = 0; i < kWarmup; ++i) user_syscall();
    const u64 start = read_tsc();
    for (u64 i = 0; i < syscall_iterations; ++i) user_syscall();
    syscall_ticks = read_tsc() - start;
    return 0;
}

long register_syscall_callback(void (*entry)()) {
    xen::CallbackRegister request{xen::kCallbackTypeSyscall, xen::kCallbackFlagMaskEvents, 0,
                                  reinterpret_cast<u64>(entry)};
    return hypercall(xen::kCallbackOp, xen::kCallbackOpRegister, reinterpret_cast<u64>(&request));
}

// One kernel-mode read of an unmapped page; bench_pf_entry resumes at label 1.
void kernel_fault() {
    asm volatile("leaq 1f(%%rip), %%rsi\n\tmovq (%[address]), %%rdx\n1:"
                 :
                 : [address] "r"(kUnmapped)
                 : "rsi", "rdx", "memory");
}

}  // namespace

Timing bench_syscall(u64 iterations) {
    const long rc = register_syscall_callback(bench_syscall_entry);
    if (rc != 0) return report_refused("syscall", "callback_op(register syscall)", rc);
    syscall_iterations = iterations;
    syscall_ticks = 0;
    const long result = exec_user(user_syscall_loop);
    setup_traps();  // the runtime's own callbacks back
    if (result != 0) return report_error("syscall", "exec_user", result);
    return {true, syscall_ticks};
}

Timing bench_pf_bounce(u64 iterations) {
    const xen::TrapInfo table[2] = {
        {14, xen::kTrapMaskEvents, kKernelCs, 0, reinterpret_cast<u64>(bench_pf_entry)}, {}};
    const long rc = hypercall(xen::kSetTrapTable, reinterpret_cast<u64>(table));
    if (rc != 0) return report_refused("pf_bounce", "set_trap_table(14)", rc);
    for (u64 i = 0; i < kWarmup; ++i) kernel_fault();
    const u64 start = read_tsc();
    for (u64 i = 0; i < iterations; ++i) kernel_fault();
    const u64 ticks = read_tsc() - start;
    set_trap(14, xen::kTrapMaskEvents);  // the runtime's handler back
    return {true, ticks};
}

}  // namespace guest::bench
