// SPDX-License-Identifier: MIT
// Tests of bounce frames, guest exceptions, INT n, user SYSCALL and the iret hypercall.
#include "hv/pv/guest_traps.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "hv/pv/bounce.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_guest_memory.hpp"
#include "support/fake_guest_mode.hpp"
#include "support/host_console.hpp"

namespace hv::pv {
namespace {

constexpr u64 kKernelStackTop = 0x200000;  // 16 KiB of fake kernel stack below this
constexpr u64 kUserStackTop = 0x300000;
constexpr u64 kCode = 0x100000;

struct GuestTrapsTest : ::testing::Test {
    Domain domain{};
    Vcpu& vcpu = domain.vcpus[0];
    arch::TrapFrame regs{};

    void SetUp() override {
        domain.id = 1;
        domain.state = DomainState::Running;
        vcpu.domain = &domain;
        vcpu.kernel_mode = true;
        vcpu.kernel_cr3 = 0x1000;
        test::fake_guest_memory().map(kKernelStackTop - 0x4000, std::vector<u8>(0x4000));
        test::fake_guest_memory().map(kUserStackTop - 0x4000, std::vector<u8>(0x4000));
        test::fake_vcpu_platform() = {};
        test::take_console_output();
        regs.rip = kCode + 0x10;
        regs.cs = xen::kFlatKernelCs;
        regs.ss = xen::kFlatKernelSs;
        regs.rsp = kKernelStackTop - 0x108;  // deliberately not 16-byte aligned
        regs.rflags = 0x246;
        regs.rcx = 0xc1;
        regs.r11 = 0x11;
    }
    u64 stack_word(u64 va) {
        u64 value = 0;
        EXPECT_TRUE(test::fake_guest_memory().read(va, &value, 8));
        return value;
    }
    void install(unsigned vector, u8 dpl, bool mask = true) { vcpu.traps[vector] = TrapEntry{0xabc000 + vector, 0xe033, dpl, mask}; }
};

// A kernel-mode #UD: 7 words below the aligned interrupted RSP, CS with RPL cleared and the saved
// mask in bits 32-39, IF showing the (masked) virtual flag.
TEST_F(GuestTrapsTest, KernelUdBounceFrame) {
    install(6, 0);
    regs.vector = 6;
    handle_guest_exception(vcpu, regs, 0);
    ASSERT_EQ(domain.state, DomainState::Running);
    const u64 base = ((kKernelStackTop - 0x108) & ~u64{0xf}) - 7 * 8;
    EXPECT_EQ(regs.rsp, base);
    EXPECT_EQ(regs.rip, 0xabc006u);
    EXPECT_EQ(stack_word(base + 0x00), 0xc1u);  // RCX
    EXPECT_EQ(stack_word(base + 0x08), 0x11u);  // R11
    EXPECT_EQ(stack_word(base + 0x10), kCode + 0x10);
    EXPECT_EQ(stack_word(base + 0x18), 0x1'0000'e030u);
    EXPECT_EQ(stack_word(base + 0x20) & 0x200, 0u) << "IF must show the masked virtual flag";
    EXPECT_EQ(stack_word(base + 0x28), kKernelStackTop - 0x108);
    EXPECT_EQ(stack_word(base + 0x30), xen::kFlatKernelSs);
}

// A user-mode #PF switches to kernel mode, lands on the stack_switch stack, sets U in the error
// code and reports CR2.
TEST_F(GuestTrapsTest, UserPageFaultSwitchesStacksAndSetsU) {
    install(14, 0);
    vcpu.kernel_mode = false;
    vcpu.user_cr3 = 0x2000;
    vcpu.kernel_sp = kKernelStackTop;
    regs.rsp = kUserStackTop - 8;
    regs.vector = 14;
    regs.error_code = 0x6;  // the CPU's W|U
    test::fake_vcpu_platform().upcall_mask = 0;
    handle_guest_exception(vcpu, regs, 0xdead000);
    EXPECT_TRUE(vcpu.kernel_mode);
    const u64 base = kKernelStackTop - 8 * 8;
    EXPECT_EQ(regs.rsp, base);
    EXPECT_EQ(stack_word(base + 0x10), 0x6u);
    EXPECT_EQ(stack_word(base + 0x20), 0xe033u) << "user CS keeps RPL 3; saved mask 0";
    EXPECT_EQ(stack_word(base + 0x28) & 0x200, 0x200u);
    EXPECT_EQ(test::fake_vcpu_platform().cr2, 0xdead000u);
    EXPECT_EQ(test::fake_vcpu_platform().upcall_mask, 1) << "trap entry masks events";
}

// A kernel-mode #PF reports U clear even though the CPU said U.
TEST_F(GuestTrapsTest, KernelPageFaultClearsU) {
    install(14, 0);
    regs.vector = 14;
    regs.error_code = 0x6;
    handle_guest_exception(vcpu, regs, 0x1234);
    EXPECT_EQ(stack_word(regs.rsp + 0x10), 0x2u);
}

// No handler for the vector: the domain is crashed with a reason.
TEST_F(GuestTrapsTest, MissingHandlerCrashes) {
    regs.vector = 6;
    handle_guest_exception(vcpu, regs, 0);
    EXPECT_EQ(domain.state, DomainState::Crashed);
    EXPECT_NE(test::take_console_output().find("unhandled exception vector 6"), std::string::npos);
}

// A bounce frame that cannot be written (unmapped stack) crashes the domain.
TEST_F(GuestTrapsTest, UnwritableStackCrashes) {
    install(6, 0);
    regs.vector = 6;
    regs.rsp = 0x800000000badc0de;  // non-canonical, as XTF's crash helper
    handle_guest_exception(vcpu, regs, 0);
    EXPECT_EQ(domain.state, DomainState::Crashed);
}

// INT n is decoded from the instruction (prefixes included) and checked against the entry's DPL.
TEST_F(GuestTrapsTest, IntNDecodedFromInstructionBytes) {
    u8 vector = 0;
    const u8 plain[] = {0xcd, 0x21};
    EXPECT_EQ(decode_int_n(plain, 2, vector), 2u);
    EXPECT_EQ(vector, 0x21);
    const u8 prefixed[] = {0x66, 0x48, 0xcd, 0x80};
    EXPECT_EQ(decode_int_n(prefixed, 4, vector), 4u);
    EXPECT_EQ(vector, 0x80);
    const u8 not_int[] = {0x0f, 0x0b};
    EXPECT_EQ(decode_int_n(not_int, 2, vector), 0u);
    const u8 truncated[] = {0x66, 0xcd};
    EXPECT_EQ(decode_int_n(truncated, 2, vector), 0u);
}

TEST_F(GuestTrapsTest, IntNAllowedAdvancesRip) {
    test::fake_guest_memory().map(kCode + 0x10, {0xcd, 0x21});
    install(0x21, 3);
    install(13, 0);
    regs.vector = 13;
    regs.error_code = 0x21 * 16 + 2;  // what QEMU TCG reports
    handle_guest_exception(vcpu, regs, 0);
    EXPECT_EQ(regs.rip, 0xabc021u);
    EXPECT_EQ(stack_word(regs.rsp + 0x10), kCode + 0x12) << "frame RIP is after the INT";
}

TEST_F(GuestTrapsTest, IntNDeniedIsGpWithVectorErrorCode) {
    test::fake_guest_memory().map(kCode + 0x10, {0xcd, 0x21});
    install(0x21, 0);
    install(13, 0);
    regs.vector = 13;
    regs.error_code = 0x21 * 16 + 2;
    handle_guest_exception(vcpu, regs, 0);
    EXPECT_EQ(regs.rip, 0xabc00du);
    EXPECT_EQ(stack_word(regs.rsp + 0x10), 0x21u * 8 + 2);
    EXPECT_EQ(stack_word(regs.rsp + 0x18), kCode + 0x10) << "RIP stays at the INT";
}

// SYSCALL from user mode with no callback becomes #UD at the SYSCALL.
TEST_F(GuestTrapsTest, UserSyscallWithoutCallbackIsUd) {
    install(6, 0);
    vcpu.kernel_mode = false;
    vcpu.user_cr3 = 0x2000;
    vcpu.kernel_sp = kKernelStackTop;
    regs.rsp = kUserStackTop - 8;
    handle_user_syscall(vcpu, regs);
    EXPECT_EQ(regs.rip, 0xabc006u);
    EXPECT_EQ(stack_word(regs.rsp + 0x10), kCode + 0x0e);
}

// The iret hypercall restores the frame, switches to user mode for RPL 3 and sets the mask.
TEST_F(GuestTrapsTest, IretToUser) {
    vcpu.user_cr3 = 0x2000;
    const xen::IretContext context{7, 0x111, 0x222, 0, kCode + 0x40, 0xe033, 0x202, kUserStackTop - 0x10, 0xe02b};
    const u64 at = kKernelStackTop - 0x100;
    ASSERT_TRUE(test::fake_guest_memory().write(at, &context, sizeof context));
    regs.rsp = at;
    do_iret(vcpu, regs);
    EXPECT_FALSE(vcpu.kernel_mode);
    EXPECT_EQ(regs.rip, kCode + 0x40);
    EXPECT_EQ(regs.rax, 7u);
    EXPECT_EQ(regs.rcx, 0x222u);
    EXPECT_EQ(regs.r11, 0x111u);
    EXPECT_EQ(test::fake_vcpu_platform().upcall_mask, 0);
}

// iret to user mode without a user root, or from an unreadable frame, crashes the domain.
TEST_F(GuestTrapsTest, IretFailuresCrash) {
    const xen::IretContext context{0, 0, 0, 0, kCode, 0xe033, 0x202, kUserStackTop, 0xe02b};
    ASSERT_TRUE(test::fake_guest_memory().write(kKernelStackTop - 0x100, &context, sizeof context));
    regs.rsp = kKernelStackTop - 0x100;
    do_iret(vcpu, regs);
    EXPECT_EQ(domain.state, DomainState::Crashed);
    domain.state = DomainState::Running;
    regs.rsp = 0xffff830000000000;
    do_iret(vcpu, regs);
    EXPECT_EQ(domain.state, DomainState::Crashed);
}

// iret never lets the guest set IOPL or VM, and always leaves IF on.
TEST_F(GuestTrapsTest, IretSanitisesFlags) {
    const xen::IretContext context{0, 0, 0, xen::kVgcfInSyscall, kCode, 0xe030, 0x23000, kKernelStackTop, 0xe02b};
    ASSERT_TRUE(test::fake_guest_memory().write(kKernelStackTop - 0x100, &context, sizeof context));
    regs.rsp = kKernelStackTop - 0x100;
    do_iret(vcpu, regs);
    EXPECT_EQ(regs.rflags & 0x23000, 0u);
    EXPECT_EQ(regs.rflags & 0x200, 0x200u);
    EXPECT_EQ(regs.rcx, 0xc1u) << "VGCF_in_syscall leaves RCX alone";
    EXPECT_EQ(test::fake_vcpu_platform().upcall_mask, 1) << "IF clear in the frame masks events";
    EXPECT_TRUE(vcpu.kernel_mode);
}

}  // namespace
}  // namespace hv::pv
