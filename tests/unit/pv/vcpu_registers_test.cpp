// SPDX-License-Identifier: MIT
// Tests of the virtual CR0.TS, debug registers and IOPL through emulated instructions and traps:
// CLTS and mov to/from %cr0, mov %drN, #NM delivery, and the IOPL in iret and bounce frames.
#include <gtest/gtest.h>

#include <vector>

#include "hv/pv/emulate.hpp"
#include "hv/pv/guest_traps.hpp"
#include "hv/pv/vcpu_private.hpp"
#include "hv/pv/vcpu_registers.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_pv_vcpu.hpp"

namespace hv::pv {
namespace {

constexpr u64 kCode = 0x16000000;
constexpr u64 kStackTop = 0x16200000;
constexpr u64 kIretFrame = 0x16300000;
constexpr u64 kCr0Ts = 8;

struct VcpuRegistersTest : ::testing::Test, test::PvVcpuFixture {
    arch::TrapFrame regs{};
    VcpuRegistersTest() {
        regs.rip = kCode;
        regs.cs = xen::kFlatKernelCs;
        regs.ss = xen::kFlatKernelSs;
        regs.rsp = kStackTop - 0x100;
        regs.rflags = 0x202;
        zeros(kStackTop - 0x1000, 0x1000);
        for (unsigned vector : {6u, 7u, 13u}) vcpu.traps[vector] = TrapEntry{0xabc000 + vector, 0xe033, 0, true};
    }
    Emulation run(std::vector<u8> bytes) {
        test::fake_guest_memory().map(kCode, std::move(bytes));
        regs.rip = kCode;
        return emulate_privileged(vcpu, regs);
    }
    u64 cr0() {
        EXPECT_EQ(run({0x0f, 0x20, 0xc0}), Emulation::Done);  // mov %cr0, %rax
        return regs.rax;
    }
    // Raises `vector` with an error code at kCode, as the CPU would, and returns the handler hit.
    u64 trap(unsigned vector, u64 error_code, std::vector<u8> bytes) {
        test::fake_guest_memory().map(kCode, std::move(bytes));
        regs.rip = kCode;
        regs.vector = vector;
        regs.error_code = error_code;
        handle_guest_exception(vcpu, regs, 0);
        return regs.rip;
    }
};

// CR0 reads show the virtual TS; CLTS and mov to %cr0 change it (and the hardware TS).
TEST_F(VcpuRegistersTest, Cr0TaskSwitched) {
    EXPECT_EQ(cr0() & kCr0Ts, 0u);
    set_virtual_ts(vcpu, true);
    EXPECT_EQ(cr0() & kCr0Ts, kCr0Ts);
    EXPECT_EQ(run({0x0f, 0x06}), Emulation::Done);  // clts
    EXPECT_FALSE(vcpu.cr0_ts);
    EXPECT_FALSE(test::fake_vcpu_platform().hardware_ts);
    EXPECT_EQ(regs.rip, kCode + 2);
    regs.rax = cr0() | kCr0Ts;
    EXPECT_EQ(run({0x0f, 0x22, 0xc0}), Emulation::Done);  // mov %rax, %cr0
    EXPECT_TRUE(vcpu.cr0_ts);
    EXPECT_TRUE(test::fake_vcpu_platform().hardware_ts);
    regs.rax = cr0() & ~kCr0Ts;
    EXPECT_EQ(run({0x0f, 0x22, 0xc0}), Emulation::Done);
    EXPECT_FALSE(vcpu.cr0_ts);
}

// Changing any CR0 bit but TS is #GP(0) and changes nothing.
TEST_F(VcpuRegistersTest, Cr0OtherBitsAreRefused) {
    set_virtual_ts(vcpu, true);
    for (u64 bit : {1ull << 0, 1ull << 16, 1ull << 31, 1ull << 2, 1ull << 63}) {
        regs.rax = (cr0() ^ bit) & ~kCr0Ts;
        EXPECT_EQ(run({0x0f, 0x22, 0xc0}), Emulation::RaiseGp) << bit;
        EXPECT_TRUE(vcpu.cr0_ts);
    }
}

// mov to/from %drN with REX.B/REX.R, checked by set_debug_register's rules.
TEST_F(VcpuRegistersTest, DebugRegisterMoves) {
    regs.r9 = 0x7000;
    EXPECT_EQ(run({0x44, 0x0f, 0x23, 0xc9}), Emulation::RaiseUd) << "mov %rcx, %dr9 (REX.R)";
    EXPECT_EQ(run({0x41, 0x0f, 0x23, 0xd9}), Emulation::Done);  // mov %r9, %dr3
    EXPECT_EQ(vcpu_private(vcpu)->dr[3], 0x7000u);
    EXPECT_EQ(regs.rip, kCode + 4);
    EXPECT_EQ(run({0x0f, 0x21, 0xda}), Emulation::Done);  // mov %dr3, %rdx
    EXPECT_EQ(regs.rdx, 0x7000u);
    EXPECT_EQ(run({0x0f, 0x21, 0x38}), Emulation::Done) << "mod bits are ignored: mov %dr7, %rax";
    EXPECT_EQ(regs.rax, 0x400u);
    EXPECT_EQ(run({0x0f, 0x21, 0xe0}), Emulation::Done);  // mov %dr4, %rax: DR6
    EXPECT_EQ(regs.rax, 0xffff0ff0u);
    regs.rax = 0x2000;
    EXPECT_EQ(run({0x0f, 0x23, 0xf8}), Emulation::RaiseGp) << "DR7.GD";
    regs.rax = 0xffff830000000000;
    EXPECT_EQ(run({0x0f, 0x23, 0xc0}), Emulation::RaiseGp) << "DR0 in Xen's area";
    regs.rax = u64{1} << 32;
    EXPECT_EQ(run({0x0f, 0x23, 0xf0}), Emulation::RaiseGp) << "DR6 upper half";
    EXPECT_EQ(run({0x44, 0x0f, 0x21, 0xc0}), Emulation::RaiseUd) << "mov %dr8, %rax";
    EXPECT_EQ(run({0x0f, 0x21}), Emulation::NotHandled) << "truncated";
    vcpu.kernel_mode = false;
    EXPECT_EQ(run({0x0f, 0x21, 0xc0}), Emulation::NotHandled) << "user mode: the #GP stands";
}

// A #GP from mov %dr8 is delivered to the guest as #UD.
// Every accepted change reaches the hardware sync hook (which loads it when the vCPU runs);
// DR7 counts as active only with an enable bit; refused writes change nothing.
TEST_F(VcpuRegistersTest, DebugRegisterChangesAreSynced) {
    auto& platform = test::fake_vcpu_platform();
    EXPECT_FALSE(debug_registers_active(vcpu));
    EXPECT_EQ(set_debug_register(vcpu, 0, 0x401000), 0);
    EXPECT_EQ(platform.debug_register_syncs, 1u);
    EXPECT_EQ(set_debug_register(vcpu, 7, 0xd0000), 0) << "R/W and LEN without an enable bit";
    EXPECT_FALSE(debug_registers_active(vcpu));
    EXPECT_EQ(set_debug_register(vcpu, 7, 0xd0001), 0);
    EXPECT_TRUE(debug_registers_active(vcpu));
    EXPECT_EQ(platform.debug_register_syncs, 3u);
    EXPECT_EQ(set_debug_register(vcpu, 0, 0xffff82d080000000), -xen::kEPERM);
    EXPECT_EQ(set_debug_register(vcpu, 7, 0x2000), -xen::kEPERM);
    EXPECT_EQ(platform.debug_register_syncs, 3u) << "refused writes are not synced";
    EXPECT_TRUE(debug_registers_active(vcpu));
}

// Every instruction, write and read/write breakpoint (R/W 00b, 01b, 11b) of every length is
// accepted in every slot, enabled locally or globally, and reads back as written; an enabled I/O
// breakpoint (10b) is -EPERM in every slot (CR4.DE is always clear) and leaves DR7 alone.
TEST_F(VcpuRegistersTest, EveryBreakpointKindButIoIsAccepted) {
    for (unsigned slot = 0; slot < 4; ++slot) {
        for (u64 enable : {u64{1}, u64{2}}) {
            const u64 enable_bits = enable << (2 * slot);
            for (u64 rw : {u64{0}, u64{1}, u64{3}}) {
                for (u64 len = 0; len < 4; ++len) {
                    const u64 dr7 = enable_bits | ((rw | (len << 2)) << (16 + 4 * slot));
                    ASSERT_EQ(set_debug_register(vcpu, 7, dr7), 0) << std::hex << dr7;
                    EXPECT_EQ(get_debug_register(vcpu, 7).value(), dr7 | 0x400) << std::hex << dr7;
                    EXPECT_TRUE(debug_registers_active(vcpu)) << std::hex << dr7;
                }
            }
            const u64 io = enable_bits | (u64{2} << (16 + 4 * slot));
            EXPECT_EQ(set_debug_register(vcpu, 7, io), -xen::kEPERM) << std::hex << io;
            EXPECT_EQ(get_debug_register(vcpu, 7).value(), enable_bits | (u64{0xf} << (16 + 4 * slot)) | 0x400);
        }
    }
}

// CR4 shows Xen's fixed bits plus the virtual DE, the one bit a write changes (CPUID has DE).
TEST_F(VcpuRegistersTest, Cr4DebuggingExtensions) {
    auto cr4 = [&] {
        EXPECT_EQ(run({0x0f, 0x20, 0xe0}), Emulation::Done);  // mov %cr4, %rax
        return regs.rax;
    };
    EXPECT_EQ(cr4(), 0x660u);
    regs.rax = 0x660 | 0x8 | 0x4;  // DE and TSD
    EXPECT_EQ(run({0x0f, 0x22, 0xe0}), Emulation::Done);  // mov %rax, %cr4
    EXPECT_TRUE(vcpu.cr4_de);
    EXPECT_EQ(cr4(), 0x668u);
    regs.rax = 0;
    EXPECT_EQ(run({0x0f, 0x22, 0xe0}), Emulation::Done);
    EXPECT_EQ(cr4(), 0x660u);
}

// I/O breakpoints need CR4.DE (else -EPERM); enabled, their enable bits stay out of the hardware
// DR7 but read back. With CR4.DE set, DR4 and DR5 do not exist (-ENODEV).
TEST_F(VcpuRegistersTest, IoBreakpointsNeedCr4De) {
    EXPECT_EQ(set_debug_register(vcpu, 7, 0x20001), -xen::kEPERM);
    EXPECT_EQ(set_debug_register(vcpu, 4, 0), 0) << "DR4 is DR6 while CR4.DE is clear";
    set_virtual_de(vcpu, 8);
    EXPECT_EQ(set_debug_register(vcpu, 7, 0x20001 | 0x300004), 0) << "I/O on DR0, read/write on DR1";
    EXPECT_EQ(get_debug_register(vcpu, 7).value(), 0x320405u);
    EXPECT_EQ(vcpu_private(vcpu)->dr7, 0x320004u) << "the hardware gets DR1's enable only";
    EXPECT_TRUE(debug_registers_active(vcpu));
    EXPECT_EQ(set_debug_register(vcpu, 7, 0x20001), 0);
    EXPECT_FALSE(debug_registers_active(vcpu)) << "an I/O breakpoint alone loads nothing";
    for (u32 reg : {4u, 5u}) {
        EXPECT_EQ(set_debug_register(vcpu, reg, 0), -xen::kENODEV) << reg;
        EXPECT_FALSE(get_debug_register(vcpu, reg)) << reg;
    }
    EXPECT_EQ(set_debug_register(vcpu, 7, 0x20000), 0);
    EXPECT_EQ(get_debug_register(vcpu, 7).value(), 0x20400u) << "disabled: no emulated enables left";
}

// A #DB's hardware DR6: its status bits are added to the virtual DR6 and stay until written.
TEST_F(VcpuRegistersTest, DebugStatusIsMergedAndSticky) {
    merge_debug_status(vcpu, 0xffff0ff1);  // B0
    EXPECT_EQ(get_debug_register(vcpu, 6).value(), 0xffff0ff1u);
    merge_debug_status(vcpu, 0xffff4ff2);  // BS, B1
    EXPECT_EQ(get_debug_register(vcpu, 6).value(), 0xffff4ff3u);
    merge_debug_status(vcpu, 0xffffffffffffffff);
    EXPECT_EQ(get_debug_register(vcpu, 6).value(), 0xffffeffful) << "bit 12 stays 0, nothing above bit 31";
    EXPECT_EQ(set_debug_register(vcpu, 6, 0), 0);
    EXPECT_EQ(get_debug_register(vcpu, 6).value(), 0xffff0ff0u);
}

TEST_F(VcpuRegistersTest, DebugRegisterUdIsDelivered) {
    EXPECT_EQ(trap(13, 0, {0x44, 0x0f, 0x21, 0xc0}), 0xabc006u);
    EXPECT_EQ(domain.state, DomainState::Running);
}

// #NM with the virtual TS set: delivered, and TS is cleared so the FPU instruction can run.
TEST_F(VcpuRegistersTest, DeviceNotAvailableIsDeliveredAndClearsTs) {
    set_virtual_ts(vcpu, true);
    EXPECT_EQ(trap(7, 0, {0xd9, 0xd0}), 0xabc007u);  // fnop
    EXPECT_FALSE(vcpu.cr0_ts);
    EXPECT_FALSE(test::fake_vcpu_platform().hardware_ts);
}

// A stray #NM (hardware TS set, virtual TS clear) only clears TS: the instruction is retried.
TEST_F(VcpuRegistersTest, StrayDeviceNotAvailableIsRetried) {
    test::fake_vcpu_platform().hardware_ts = true;
    EXPECT_EQ(trap(7, 0, {0xd9, 0xd0}), kCode);
    EXPECT_EQ(regs.rsp, kStackTop - 0x100) << "nothing bounced";
    EXPECT_FALSE(test::fake_vcpu_platform().hardware_ts);
}

// With architectural_iopl, iret loads the virtual IOPL from the frame and bounce frames show it;
// without, iret leaves it and frames show IOPL 0. The hardware IOPL is always 0.
TEST_F(VcpuRegistersTest, IoplInIretAndBounceFrames) {
    vcpu.iopl = 1;
    put(kIretFrame, xen::IretContext{0, 0, 0, 0, kCode, 0xe030, 0x3202, kStackTop - 0x100, 0xe02b});
    regs.rsp = kIretFrame;
    do_iret(vcpu, regs);
    EXPECT_EQ(vcpu.iopl, 1) << "no architectural_iopl: the frame's IOPL is ignored";
    EXPECT_EQ(regs.rflags & 0x3000, 0u);
    trap(6, 0, {0x0f, 0x0b});
    EXPECT_EQ(get<u64>(regs.rsp + 0x20) & 0x3000, 0u) << "bounce RFLAGS";

    domain.vm_assist = u64{1} << xen::kVmAsstTypeArchitecturalIopl;
    regs.rsp = kIretFrame;
    do_iret(vcpu, regs);
    EXPECT_EQ(vcpu.iopl, 3);
    EXPECT_EQ(regs.rflags & 0x3000, 0u);
    trap(6, 0, {0x0f, 0x0b});
    EXPECT_EQ(get<u64>(regs.rsp + 0x20) & 0x3000, 0x3000u) << "bounce RFLAGS shows the virtual IOPL";
    vcpu.iopl = 2;
    trap(13, 0x18, {0x90});
    EXPECT_EQ(get<u64>(regs.rsp + 0x28) & 0x3000, 0x2000u) << "with an error code the RFLAGS slot moves up";
}

// io_privileged: the virtual CPL is 1 (0 with architectural_iopl) in kernel mode, 3 in user mode.
TEST_F(VcpuRegistersTest, IoPrivilege) {
    for (unsigned iopl = 0; iopl <= 3; ++iopl) {
        vcpu.iopl = static_cast<u8>(iopl);
        vcpu.kernel_mode = true;
        domain.vm_assist = 0;
        EXPECT_EQ(io_privileged(vcpu), iopl >= 1);
        domain.vm_assist = u64{1} << xen::kVmAsstTypeArchitecturalIopl;
        EXPECT_TRUE(io_privileged(vcpu));
        vcpu.kernel_mode = false;
        EXPECT_EQ(io_privileged(vcpu), iopl == 3);
    }
}

}  // namespace
}  // namespace hv::pv
