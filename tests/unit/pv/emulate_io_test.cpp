// SPDX-License-Identifier: MIT
// Tests of IN/OUT/INS/OUTS and CLI/STI emulation against the virtual IOPL.
#include <gtest/gtest.h>

#include <vector>

#include "hv/pv/emulate.hpp"
#include "hv/pv/vcpu_registers.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_pv_vcpu.hpp"

namespace hv::pv {
namespace {

constexpr u64 kCode = 0x15000000;
constexpr u64 kData = 0x15100000;

struct EmulateIoTest : ::testing::Test, test::PvVcpuFixture {
    arch::TrapFrame regs{};
    EmulateIoTest() { regs.rip = kCode; }
    Emulation run(std::vector<u8> bytes) {
        test::fake_guest_memory().map(kCode, std::move(bytes));
        regs.rip = kCode;
        return emulate_privileged(vcpu, regs);
    }
    void allow_all() { vcpu.iopl = 3; }
};

// Kernel mode counts as CPL 1: vIOPL 0 faults, 1-3 pass. User mode (CPL 3) needs vIOPL 3.
TEST_F(EmulateIoTest, PrivilegeFollowsVirtualIopl) {
    const std::vector<std::vector<u8>> insns = {{0xfa}, {0xfb}, {0xe6, 0x80}, {0xe4, 0x21}, {0xec}, {0xee}, {0x6c}, {0x6e}};
    for (const auto& insn : insns) {
        for (unsigned iopl = 0; iopl <= 3; ++iopl) {
            vcpu.iopl = static_cast<u8>(iopl);
            regs.rip = kCode;
            regs.rdi = regs.rsi = kData;
            test::fake_guest_memory().map(kData, std::vector<u8>(8));
            vcpu.kernel_mode = true;
            EXPECT_EQ(run(insn), iopl >= 1 ? Emulation::Done : Emulation::RaiseGp) << int(insn[0]) << " kernel " << iopl;
            regs.rip = kCode;
            vcpu.kernel_mode = false;
            EXPECT_EQ(run(insn), iopl == 3 ? Emulation::Done : Emulation::RaiseGp) << int(insn[0]) << " user " << iopl;
        }
    }
}

// With VMASST architectural_iopl the kernel counts as CPL 0: it never faults; user is unchanged.
TEST_F(EmulateIoTest, ArchitecturalIoplMakesTheKernelCplZero) {
    domain.vm_assist = u64{1} << xen::kVmAsstTypeArchitecturalIopl;
    vcpu.iopl = 0;
    EXPECT_EQ(run({0xfa}), Emulation::Done);
    vcpu.kernel_mode = false;
    regs.rip = kCode;
    vcpu.iopl = 2;
    EXPECT_EQ(run({0xfa}), Emulation::RaiseGp);
}

// A refused instruction changes nothing.
TEST_F(EmulateIoTest, RefusedInstructionChangesNothing) {
    regs.rax = 0x1234;
    EXPECT_EQ(run({0xe4, 0x21}), Emulation::RaiseGp);
    EXPECT_EQ(regs.rax, 0x1234u);
    EXPECT_EQ(regs.rip, kCode);
}

// IN reads all ones at the operand size (a 32-bit result clears bits 63:32); OUT is dropped.
TEST_F(EmulateIoTest, InReadsAllOnes) {
    allow_all();
    regs.rax = 0xabcdef0012345600;
    ASSERT_EQ(run({0xe4, 0x21}), Emulation::Done);  // in $0x21, %al
    EXPECT_EQ(regs.rax, 0xabcdef00123456ffu);
    EXPECT_EQ(regs.rip, kCode + 2);
    regs.rip = kCode;
    regs.rax = 0xabcdef0012340000;
    ASSERT_EQ(run({0x66, 0xed}), Emulation::Done);  // in %dx, %ax
    EXPECT_EQ(regs.rax, 0xabcdef001234ffffu);
    EXPECT_EQ(regs.rip, kCode + 2);
    regs.rip = kCode;
    ASSERT_EQ(run({0x48, 0xe5, 0x20}), Emulation::Done);  // in $0x20, %eax (REX.W does not widen)
    EXPECT_EQ(regs.rax, 0xffffffffu);
    EXPECT_EQ(regs.rip, kCode + 3);
    regs.rip = kCode;
    regs.rax = 0x55;
    ASSERT_EQ(run({0xef}), Emulation::Done);  // out %eax, %dx
    EXPECT_EQ(regs.rax, 0x55u);
    EXPECT_EQ(regs.rip, kCode + 1);
}

// CLI and STI leave the virtual interrupt flag (the upcall mask) alone.
TEST_F(EmulateIoTest, CliStiAreNoOps) {
    allow_all();
    test::fake_vcpu_platform().upcall_mask = 0;
    ASSERT_EQ(run({0xfa}), Emulation::Done);
    EXPECT_EQ(test::fake_vcpu_platform().upcall_mask, 0);
    EXPECT_EQ(regs.rip, kCode + 1);
    test::fake_vcpu_platform().upcall_mask = 1;
    ASSERT_EQ(run({0xfb}), Emulation::Done);
    EXPECT_EQ(test::fake_vcpu_platform().upcall_mask, 1);
}

// An immediate-port form cut short by the end of the mapping, and other opcodes, are not ours.
TEST_F(EmulateIoTest, NotIoInstructions) {
    allow_all();
    regs.rip = kCode + 3;
    test::fake_guest_memory().map(kCode, std::vector<u8>{0x90, 0x90, 0x90, 0xe4});
    EXPECT_EQ(emulate_privileged(vcpu, regs), Emulation::NotHandled);
    regs.rip = kCode;
    vcpu.kernel_mode = false;
    EXPECT_EQ(run({0xf4}), Emulation::NotHandled);  // hlt
    EXPECT_EQ(run({0x0f, 0x20, 0xd8}), Emulation::NotHandled) << "CR reads stay kernel-only";
}

// REP INSB stores all ones, advances RDI and counts RCX down; DF makes it go down.
TEST_F(EmulateIoTest, RepIns) {
    allow_all();
    test::fake_guest_memory().map(kData, std::vector<u8>(8));
    regs.rdi = kData + 1;
    regs.rcx = 3;
    ASSERT_EQ(run({0xf3, 0x6c}), Emulation::Done);
    EXPECT_EQ(test::fake_guest_memory().at(kData), (std::vector<u8>{0, 0xff, 0xff, 0xff, 0, 0, 0, 0}));
    EXPECT_EQ(regs.rdi, kData + 4);
    EXPECT_EQ(regs.rcx, 0u);
    EXPECT_EQ(regs.rip, kCode + 2);

    test::fake_guest_memory().map(kData, std::vector<u8>(8));
    regs.rip = kCode;
    regs.rdi = kData + 4;
    regs.rcx = 2;
    regs.rflags = 1u << 10;  // DF
    ASSERT_EQ(run({0xf3, 0x66, 0x6d}), Emulation::Done);  // rep insw, downwards
    EXPECT_EQ(test::fake_guest_memory().at(kData), (std::vector<u8>{0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0}));
    EXPECT_EQ(regs.rdi, kData);
    EXPECT_EQ(regs.rcx, 0u);
}

// Without REP one element moves and RCX stays; REP with RCX 0 does nothing but skip.
TEST_F(EmulateIoTest, SingleAndEmptyIns) {
    allow_all();
    test::fake_guest_memory().map(kData, std::vector<u8>(8));
    regs.rdi = kData;
    regs.rcx = 7;
    ASSERT_EQ(run({0x6d}), Emulation::Done);  // insl
    EXPECT_EQ(test::fake_guest_memory().at(kData), (std::vector<u8>{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}));
    EXPECT_EQ(regs.rdi, kData + 4);
    EXPECT_EQ(regs.rcx, 7u);
    regs.rip = kCode;
    regs.rcx = 0;
    ASSERT_EQ(run({0xf3, 0x6c}), Emulation::Done);
    EXPECT_EQ(regs.rdi, kData + 4);
    EXPECT_EQ(regs.rip, kCode + 2);
}

// A 32-bit address size uses EDI/ECX and writes them back zero-extended.
TEST_F(EmulateIoTest, AddressSize32) {
    allow_all();
    test::fake_guest_memory().map(kData, std::vector<u8>(8));
    regs.rdi = 0xdead000000000000 | kData;
    regs.rcx = 0xffffffff00000002;
    ASSERT_EQ(run({0x67, 0xf3, 0x6c}), Emulation::Done);
    EXPECT_EQ(regs.rdi, kData + 2);
    EXPECT_EQ(regs.rcx, 0u);
    EXPECT_EQ(regs.rip, kCode + 3);
}

// A huge REP count is done in slices: RIP stays until RCX reaches 0.
TEST_F(EmulateIoTest, LongRepIsResumable) {
    allow_all();
    test::fake_guest_memory().map(kData, std::vector<u8>(4096));
    regs.rdi = kData;
    regs.rcx = 3000;
    ASSERT_EQ(run({0xf3, 0x6c}), Emulation::Done);
    EXPECT_EQ(regs.rip, kCode);
    EXPECT_EQ(regs.rcx, 3000u - 1024);
    EXPECT_EQ(regs.rdi, kData + 1024);
    while (regs.rip == kCode) ASSERT_EQ(emulate_privileged(vcpu, regs), Emulation::Done);
    EXPECT_EQ(regs.rcx, 0u);
    EXPECT_EQ(regs.rdi, kData + 3000);
    EXPECT_EQ(regs.rip, kCode + 2);
}

// A memory operand that cannot be written or read gives #GP(0), after the elements that worked.
TEST_F(EmulateIoTest, BadMemoryOperand) {
    allow_all();
    test::fake_guest_memory().map(kData, std::vector<u8>(2));
    regs.rdi = kData;
    regs.rcx = 4;
    EXPECT_EQ(run({0xf3, 0x6c}), Emulation::RaiseGp);
    EXPECT_EQ(regs.rcx, 2u);
    EXPECT_EQ(regs.rdi, kData + 2);
    EXPECT_EQ(regs.rip, kCode);
    test::fake_guest_memory().map(kData, std::vector<u8>(8), /*read_only=*/true);
    regs.rdi = kData;
    EXPECT_EQ(run({0x6c}), Emulation::RaiseGp);
    regs.rsi = 0xffff830000000000;
    EXPECT_EQ(run({0x6e}), Emulation::RaiseGp) << "OUTS from Xen's area";
    regs.rsi = 0x0000800000000000 - 2;
    EXPECT_EQ(run({0x6f}), Emulation::RaiseGp) << "OUTSD straddling the hole";
}

// OUTS reads DS:RSI, or FS:/GS:RSI with an override; GS is the base of the current mode.
TEST_F(EmulateIoTest, OutsSegmentOverrides) {
    allow_all();
    test::fake_guest_memory().map(kData + 0x1000, std::vector<u8>(4));
    test::FakeVcpuPlatform& platform = test::fake_vcpu_platform();
    platform.fs_base = kData;
    platform.gs_base_kernel = kData + 0x800;
    platform.gs_base_user = kData + 0x400;
    regs.rsi = 0x1000;
    EXPECT_EQ(run({0x64, 0x6e}), Emulation::Done);  // outsb %fs:(%rsi)
    EXPECT_EQ(regs.rsi, 0x1001u);
    regs.rip = kCode;
    regs.rsi = 0x800;
    EXPECT_EQ(run({0x65, 0x6f}), Emulation::Done);  // outsl %gs:(%rsi), kernel GS
    regs.rip = kCode;
    regs.rsi = 0xc00;
    vcpu.kernel_mode = false;
    EXPECT_EQ(run({0x65, 0x6e}), Emulation::Done);  // user GS
    regs.rip = kCode;
    regs.rsi = 0x1000;
    EXPECT_EQ(run({0x65, 0x6e}), Emulation::RaiseGp) << "user GS base + 0x1000 is not mapped";
    regs.rsi = kData + 0x1000;
    EXPECT_EQ(run({0x3e, 0x6e}), Emulation::Done) << "DS has base 0";
}

// With CR4.DE, an enabled I/O breakpoint is matched on completed port I/O: B0-B3 go into DR6 and
// the guest gets #DB after the instruction. Lengths 1, 2, 4 (LEN 11b) and 8 (10b) bytes, no
// alignment (Xen 4.17); nothing without CR4.DE or when the access misses.
TEST_F(EmulateIoTest, IoBreakpointsRaiseDebugTrapAfterTheAccess) {
    allow_all();
    set_virtual_de(vcpu, 8);
    ASSERT_EQ(set_debug_register(vcpu, 0, 0x80), 0);
    ASSERT_EQ(set_debug_register(vcpu, 1, 0x3f8), 0);
    // DR0: I/O, LEN 1; DR1: I/O, LEN 4 (11b); both enabled locally.
    ASSERT_EQ(set_debug_register(vcpu, 7, 0x1 | 0x4 | (u64{0x2} << 16) | (u64{0xe} << 20)), 0);
    EXPECT_EQ(run({0xe6, 0x80}), Emulation::DoneDebugTrap);  // out %al, $0x80
    EXPECT_EQ(regs.rip, kCode + 2) << "a trap: after the instruction";
    EXPECT_EQ(get_debug_register(vcpu, 6).value(), 0xffff0ff1u);
    ASSERT_EQ(set_debug_register(vcpu, 6, 0), 0);
    EXPECT_EQ(run({0xe6, 0x81}), Emulation::Done) << "the next port";
    regs.rdx = 0x7f;
    EXPECT_EQ(run({0x66, 0xed}), Emulation::DoneDebugTrap) << "in (%dx), %ax covers 0x7f-0x80";
    regs.rdx = 0x3fb;
    EXPECT_EQ(run({0xee}), Emulation::DoneDebugTrap) << "out %al, (%dx): last byte of DR1's 4";
    EXPECT_EQ(get_debug_register(vcpu, 6).value(), 0xffff0ff3u) << "sticky B0, then B1";
    regs.rdx = 0x3fc;
    EXPECT_EQ(run({0xee}), Emulation::Done);
    regs.rdx = 0x80;
    regs.rdi = kData;
    test::fake_guest_memory().map(kData, std::vector<u8>(8));
    EXPECT_EQ(run({0x6c}), Emulation::DoneDebugTrap) << "insb";
    EXPECT_EQ(run({0xfa}), Emulation::Done) << "cli is no port access";
    set_virtual_de(vcpu, 0);
    EXPECT_EQ(run({0xe6, 0x80}), Emulation::Done) << "CR4.DE clear: the breakpoint is dormant";
}

// An I/O access the virtual IOPL refuses is #GP, never a breakpoint hit.
TEST_F(EmulateIoTest, RefusedIoHitsNoBreakpoint) {
    set_virtual_de(vcpu, 8);
    ASSERT_EQ(set_debug_register(vcpu, 0, 0x80), 0);
    ASSERT_EQ(set_debug_register(vcpu, 7, 0x1 | (u64{0x2} << 16)), 0);
    EXPECT_EQ(run({0xe6, 0x80}), Emulation::RaiseGp);
    EXPECT_EQ(get_debug_register(vcpu, 6).value(), 0xffff0ff0u);
}

}  // namespace
}  // namespace hv::pv
