// SPDX-License-Identifier: MIT
// Hardware breakpoints set through set_debugreg fire in the guest (pv-abi.md §3.17, §4.9):
//   - a write breakpoint (DR0, R/W 01b, 8 bytes) on a variable of ours: the store happens, then
//     #DB reaches our trap 1 handler after it, and get_debugreg(6) shows B0 (sticky until written);
//   - an instruction breakpoint (DR1, R/W 00b) on a function of ours: #DB at its first instruction,
//     DR6 shows B1; the handler disarms DR7 and the function then runs;
//   - a read of the write-watched variable, a disabled breakpoint and a breakpoint dropped by
//     writing DR7 = 0 raise nothing;
//   - the hypervisor writing the watched bytes for us (xen_version into the buffer) is no #DB of
//     ours and leaves DR6 alone (Xen 4.17 ignores a #DB in its own context);
//   - a read/write breakpoint (DR2, R/W 11b, 8 bytes): a read and a write of the variable each
//     trap once with B2, the neighbour does not; the hypervisor reading the watched bytes
//     (console_io write from them) raises nothing;
//   - MOV SS from a read/write-watched word, then at once a raw SYSCALL (xen_version): CPUs hold
//     that #DB back past the SYSCALL, into the hypervisor on the guest's RSP (CVE-2018-8897),
//     where Xen 4.17 drops it; QEMU TCG delivers it before the SYSCALL, in the guest. Either way
//     the hypercall returns its result and the guest continues; a #DB that does reach us must be
//     at the SYSCALL with B3;
//   - I/O breakpoints (R/W 10b): refused (-EPERM) while the virtual CR4.DE is clear; once the
//     guest sets CR4.DE (mov to %cr4, which reads back with it) they are accepted, DR4 is gone
//     (-ENODEV), and with the virtual IOPL raised an OUT to the watched port raises #DB after
//     it with B0, an OUT to the next port nothing.
//
// Two domains on one pCPU (Isola only: the system test debug_breakpoints_switch), the same image
// so `watched` is at the same address in both: with `hold=1` the domain arms a write breakpoint
// on it and yields many times before writing it (one #DB: reloaded at every switch back); with
// `touch=1` the other writes it between yields (no #DB: cleared when switching to it).
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "debug_breakpoints: write, read/write, instruction and I/O breakpoints bounced as #DB";

