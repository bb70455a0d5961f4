// SPDX-License-Identifier: MIT
// Tests of privileged-instruction emulation and the CPUID policy.
#include "hv/pv/emulate.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "hv/pv/domain.hpp"
#include "support/fake_guest_memory.hpp"

namespace hv::pv {
namespace {

constexpr u64 kCode = 0x500000;

struct EmulateTest : ::testing::Test {
    Domain domain{};
    Vcpu& vcpu = domain.vcpus[0];
    arch::TrapFrame regs{};
    void SetUp() override {
        vcpu.domain = &domain;
        vcpu.kernel_mode = true;
        vcpu.kernel_cr3 = 0x1234000;
        regs.rip = kCode;
    }
    void code(std::vector<u8> bytes) { test::fake_guest_memory().map(kCode, std::move(bytes)); }
};

// Forced-emulation CPUID returns the policy and skips all 7 bytes.
TEST_F(EmulateTest, ForcedCpuidHypervisorLeaf) {
    code({0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2, 0x90});
    regs.rax = 0x40000000;
    ASSERT_EQ(emulate_invalid_opcode(vcpu, regs), Emulation::Done);
    EXPECT_EQ(regs.rip, kCode + 7);
    EXPECT_EQ(regs.rbx, 0x566e6558u);  // "XenV"
    EXPECT_EQ(regs.rcx, 0x65584d4du);  // "MMXe"
    EXPECT_EQ(regs.rdx, 0x4d4d566eu);  // "nVMM"
}

// The forced prefix followed by anything but CPUID, or a plain ud2, stays a #UD.
TEST_F(EmulateTest, ForcedPrefixWithoutCpuidIsNotEmulated) {
    code({0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x90, 0x90});
    EXPECT_EQ(emulate_invalid_opcode(vcpu, regs), Emulation::NotHandled);
    code({0x0f, 0x0b, 0x90, 0x90, 0x90, 0x90, 0x90});
    EXPECT_EQ(emulate_invalid_opcode(vcpu, regs), Emulation::NotHandled);
    EXPECT_EQ(regs.rip, kCode);
}

// Leaf 1 hides VMX and x2APIC and sets the hypervisor bit; leaf 7 hides FSGSBASE.
TEST_F(EmulateTest, CpuidPolicyFiltersFeatures) {
    const CpuidLeaf leaf1 = guest_cpuid(1, 0);
    EXPECT_EQ(leaf1.ecx & ((1u << 5) | (1u << 21)), 0u);
    EXPECT_NE(leaf1.ecx & (1u << 31), 0u);
    EXPECT_NE(leaf1.ecx & 1u, 0u) << "unrelated features pass through";
    EXPECT_EQ(guest_cpuid(7, 0).ebx & 1u, 0u);
}

// mov %cr3, %rax reads the guest's own L4; mov %cr0, %r9 (REX.B) the fixed CR0.
TEST_F(EmulateTest, ControlRegisterReads) {
    code({0x0f, 0x20, 0xd8});  // mov %cr3, %rax
    ASSERT_EQ(emulate_privileged(vcpu, regs), Emulation::Done);
    EXPECT_EQ(regs.rax, 0x1234000u);
    EXPECT_EQ(regs.rip, kCode + 3);
    regs.rip = kCode;
    code({0x41, 0x0f, 0x20, 0xc1});  // mov %cr0, %r9
    ASSERT_EQ(emulate_privileged(vcpu, regs), Emulation::Done);
    EXPECT_EQ(regs.r9, 0x80050033u);
    EXPECT_EQ(regs.rip, kCode + 4);
}

// CR8 and other control registers are #GP.
TEST_F(EmulateTest, UnknownControlRegisterIsGp) {
    code({0x44, 0x0f, 0x20, 0xc0});  // mov %cr8, %rax
    EXPECT_EQ(emulate_privileged(vcpu, regs), Emulation::RaiseGp);
}

// In guest user mode nothing privileged is emulated.
TEST_F(EmulateTest, UserModeIsNeverEmulated) {
    code({0x0f, 0x20, 0xd8});
    vcpu.kernel_mode = false;
    EXPECT_EQ(emulate_privileged(vcpu, regs), Emulation::NotHandled);
}

// RDMSR of PAT gives Xen's fixed value; unknown MSRs and changing writes are #GP.
TEST_F(EmulateTest, MsrPolicy) {
    code({0x0f, 0x32});
    regs.rcx = 0x277;
    ASSERT_EQ(emulate_privileged(vcpu, regs), Emulation::Done);
    EXPECT_EQ((regs.rdx << 32) | regs.rax, 0x0000050100070406u);
    regs.rip = kCode;
    regs.rcx = 0x1d9;  // DEBUGCTL: #GP on Xen 4.17 for PV
    EXPECT_EQ(emulate_privileged(vcpu, regs), Emulation::RaiseGp);
    code({0x0f, 0x30});
    regs.rcx = 0x277;
    regs.rax = 0;
    regs.rdx = 0;
    EXPECT_EQ(emulate_privileged(vcpu, regs), Emulation::RaiseGp);
}

// An instruction the guest cannot even fetch is not emulated.
TEST_F(EmulateTest, UnfetchableInstruction) {
    regs.rip = 0x7770000;
    EXPECT_EQ(emulate_privileged(vcpu, regs), Emulation::NotHandled);
    EXPECT_EQ(emulate_invalid_opcode(vcpu, regs), Emulation::NotHandled);
}

}  // namespace
}  // namespace hv::pv
