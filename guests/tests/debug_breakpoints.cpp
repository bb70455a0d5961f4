// SPDX-License-Identifier: MIT
// Hardware breakpoints set through set_debugreg fire in the guest (pv-abi.md §3.17, §4.9):
//   - a write breakpoint (DR0, R/W 01b, 8 bytes) on a variable of ours: the store happens, then
//     #DB reaches our trap 1 handler after it, and get_debugreg(6) shows B0 (sticky until written);
//   - an instruction breakpoint (DR1, R/W 00b) on a function of ours: #DB at its first instruction,
//     DR6 shows B1; the handler disarms DR7 and the function then runs;
//   - a read of the write-watched variable, a disabled breakpoint and a breakpoint dropped by
//     writing DR7 = 0 raise nothing;
//   - the hypervisor writing the watched bytes for us (xen_version into the buffer) is no #DB of
//     ours and leaves DR6 alone (Xen 4.17 ignores a #DB in its own context).
// Read/write breakpoints (R/W 11b) are not tested: Isola does not load them (docs/pv.md).
//
// Two domains on one pCPU (Isola only: the system test debug_breakpoints_switch), the same image
// so `watched` is at the same address in both: with `hold=1` the domain arms a write breakpoint
// on it and yields many times before writing it (one #DB: reloaded at every switch back); with
// `touch=1` the other writes it between yields (no #DB: cleared when switching to it).
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "debug_breakpoints: hardware write and instruction breakpoints bounced as #DB";