namespace {

constexpr u64 kDr6Default = 0xffff0ff0;
constexpr u64 kL0 = 1, kL1 = 4;
constexpr u64 kWrite8Bytes0 = (u64{1} << 16) | (u64{3} << 18);  // DR0: R/W 01b, LEN 11b
constexpr u64 kL2 = 1u << 4, kL3 = 1u << 6;
constexpr u64 kReadWrite8Bytes2 = (u64{3} << 24) | (u64{3} << 26);  // DR2: R/W 11b, LEN 11b
constexpr u64 kReadWrite2Bytes3 = (u64{3} << 28) | (u64{1} << 30);  // DR3: R/W 11b, LEN 01b

alignas(64) volatile u64 watched[8];
alignas(64) char version_buffer[64];
alignas(64) char console_buffer[64] = "debug_breakpoints: console_io reads watched bytes\n";
alignas(64) volatile u16 watched_selector;
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

void read_write_breakpoint() {
    reset();
    expect_eq("DR2 = &watched[5]", set_dr(2, reinterpret_cast<u64>(&watched[5])), 0);
    expect_eq("DR7 = L2, read/write, 8 bytes", set_dr(7, kL2 | kReadWrite8Bytes2), 0);
    watched[4] = 1;  // the neighbour: no #DB
    expect_eq("#DB after a write next to the breakpoint", debug_traps, 0);
    const u64 value = watched[5];
    expect_eq("#DB after the watched read", debug_traps, 1);
    expect_eq("DR6 after the read: B2", static_cast<long>(trap_dr6 & 0xf), 4);
    expect_eq("DR7 = L2 again (the handler cleared it)", set_dr(7, kL2 | kReadWrite8Bytes2), 0);
    watched[5] = value + 1;
    expect_eq("#DB after the watched write", debug_traps, 2);
    expect_eq("the write happened", static_cast<long>(watched[5]), static_cast<long>(value + 1));
    expect_eq("DR6 after the write: B2", static_cast<long>(trap_dr6 & 0xf), 4);
}

void hypervisor_reads_watched_bytes() {
    reset();
    u64 length = 0;
    while (console_buffer[length] != 0) ++length;  // before the breakpoint is armed
    expect_eq("DR2 = console buffer", set_dr(2, reinterpret_cast<u64>(console_buffer)), 0);
    expect_eq("DR7 = L2, read/write, 8 bytes", set_dr(7, kL2 | kReadWrite8Bytes2), 0);
    expect_eq("console_io(write) from the watched buffer",
              hypercall(xen::kConsoleIo, xen::kConsoleIoWrite, length, reinterpret_cast<u64>(console_buffer)), 0);
    expect_eq("#DB from the hypervisor's read", debug_traps, 0);
    expect_eq("DR6 after the hypervisor's read", get_dr(6), static_cast<long>(kDr6Default));
    expect_eq("DR7 = 0", set_dr(7, 0), 0);
}

// MOV SS from the watched word, then SYSCALL straight away: xen_version(XENVER_version) by hand,
// as the hypercall page would do it (RCX and R11 are the SYSCALL's to clobber). Returns RAX and
// the address of the SYSCALL.
long mov_ss_then_syscall(u64& syscall_rip) {
    long result;
    asm volatile("leaq 1f(%%rip), %[at]\n\t"
                 "movw %[selector], %%ss\n"
                 "1:\tsyscall"
                 : "=a"(result), [at] "=&r"(syscall_rip)
                 : "a"(u64{xen::kXenVersion}), "D"(u64{xen::kXenVersionVersion}), "S"(u64{0}),
                   [selector] "m"(watched_selector)
                 : "rcx", "r11", "memory");
    return result;
}

void mov_ss_before_syscall() {
    reset();
    u16 ss;
    asm volatile("movw %%ss, %0" : "=r"(ss));
    watched_selector = ss;
    const long version = hypercall(xen::kXenVersion, xen::kXenVersionVersion, 0);
    expect_eq("DR3 = &watched_selector", set_dr(3, reinterpret_cast<u64>(&watched_selector)), 0);
    expect_eq("DR7 = L3, read/write, 2 bytes", set_dr(7, kL3 | kReadWrite2Bytes3), 0);
    u64 syscall_rip = 0;
    expect_eq("xen_version by SYSCALL right after MOV SS", mov_ss_then_syscall(syscall_rip), version);
    expect_eq("DR7 = 0", set_dr(7, 0), 0);
    if (debug_traps > 1) fail("%u #DBs from one MOV SS\n", debug_traps);
    if (debug_traps == 0) {
        print("MOV SS + SYSCALL: #DB held back into the hypervisor and dropped\n");
        return;
    }
    print("MOV SS + SYSCALL: #DB delivered in the guest before the SYSCALL\n");
    if (trap_rip != syscall_rip) fail("#DB RIP 0x%lx, expected the SYSCALL at 0x%lx\n", trap_rip, syscall_rip);
    expect_eq("DR6 in the handler: B3", static_cast<long>(trap_dr6 & 0xf), 8);
}

constexpr u64 kCr4De = 1u << 3;
constexpr u64 kIo1Byte0 = u64{2} << 16;  // DR0: R/W 10b, LEN 00b

u64 read_cr4() {
    u64 value;
    asm volatile("movq %%cr4, %0" : "=r"(value));
    return value;
}
void write_cr4(u64 value) { asm volatile("movq %0, %%cr4" ::"r"(value) : "memory"); }

void set_iopl(unsigned iopl) {
    xen::PhysdevSetIopl request{iopl};
    expect_eq("PHYSDEVOP_set_iopl", hypercall(xen::kPhysdevOp, xen::kPhysdevOpSetIopl, reinterpret_cast<u64>(&request)), 0);
}

// OUT %al to port 0x80 or 0x81; returns the address after the instruction.
u64 out_port_0x80() {
    u64 after;
    asm volatile("outb %%al, $0x80\n1:\tleaq 1b(%%rip), %0" : "=r"(after) : "a"(0) : "memory");
    return after;
}
void out_port_0x81() { asm volatile("outb %%al, $0x81" ::"a"(0) : "memory"); }

void io_breakpoint() {
    reset();
    const u64 cr4 = read_cr4();
    if ((cr4 & kCr4De) != 0) fail("CR4 0x%lx has DE before the guest set it\n", cr4);
    expect_eq("DR0 = port 0x80", set_dr(0, 0x80), 0);
    expect_eq("DR7 = L0, I/O without CR4.DE", set_dr(7, kL0 | kIo1Byte0), -xen::kEPERM);
    write_cr4(cr4 | kCr4De);
    if (read_cr4() != (cr4 | kCr4De)) fail("CR4 0x%lx after setting DE on 0x%lx\n", read_cr4(), cr4);
    expect_eq("get_debugreg(4) with CR4.DE", get_dr(4), -xen::kENODEV);
    expect_eq("DR7 = L0, I/O, 1 byte", set_dr(7, kL0 | kIo1Byte0), 0);
    expect_eq("DR7 reads back", get_dr(7), static_cast<long>(kL0 | kIo1Byte0 | 0x400));
    set_iopl(1);
    out_port_0x81();
    expect_eq("#DB after an OUT to the next port", debug_traps, 0);
    const u64 after = out_port_0x80();
    expect_eq("#DB after the OUT to the watched port", debug_traps, 1);
    if (trap_rip != after) fail("#DB RIP 0x%lx, expected after the OUT at 0x%lx\n", trap_rip, after);
    expect_eq("DR6 in the handler: B0", static_cast<long>(trap_dr6 & 0xf), 1);
    set_iopl(0);
    expect_eq("DR7 = 0", set_dr(7, 0), 0);
    write_cr4(cr4);
    if (read_cr4() != cr4) fail("CR4 0x%lx after clearing DE, expected 0x%lx\n", read_cr4(), cr4);
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
    read_write_breakpoint();
    hypervisor_reads_watched_bytes();
    mov_ss_before_syscall();
    io_breakpoint();
    reset();
}

}  // namespace guest
