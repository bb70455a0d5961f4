// SPDX-License-Identifier: MIT
// Tests of single-stepping (RFLAGS.TF) over emulated instructions, as Xen 4.17 retires them: a
// completed instruction is followed by #DB with DR6.BS (merged with any I/O breakpoint hit), a
// REP INS/OUTS steps per element, CLI/STI do not step, and a refused instruction only faults.
#include <gtest/gtest.h>

#include <vector>

#include "hv/pv/emulate.hpp"
#include "hv/pv/guest_traps.hpp"
#include "hv/pv/vcpu_registers.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_pv_vcpu.hpp"

namespace hv::pv {
namespace {

constexpr u64 kCode = 0x17000000;
constexpr u64 kData = 0x17100000;
constexpr u64 kStackTop = 0x17200000;
constexpr u64 kDebugHandler = 0xabc001, kGpHandler = 0xabc00d;
constexpr u64 kTf = 1u << 8, kRf = 1u << 16;
constexpr u64 kDr6Default = 0xffff0ff0, kDr6Bs = 1u << 14;

struct EmulateSingleStepTest : ::testing::Test, test::PvVcpuFixture {
    arch::TrapFrame regs{};
    EmulateSingleStepTest() {
        regs.cs = xen::kFlatKernelCs;
        regs.ss = xen::kFlatKernelSs;
        regs.rsp = kStackTop - 0x100;
        regs.rflags = 0x202 | kTf;
        zeros(kStackTop - 0x1000, 0x1000);
        zeros(kData, 0x100);
        vcpu.traps[1] = TrapEntry{kDebugHandler, 0xe033, 0, true};
        vcpu.traps[13] = TrapEntry{kGpHandler, 0xe033, 0, true};
        vcpu.iopl = 1;  // the kernel (CPL 1) may do port I/O
    }
    Emulation run(std::vector<u8> bytes) {
        test::fake_guest_memory().map(kCode, std::move(bytes));
        regs.rip = kCode;
        return emulate_privileged(vcpu, regs);
    }
    // The CPU's fault at kCode, handled as the hypervisor does; returns where the guest resumes.
    u64 fault(unsigned vector, std::vector<u8> bytes) {
        test::fake_guest_memory().map(kCode, std::move(bytes));
        regs.rip = kCode;
        regs.vector = vector;
        regs.error_code = 0;
        handle_guest_exception(vcpu, regs, 0);
        return regs.rip;
    }
    u64 dr6() { return get_debug_register(vcpu, 6).value(); }
    // The RIP the bounce frame saved for the handler: [RCX, R11, (error code,) RIP, ...] at RSP.
    u64 frame_rip(bool error_code = false) { return get<u64>(regs.rsp + (error_code ? 24 : 16)); }
};

// Every emulated instruction kind, completed under TF: #DB after it with BS, RIP past it.
TEST_F(EmulateSingleStepTest, CompletedInstructionsStepWithBs) {
    const std::vector<std::pair<const char*, std::vector<u8>>> insns = {
        {"out %al, $0x80", {0xe6, 0x80}}, {"in (%dx), %al", {0xec}},     {"mov %cr0, %rax", {0x0f, 0x20, 0xc0}},
        {"mov %cr2, %rax", {0x0f, 0x22, 0xd0}}, {"mov %dr7, %rax", {0x0f, 0x21, 0xf8}}, {"clts", {0x0f, 0x06}},
    };
    for (const auto& [name, bytes] : insns) {
        ASSERT_EQ(set_debug_register(vcpu, 6, 0), 0);
        EXPECT_EQ(run(bytes), Emulation::DoneDebugTrap) << name;
        EXPECT_EQ(regs.rip, kCode + bytes.size()) << name << ": the #DB is a trap, after the instruction";
        EXPECT_EQ(dr6(), kDr6Default | kDr6Bs) << name;
    }
    regs.rcx = 0x277;  // rdmsr PAT
    ASSERT_EQ(set_debug_register(vcpu, 6, 0), 0);
    EXPECT_EQ(run({0x0f, 0x32}), Emulation::DoneDebugTrap) << "rdmsr";
    EXPECT_EQ(dr6(), kDr6Default | kDr6Bs);
}

// The forced-emulation CPUID (a #UD) steps too: Xen's pv_emul_instruction_done.
TEST_F(EmulateSingleStepTest, ForcedCpuidSteps) {
    test::fake_guest_memory().map(kCode, {0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2, 0x90});
    regs.rip = kCode;
    regs.rax = 0x40000000;
    EXPECT_EQ(emulate_invalid_opcode(vcpu, regs), Emulation::DoneDebugTrap);
    EXPECT_EQ(regs.rip, kCode + 7);
    EXPECT_EQ(regs.rbx, 0x566e6558u) << "the CPUID still happened";
    EXPECT_EQ(dr6(), kDr6Default | kDr6Bs);
}

// Without TF nothing is raised and DR6 stays as it was.
TEST_F(EmulateSingleStepTest, NoStepWithoutTf) {
    regs.rflags &= ~kTf;
    EXPECT_EQ(run({0xe6, 0x80}), Emulation::Done);
    EXPECT_EQ(run({0x0f, 0x20, 0xc0}), Emulation::Done);
    EXPECT_EQ(dr6(), kDr6Default);
}

// CLI/STI are retired by Xen's validate() as X86EMUL_DONE, which 4.17 does not single-step.
TEST_F(EmulateSingleStepTest, CliStiDoNotStep) {
    EXPECT_EQ(run({0xfa}), Emulation::Done);
    EXPECT_EQ(run({0xfb}), Emulation::Done);
    EXPECT_EQ(regs.rip, kCode + 1);
    EXPECT_EQ(dr6(), kDr6Default);
}

// An I/O breakpoint hit by the stepped instruction: one #DB, DR6 has both Bn and BS.
TEST_F(EmulateSingleStepTest, IoBreakpointMergesWithBs) {
    set_virtual_de(vcpu, 8);
    ASSERT_EQ(set_debug_register(vcpu, 2, 0x80), 0);
    ASSERT_EQ(set_debug_register(vcpu, 7, (u64{1} << 4) | (u64{0x2} << 24)), 0);  // L2, I/O, 1 byte
    EXPECT_EQ(run({0xe6, 0x80}), Emulation::DoneDebugTrap);
    EXPECT_EQ(dr6(), kDr6Default | kDr6Bs | 4);
    ASSERT_EQ(set_debug_register(vcpu, 6, 0), 0);
    EXPECT_EQ(run({0xe6, 0x81}), Emulation::DoneDebugTrap) << "the next port: the step alone";
    EXPECT_EQ(dr6(), kDr6Default | kDr6Bs);
}

// A REP INS under TF does one element per emulation, each followed by #DB with RIP still on the
// instruction, until RCX reaches 0 (x86_emulate's get_rep_prefix clamps to 1 under TF).
TEST_F(EmulateSingleStepTest, RepStringStepsPerElement) {
    regs.rdi = kData;
    regs.rcx = 3;
    for (u64 left = 2; left > 0; --left) {
        EXPECT_EQ(run({0xf3, 0x6c}), Emulation::DoneDebugTrap);
        EXPECT_EQ(regs.rip, kCode) << "more to do: RIP stays on the instruction";
        EXPECT_EQ(regs.rcx, left);
    }
    EXPECT_EQ(run({0xf3, 0x6c}), Emulation::DoneDebugTrap);
    EXPECT_EQ(regs.rcx, 0u);
    EXPECT_EQ(regs.rdi, kData + 3);
    EXPECT_EQ(regs.rip, kCode + 2);
    EXPECT_EQ(dr6(), kDr6Default | kDr6Bs);
}

// Without TF, a REP OUTS to a watched port also stops after each element (Xen's rep_outs breaks
// on bpmatch); REP with RCX = 0 accesses no port, so it hits no breakpoint (TF still steps it).
TEST_F(EmulateSingleStepTest, RepStringBreakpointPerElement) {
    regs.rflags &= ~kTf;
    set_virtual_de(vcpu, 8);
    ASSERT_EQ(set_debug_register(vcpu, 0, 0x80), 0);
    ASSERT_EQ(set_debug_register(vcpu, 7, 1 | (u64{0x2} << 16)), 0);  // L0, I/O, 1 byte
    regs.rdx = 0x80;
    regs.rsi = kData;
    regs.rcx = 2;
    EXPECT_EQ(run({0xf3, 0x6e}), Emulation::DoneDebugTrap);
    EXPECT_EQ(regs.rcx, 1u);
    EXPECT_EQ(regs.rip, kCode);
    EXPECT_EQ(run({0xf3, 0x6e}), Emulation::DoneDebugTrap);
    EXPECT_EQ(regs.rip, kCode + 2);
    EXPECT_EQ(dr6(), kDr6Default | 1);
    ASSERT_EQ(set_debug_register(vcpu, 6, 0), 0);
    EXPECT_EQ(run({0xf3, 0x6e}), Emulation::Done) << "RCX 0: nothing accessed";
    EXPECT_EQ(regs.rip, kCode + 2);
    regs.rflags |= kTf;
    EXPECT_EQ(run({0xf3, 0x6e}), Emulation::DoneDebugTrap) << "RCX 0 under TF: still a step";
    EXPECT_EQ(dr6(), kDr6Default | kDr6Bs);
}

// A refused instruction is no step: the fault is delivered, at the instruction, and DR6 is left.
TEST_F(EmulateSingleStepTest, RefusedInstructionFaultsWithoutStep) {
    vcpu.iopl = 0;
    EXPECT_EQ(run({0xe6, 0x80}), Emulation::RaiseGp);
    EXPECT_EQ(run({0x0f, 0x22, 0xd8}), Emulation::RaiseGp) << "mov to %cr3: not emulated";
    EXPECT_EQ(regs.rip, kCode);
    EXPECT_EQ(dr6(), kDr6Default);
    EXPECT_EQ(fault(13, {0xe6, 0x80}), kGpHandler);
    EXPECT_EQ(frame_rip(/*error_code=*/true), kCode) << "#GP at the OUT";
    EXPECT_EQ(dr6(), kDr6Default);
}

// Through the trap path: the #GP becomes the emulated OUT plus a #DB at the handler, whose frame
// has RIP after the OUT; the handler runs with TF clear.
TEST_F(EmulateSingleStepTest, DebugTrapBouncedAfterTheInstruction) {
    EXPECT_EQ(fault(13, {0xe6, 0x80}), kDebugHandler);
    EXPECT_EQ(frame_rip(), kCode + 2);
    EXPECT_EQ(regs.rflags & kTf, 0u);
    EXPECT_EQ(dr6(), kDr6Default | kDr6Bs);
    regs.rflags = 0x202 | kTf;
    regs.rsp = kStackTop - 0x100;
    regs.rax = 0x40000000;
    EXPECT_EQ(fault(6, {0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2}), kDebugHandler) << "forced CPUID";
    EXPECT_EQ(frame_rip(), kCode + 7);
}

// RF, which the CPU sets in a fault's RFLAGS image, is cleared once the instruction is emulated,
// so an instruction breakpoint on the next one is not suppressed (Xen clears it too).
TEST_F(EmulateSingleStepTest, EmulationClearsResumeFlag) {
    regs.rflags = 0x202 | kRf;
    EXPECT_EQ(run({0x0f, 0x20, 0xc0}), Emulation::Done);
    EXPECT_EQ(regs.rflags & kRf, 0u);
}

}  // namespace
}  // namespace hv::pv