namespace {

constexpr u64 kDr6Default = 0xffff0ff0;
constexpr u64 kL0 = 1, kL1 = 4;
constexpr u64 kWrite8Bytes0 = (u64{1} << 16) | (u64{3} << 18);  // DR0: R/W 01b, LEN 11b

alignas(64) volatile u64 watched[8];
alignas(64) char version_buffer[64];
volatile unsigned debug_traps;
volatile u64 trap_rip, trap_dr6;

long set_dr(u64 reg, u64 value) { return hypercall(xen::kSetDebugreg, reg, value); }
long get_dr(u64 reg) { return hypercall(xen::kGetDebugreg, reg); }

// Records the #DB and disarms every breakpoint, so resuming at a faulting instruction
// breakpoint runs the instruction.
bool on_debug(ExceptionFrame& frame) {
    if (frame.vector != 1) return false;
    trap_rip = frame.rip;
    trap_dr6 = static_cast<u64>(get_dr(6));
    set_dr(7, 0);
    debug_traps = debug_traps + 1;
    return true;
}

__attribute__((noinline)) long breakpoint_target(long x) {
    asm volatile("" ::: "memory");
    return x * 3 + 1;
}

void reset() {
    expect_eq("DR7 = 0", set_dr(7, 0), 0);
    expect_eq("DR6 = 0", set_dr(6, 0), 0);
    debug_traps = 0;
    trap_rip = 0;
    trap_dr6 = 0;
}

void write_breakpoint() {
    reset();
    expect_eq("DR0 = &watched[1]", set_dr(0, reinterpret_cast<u64>(&watched[1])), 0);
    expect_eq("DR7 = L0, write, 8 bytes", set_dr(7, kL0 | kWrite8Bytes0), 0);
    const u64 before = watched[1];  // a read: no #DB
    expect_eq("#DB after a read of a write breakpoint", debug_traps, 0);
    watched[0] = 7;  // the neighbour: no #DB
    expect_eq("#DB after a write next to the breakpoint", debug_traps, 0);
    watched[1] = before + 5;
    expect_eq("#DB after the watched write", debug_traps, 1);
    expect_eq("the write happened (a trap, after it)", static_cast<long>(watched[1]), static_cast<long>(before + 5));
    expect_eq("DR6 in the handler: B0", static_cast<long>(trap_dr6 & 0xf), 1);
    expect_eq("DR6 in the handler: reserved bits", static_cast<long>(trap_dr6 & ~u64{0xf}), static_cast<long>(kDr6Default));
    expect_eq("DR6 stays sticky", get_dr(6), static_cast<long>(kDr6Default | 1));
    watched[1] = 0;
    expect_eq("no #DB once the handler cleared DR7", debug_traps, 1);
}

void instruction_breakpoint() {
    reset();
    const u64 target = reinterpret_cast<u64>(&breakpoint_target);
    expect_eq("DR1 = breakpoint_target", set_dr(1, target), 0);
    expect_eq("DR7 = L1, execute", set_dr(7, kL1), 0);
    const long result = breakpoint_target(4);
    expect_eq("#DB at the function", debug_traps, 1);
    expect_eq("the function ran after the handler", result, 13);
    if (trap_rip != target) fail("#DB RIP 0x%lx, expected the function at 0x%lx\n", trap_rip, target);
    expect_eq("DR6 in the handler: B1", static_cast<long>(trap_dr6 & 0xf), 2);
}

void disabled_breakpoints() {
    reset();
    expect_eq("DR0 = &watched[2]", set_dr(0, reinterpret_cast<u64>(&watched[2])), 0);
    expect_eq("DR7 = write, 8 bytes, not enabled", set_dr(7, kWrite8Bytes0), 0);
    watched[2] = 1;
    expect_eq("#DB from a disabled breakpoint", debug_traps, 0);
    expect_eq("DR7 = L0, write", set_dr(7, kL0 | kWrite8Bytes0), 0);
    expect_eq("DR7 = 0 again", set_dr(7, 0), 0);
    watched[2] = 2;
    expect_eq("#DB after DR7 = 0", debug_traps, 0);
    expect_eq("DR6 untouched", get_dr(6), static_cast<long>(kDr6Default));
}

void hypervisor_writes_watched_bytes() {
    reset();
    expect_eq("DR0 = version buffer", set_dr(0, reinterpret_cast<u64>(version_buffer)), 0);
    expect_eq("DR7 = L0, write, 8 bytes", set_dr(7, kL0 | kWrite8Bytes0), 0);
    expect_eq("xen_version(extraversion) into the watched buffer",
              hypercall(xen::kXenVersion, xen::kXenVersionExtraversion, reinterpret_cast<u64>(version_buffer)), 0);
    expect_eq("#DB from the hypervisor's write", debug_traps, 0);
    expect_eq("DR6 after the hypervisor's write", get_dr(6), static_cast<long>(kDr6Default));
    expect_eq("DR7 = 0", set_dr(7, 0), 0);
}

constexpr unsigned kSwitchRounds = 200;

void hold_across_switches() {
    reset();
    expect_eq("DR0 = &watched[1]", set_dr(0, reinterpret_cast<u64>(&watched[1])), 0);
    expect_eq("DR7 = L0, write, 8 bytes", set_dr(7, kL0 | kWrite8Bytes0), 0);
    for (unsigned i = 0; i < kSwitchRounds; ++i) yield();
    watched[1] = 1;
    expect_eq("#DB after the other domain ran", debug_traps, 1);
    expect_eq("DR6: B0", static_cast<long>(trap_dr6 & 0xf), 1);
}

void touch_between_switches() {
    reset();
    for (unsigned i = 0; i < kSwitchRounds; ++i) {
        watched[1] = i;
        yield();
    }
    expect_eq("#DB from the other domain's breakpoint", debug_traps, 0);
}

}  // namespace

void test_main() {
    if (!setup_traps()) return;
    set_exception_hook(on_debug);
    if (cmdline_option("hold", 0) == 1) return hold_across_switches();
    if (cmdline_option("touch", 0) == 1) return touch_between_switches();
    write_breakpoint();
    instruction_breakpoint();
    disabled_breakpoints();
    hypervisor_writes_watched_bytes();
    reset();
}

}  // namespace guest
