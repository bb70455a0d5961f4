// SPDX-License-Identifier: MIT
// Hypercalls with wild pointers, bad numbers and bad sub-commands. Each must fail with the errno
// Xen 4.17 returns and leave the domain running (the final SUCCESS line proves it survived).
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "hostile_hypercalls: wild pointers and unknown numbers fail cleanly";

namespace {

constexpr u64 kXenArea = 0xffff830000000000;      // inside Xen's reserved range
constexpr u64 kNonCanonical = 0x0000800000000000;  // first address past the lower half
constexpr u64 kUnmapped = 0x40000000;              // 1 GiB: far above the initial mapping (v_end)
constexpr u64 kWrapping = 0xfffffffffffffff0;      // [p, p + 32) wraps past 2^64

long console_write(u64 buffer, u64 count) {
    return hypercall(xen::kConsoleIo, xen::kConsoleIoWrite, count, buffer);
}

// A raw SYSCALL with a full 64-bit RAX: the page only has stubs for 0-127, and a hypervisor that
// truncates RAX to 32 bits would run hypercall 17 for 0x100000011.
long raw_hypercall(u64 number) {
    long result;
    asm volatile("syscall"
                 : "=a"(result)
                 : "a"(number)
                 : "rcx", "r11", "rdi", "rsi", "rdx", "r10", "r8", "memory");
    return result;
}

}  // namespace

void test_main() {
    expect_eq("console_io write, buffer in Xen's area", console_write(kXenArea, 16), -xen::kEFAULT);
    expect_eq("console_io write, non-canonical buffer", console_write(kNonCanonical, 16), -xen::kEFAULT);
    expect_eq("console_io write, unmapped buffer", console_write(kUnmapped, 16), -xen::kEFAULT);
    expect_eq("console_io write, range wrapping 2^64", console_write(kWrapping, 32), -xen::kEFAULT);
    expect_eq("console_io unknown command", hypercall(xen::kConsoleIo, 7, 0, 0), -xen::kENOSYS);

    // A non-canonical handler address is refused; the entries before it stay installed.
    const xen::TrapInfo table[] = {{0x30, 0, 0xe030, 0, kNonCanonical}, {}};
    expect_eq("set_trap_table, non-canonical handler", hypercall(xen::kSetTrapTable, reinterpret_cast<u64>(table)),
              -xen::kEINVAL);
    expect_eq("set_trap_table, table in Xen's area", hypercall(xen::kSetTrapTable, kXenArea), -xen::kEFAULT);
    expect_eq("set_trap_table, unmapped table", hypercall(xen::kSetTrapTable, kUnmapped), -xen::kEFAULT);

    expect_eq("sched_op unknown command", hypercall(xen::kSchedOp, 0x1234, 0), -xen::kENOSYS);
    expect_eq("sched_op shutdown, unmapped argument", hypercall(xen::kSchedOp, xen::kSchedOpShutdown, kUnmapped),
              -xen::kEFAULT);

    expect_eq("hypercall 60", hypercall(60), -xen::kENOSYS);
    expect_eq("hypercall 127", hypercall(127), -xen::kENOSYS);
    expect_eq("hypercall 0xffffffff (raw syscall)", raw_hypercall(0xffffffff), -xen::kENOSYS);
    expect_eq("hypercall 0x100000011 (raw syscall)", raw_hypercall(0x100000011), -xen::kENOSYS);

    xen::CallbackRegister unknown{99, 0, 0, 0x100000};
    expect_eq("callback_op register, unknown type",
              hypercall(xen::kCallbackOp, xen::kCallbackOpRegister, reinterpret_cast<u64>(&unknown)), -xen::kENOSYS);
    xen::CallbackRegister wild{xen::kCallbackTypeSyscall, 0, 0, kNonCanonical};
    expect_eq("callback_op register, non-canonical address",
              hypercall(xen::kCallbackOp, xen::kCallbackOpRegister, reinterpret_cast<u64>(&wild)), -xen::kEINVAL);
    expect_eq("callback_op unknown command", hypercall(xen::kCallbackOp, 9, reinterpret_cast<u64>(&unknown)),
              -xen::kENOSYS);
    expect_eq("callback_op register, unmapped argument",
              hypercall(xen::kCallbackOp, xen::kCallbackOpRegister, kUnmapped), -xen::kEFAULT);

    xen::CallbackRegister deprecated{xen::kCallbackTypeSysenterDeprecated, 0, 0, 0x100000};
    expect_eq("callback_op register, sysenter_deprecated",
              hypercall(xen::kCallbackOp, xen::kCallbackOpRegister, reinterpret_cast<u64>(&deprecated)), -xen::kENOSYS);
    xen::CallbackUnregister keep{xen::kCallbackTypeSyscall, 0};
    expect_eq("callback_op unregister syscall",
              hypercall(xen::kCallbackOp, xen::kCallbackOpUnregister, reinterpret_cast<u64>(&keep)), -xen::kEINVAL);

    // Page-table hypercalls: unreadable op arrays, and addresses no guest mapping may have.
    expect_eq("mmu_update, array in Xen's area", hypercall(xen::kMmuUpdate, kXenArea, 1, 0, xen::kDomidSelf),
              -xen::kEFAULT);
    expect_eq("mmuext_op, unmapped array", hypercall(xen::kMmuextOp, kUnmapped, 1, 0, xen::kDomidSelf), -xen::kEFAULT);
    expect_eq("update_va_mapping, va 2^63", hypercall(xen::kUpdateVaMapping, 1ull << 63, 0, xen::kUvmfInvlpg | xen::kUvmfAll),
              -xen::kEINVAL);
    expect_eq("update_va_mapping, va in Xen's area", hypercall(xen::kUpdateVaMapping, kXenArea, 0, xen::kUvmfInvlpg),
              -xen::kEINVAL);

    expect_eq("xen_version extraversion into Xen's area", hypercall(xen::kXenVersion, xen::kXenVersionExtraversion, kXenArea),
              -xen::kEFAULT);
    print("still alive after %d hostile hypercalls\n", 24);
}

}  // namespace guest
