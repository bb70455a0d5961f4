// SPDX-License-Identifier: MIT
// Tests of vm_assist, physdev_op, fpu_taskswitch, set/get_debugreg and set_segment_base.
#include <gtest/gtest.h>

#include "hv/pv/vcpu_private.hpp"
#include "hv/pv/vcpu_registers.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_pv_vcpu.hpp"

namespace hv::pv {
namespace {

constexpr u64 kArg = 0x12000000;
constexpr u64 kXenArea = 0xffff830000000000;

struct MiscHypercallTest : ::testing::Test, test::PvVcpuFixture {
    test::FakeVcpuPlatform& platform() { return test::fake_vcpu_platform(); }
};

// ---- vm_assist ----

// Each assist 64-bit PV guests may use can be enabled and disabled; the domain records it.
TEST_F(MiscHypercallTest, VmAssistValidTypes) {
    for (unsigned type : {0u, 1u, 2u, 3u, 4u, 5u, 32u}) {
        EXPECT_EQ(call(xen::kVmAssist, xen::kVmAsstCmdEnable, type), 0) << type;
        EXPECT_TRUE(vm_assist_enabled(domain, type));
        EXPECT_EQ(call(xen::kVmAssist, xen::kVmAsstCmdDisable, type), 0) << type;
        EXPECT_FALSE(vm_assist_enabled(domain, type));
    }
    EXPECT_EQ(domain.vm_assist, 0u);
}

// Other types are -EINVAL, checked before the command; unknown commands are -ENOSYS.
TEST_F(MiscHypercallTest, VmAssistInvalidTypesAndCommands) {
    for (u64 type : {6ull, 7ull, 31ull, 33ull, 63ull, 64ull, 0xffffffffull})
        EXPECT_EQ(call(xen::kVmAssist, xen::kVmAsstCmdEnable, type), -xen::kEINVAL) << type;
    EXPECT_EQ(call(xen::kVmAssist, 2, 4), -xen::kENOSYS);
    EXPECT_EQ(call(xen::kVmAssist, 2, 40), -xen::kEINVAL);
    EXPECT_EQ(domain.vm_assist, 0u);
    EXPECT_FALSE(vm_assist_enabled(domain, 64));
    EXPECT_FALSE(vm_assist_enabled(domain, ~0u));
}

// Both arguments are 32 bits wide.
TEST_F(MiscHypercallTest, VmAssistArgumentsAreThirtyTwoBits) {
    EXPECT_EQ(call(xen::kVmAssist, u64{1} << 32, (u64{1} << 32) | 4), 0);
    EXPECT_TRUE(vm_assist_enabled(domain, 4));
}

// ---- physdev_op ----

// PHYSDEVOP_set_iopl stores 0-3; more is -EINVAL, an unreadable argument -EFAULT.
TEST_F(MiscHypercallTest, PhysdevSetIopl) {
    for (u32 iopl : {3u, 0u, 1u, 2u}) {
        put(kArg, xen::PhysdevSetIopl{iopl});
        EXPECT_EQ(call(xen::kPhysdevOp, xen::kPhysdevOpSetIopl, kArg), 0);
        EXPECT_EQ(vcpu.iopl, iopl);
    }
    for (u32 iopl : {4u, 0x80000000u, 0xffffffffu}) {
        put(kArg, xen::PhysdevSetIopl{iopl});
        EXPECT_EQ(call(xen::kPhysdevOp, xen::kPhysdevOpSetIopl, kArg), -xen::kEINVAL);
    }
    EXPECT_EQ(call(xen::kPhysdevOp, xen::kPhysdevOpSetIopl, 0x12340000), -xen::kEFAULT);
    EXPECT_EQ(call(xen::kPhysdevOp, xen::kPhysdevOpSetIopl, kXenArea), -xen::kEFAULT);
    EXPECT_EQ(vcpu.iopl, 2);
    // The command is 32 bits.
    put(kArg, xen::PhysdevSetIopl{1});
    EXPECT_EQ(call(xen::kPhysdevOp, (u64{1} << 32) | xen::kPhysdevOpSetIopl, kArg), 0);
    EXPECT_EQ(vcpu.iopl, 1);
}

// Everything else (I/O bitmaps, IRQs, devices) is -ENOSYS.
TEST_F(MiscHypercallTest, PhysdevOtherCommands) {
    EXPECT_EQ(call(xen::kPhysdevOp, xen::kPhysdevOpSetIobitmap, kArg), -xen::kENOSYS);
    EXPECT_EQ(call(xen::kPhysdevOp, 0x7fff, 0), -xen::kENOSYS);
    EXPECT_EQ(call(xen::kPhysdevOp, ~u64{0}, 0), -xen::kENOSYS);
}

// ---- fpu_taskswitch ----

// Nonzero sets the virtual and hardware TS, zero clears both; only the low 32 bits count.
TEST_F(MiscHypercallTest, FpuTaskswitch) {
    EXPECT_EQ(call(xen::kFpuTaskswitch, 1), 0);
    EXPECT_TRUE(vcpu.cr0_ts);
    EXPECT_TRUE(platform().hardware_ts);
    EXPECT_EQ(call(xen::kFpuTaskswitch, 0), 0);
    EXPECT_FALSE(vcpu.cr0_ts);
    EXPECT_FALSE(platform().hardware_ts);
    EXPECT_EQ(call(xen::kFpuTaskswitch, 0x80000000), 0);
    EXPECT_TRUE(vcpu.cr0_ts);
    EXPECT_EQ(call(xen::kFpuTaskswitch, u64{1} << 32), 0);
    EXPECT_FALSE(vcpu.cr0_ts);
}

// ---- debug registers ----

// A fresh vCPU: DR0-3 zero, DR6 0xffff0ff0, DR7 0x400; DR4/5 alias DR6/7; others -ENODEV.
TEST_F(MiscHypercallTest, DebugRegisterDefaults) {
    for (u64 reg = 0; reg < 4; ++reg) EXPECT_EQ(call(xen::kGetDebugreg, reg), 0);
    EXPECT_EQ(call(xen::kGetDebugreg, 6), 0xffff0ff0);
    EXPECT_EQ(call(xen::kGetDebugreg, 7), 0x400);
    EXPECT_EQ(call(xen::kGetDebugreg, 4), 0xffff0ff0);
    EXPECT_EQ(call(xen::kGetDebugreg, 5), 0x400);
    for (u64 reg : {8ull, 15ull, 0xffffffffull}) EXPECT_EQ(call(xen::kGetDebugreg, reg), -xen::kENODEV) << reg;
    EXPECT_EQ(call(xen::kGetDebugreg, (u64{1} << 32) | 6), 0xffff0ff0) << "the register number is 32 bits";
}

// DR0-3 take guest addresses only: the lower half and the upper half above Xen's area.
TEST_F(MiscHypercallTest, DebugAddressRegisters) {
    EXPECT_EQ(call(xen::kSetDebugreg, 0, 0x7fffffffffff), 0);
    EXPECT_EQ(call(xen::kGetDebugreg, 0), 0x7fffffffffff);
    EXPECT_EQ(call(xen::kSetDebugreg, 1, 0xffff880000000000), 0);
    EXPECT_EQ(call(xen::kSetDebugreg, 3, ~u64{0}), 0);
    EXPECT_EQ(call(xen::kGetDebugreg, 3), -1) << "a value that looks like an error, as in Xen";
    for (u64 bad : {0x0000800000000000ull, 0xffff7fffffffffffull, 0xffff800000000000ull, 0xffff82d080000000ull,
                    0xffff87ffffffffffull})
        EXPECT_EQ(call(xen::kSetDebugreg, 2, bad), -xen::kEPERM) << std::hex << bad;
    EXPECT_EQ(vcpu_private(vcpu)->dr[2], 0u);
    EXPECT_EQ(call(xen::kSetDebugreg, (u64{1} << 32) | 2, 0x2000), 0);
    EXPECT_EQ(vcpu_private(vcpu)->dr[2], 0x2000u);
}

// DR6: 32 bits only; bit 12 reads 0, bits 4-11 and 16-31 read 1. DR4 is its alias.
TEST_F(MiscHypercallTest, DebugStatusRegister) {
    EXPECT_EQ(call(xen::kSetDebugreg, 6, 0), 0);
    EXPECT_EQ(call(xen::kGetDebugreg, 6), 0xffff0ff0);
    EXPECT_EQ(call(xen::kSetDebugreg, 6, 0x5001), 0);
    EXPECT_EQ(call(xen::kGetDebugreg, 6), 0xffff4ff1);
    EXPECT_EQ(call(xen::kSetDebugreg, 6, u64{1} << 32), -xen::kEINVAL);
    EXPECT_EQ(call(xen::kGetDebugreg, 6), 0xffff4ff1);
    EXPECT_EQ(call(xen::kSetDebugreg, 4, 0xffffffff), 0);
    EXPECT_EQ(call(xen::kGetDebugreg, 6), 0xffffefff);
}

// DR7: 32 bits only; bits 11, 12, 14, 15 read 0 and bit 10 reads 1; GD and enabled I/O
// breakpoints (CR4.DE is never set) are -EPERM and change nothing. DR5 is its alias.
TEST_F(MiscHypercallTest, DebugControlRegister) {
    EXPECT_EQ(call(xen::kSetDebugreg, 7, 0xd800), 0);
    EXPECT_EQ(call(xen::kGetDebugreg, 7), 0x400);
    EXPECT_EQ(call(xen::kSetDebugreg, 7, 0x1), 0);
    EXPECT_EQ(call(xen::kGetDebugreg, 7), 0x401);
    EXPECT_EQ(call(xen::kSetDebugreg, 7, 0x2000), -xen::kEPERM);
    EXPECT_EQ(call(xen::kSetDebugreg, 7, u64{1} << 32), -xen::kEINVAL);
    EXPECT_EQ(call(xen::kSetDebugreg, 7, 0x20001), -xen::kEPERM) << "enabled I/O breakpoint 0";
    EXPECT_EQ(call(xen::kSetDebugreg, 7, 0x20000000 | 0x80), -xen::kEPERM) << "enabled I/O breakpoint 3";
    EXPECT_EQ(call(xen::kGetDebugreg, 7), 0x401);
    EXPECT_EQ(call(xen::kSetDebugreg, 7, 0x20000), 0) << "a disabled I/O breakpoint is just bits";
    EXPECT_EQ(call(xen::kGetDebugreg, 7), 0x20400);
    EXPECT_EQ(call(xen::kSetDebugreg, 5, 0x3), 0);
    EXPECT_EQ(call(xen::kGetDebugreg, 7), 0x403);
    EXPECT_EQ(call(xen::kSetDebugreg, 8, 0), -xen::kENODEV);
    EXPECT_EQ(call(xen::kSetDebugreg, 0xffffffff, 0), -xen::kENODEV);
}

// ---- set_segment_base ----

// FS and both GS bases go to the platform hook; non-canonical bases are -EINVAL.
TEST_F(MiscHypercallTest, SegmentBases) {
    EXPECT_EQ(call(xen::kSetSegmentBase, xen::kSegbaseFs, 0x1000), 0);
    EXPECT_EQ(call(xen::kSetSegmentBase, xen::kSegbaseGsKernel, 0xffff880000002000), 0);
    EXPECT_EQ(call(xen::kSetSegmentBase, xen::kSegbaseGsUser, 0x3000), 0);
    EXPECT_EQ(platform().fs_base, 0x1000u);
    EXPECT_EQ(platform().gs_base_kernel, 0xffff880000002000u);
    EXPECT_EQ(platform().gs_base_user, 0x3000u);
    for (unsigned which : {xen::kSegbaseFs, xen::kSegbaseGsKernel, xen::kSegbaseGsUser}) {
        EXPECT_EQ(call(xen::kSetSegmentBase, which, 0x0000800000000000), -xen::kEINVAL);
        EXPECT_EQ(call(xen::kSetSegmentBase, which, 0xffff7fffffffffff), -xen::kEINVAL);
    }
    EXPECT_EQ(platform().fs_base, 0x1000u);
    EXPECT_EQ(platform().gs_base_user, 0x3000u);
    // Canonical is all Xen asks: even its own area is accepted (the guest cannot reach it).
    EXPECT_EQ(call(xen::kSetSegmentBase, xen::kSegbaseFs, kXenArea), 0);
}

// GS_USER_SEL loads the user GS selector (errors are not reported); unknown `which` is -EINVAL;
// `which` is 32 bits.
TEST_F(MiscHypercallTest, SegmentBaseSelectorAndErrors) {
    EXPECT_EQ(call(xen::kSetSegmentBase, xen::kSegbaseGsUserSel, 0x1234e02b), 0);
    EXPECT_EQ(platform().user_gs_selector, 0xe02bu) << "the low 16 bits";
    EXPECT_EQ(call(xen::kSetSegmentBase, 4, 0), -xen::kEINVAL);
    EXPECT_EQ(call(xen::kSetSegmentBase, 0xffffffff, 0), -xen::kEINVAL);
    EXPECT_EQ(call(xen::kSetSegmentBase, u64{1} << 32, 0x5000), 0);
    EXPECT_EQ(platform().fs_base, 0x5000u);
}

}  // namespace
}  // namespace hv::pv
