// SPDX-License-Identifier: MIT
// Tests of multicall and the frame-aware hypercall dispatch (iret inside a multicall).
#include <gtest/gtest.h>

#include "hv/pv/hypercall.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_pv_vcpu.hpp"

namespace hv::pv {
namespace {

constexpr u64 kList = 0x11000000;
constexpr u64 kBuffer = 0x11100000;
constexpr u64 kStack = 0x11200000;  // iret frames live here
constexpr u64 kXenArea = 0xffff830000000000;
constexpr long kVersion = (4 << 16) | 17;

xen::MulticallEntry entry(u64 op, u64 a0 = 0, u64 a1 = 0, u64 a2 = 0) {
    return xen::MulticallEntry{op, 0x5a5a, {a0, a1, a2, 0, 0, 0}};
}

struct MulticallTest : ::testing::Test, test::PvVcpuFixture {
    arch::TrapFrame regs{};
    template <usize n>
    void put_list(const xen::MulticallEntry (&list)[n], bool read_only = false) { put(kList, list, read_only); }
    u64 result(unsigned i) { return get<xen::MulticallEntry>(kList + i * sizeof(xen::MulticallEntry)).result; }
    long multicall(u64 list, u64 count) { return do_multicall(vcpu, regs, list, count); }
};

// Every entry runs with its own arguments and gets its return value; the multicall returns 0.
TEST_F(MulticallTest, RunsEveryEntryAndWritesResults) {
    zeros(kBuffer, 16);
    put_list({entry(xen::kXenVersion, xen::kXenVersionVersion), entry(xen::kXenVersion, xen::kXenVersionExtraversion, kBuffer),
              entry(99), entry(~u64{0}), entry(xen::kVmAssist, 7, xen::kVmAsstTypeArchitecturalIopl)});
    EXPECT_EQ(multicall(kList, 5), 0);
    EXPECT_EQ(static_cast<long>(result(0)), kVersion);
    EXPECT_EQ(result(1), 0u);
    EXPECT_EQ(get<char>(kBuffer), '.');
    EXPECT_EQ(static_cast<long>(result(2)), -xen::kENOSYS);
    EXPECT_EQ(static_cast<long>(result(3)), -xen::kENOSYS);
    EXPECT_EQ(static_cast<long>(result(4)), -xen::kENOSYS);
    const auto first = get<xen::MulticallEntry>(kList);
    EXPECT_EQ(first.op, xen::kXenVersion) << "only the result field is written back";
    EXPECT_EQ(first.args[0], xen::kXenVersionVersion);
}

// The count is 32 bits: 2^32 + 1 runs one entry, 2^32 none.
TEST_F(MulticallTest, CountIsThirtyTwoBits) {
    put_list({entry(xen::kXenVersion, xen::kXenVersionVersion), entry(xen::kXenVersion, xen::kXenVersionVersion)});
    EXPECT_EQ(multicall(kList, (u64{1} << 32) | 1), 0);
    EXPECT_EQ(static_cast<long>(result(0)), kVersion);
    EXPECT_EQ(result(1), 0x5a5au);
    put_list({entry(xen::kXenVersion, xen::kXenVersionVersion)});
    EXPECT_EQ(multicall(kList, u64{1} << 32), 0);
    EXPECT_EQ(result(0), 0x5a5au);
}

// A multicall entry inside a multicall gets -EINVAL without running its list; the rest goes on.
TEST_F(MulticallTest, NestingIsRefused) {
    put(kBuffer, entry(xen::kXenVersion, xen::kXenVersionVersion));
    put_list({entry(xen::kMulticall, kBuffer, 1), entry(xen::kXenVersion, xen::kXenVersionVersion)});
    EXPECT_EQ(multicall(kList, 2), 0);
    EXPECT_EQ(static_cast<long>(result(0)), -xen::kEINVAL);
    EXPECT_EQ(get<xen::MulticallEntry>(kBuffer).result, 0x5a5au);
    EXPECT_EQ(static_cast<long>(result(1)), kVersion);
}

// A list that does not start at a guest address is -EFAULT even with a count of 0.
TEST_F(MulticallTest, BadListStartIsEfault) {
    EXPECT_EQ(multicall(kXenArea, 1), -xen::kEFAULT);
    EXPECT_EQ(multicall(kXenArea, 0), -xen::kEFAULT);
    EXPECT_EQ(multicall(0x0000800000000000, 1), -xen::kEFAULT);
    EXPECT_EQ(multicall(0x0000800000000000 - 64, 0), 0) << "the start is checked, not the (empty) range";
    EXPECT_EQ(multicall(0x12340000, 1), -xen::kEFAULT) << "unmapped";
}

// An entry that cannot be read ends the list with -EFAULT after the ones before it ran.
TEST_F(MulticallTest, UnreadableEntryStopsTheList) {
    put_list({entry(xen::kXenVersion, xen::kXenVersionVersion)});
    EXPECT_EQ(multicall(kList, 2), -xen::kEFAULT);
    EXPECT_EQ(static_cast<long>(result(0)), kVersion);
}

// A list running from the top of the lower half into the non-canonical hole.
TEST_F(MulticallTest, ListRunningIntoTheHole) {
    const u64 last = (u64{1} << 47) - sizeof(xen::MulticallEntry);
    put(last, entry(xen::kXenVersion, xen::kXenVersionVersion));
    EXPECT_EQ(multicall(last, 2), -xen::kEFAULT);
    EXPECT_EQ(static_cast<long>(get<xen::MulticallEntry>(last).result), kVersion);
}

// A read-only list: the first entry runs, its result cannot be written, nothing more runs.
TEST_F(MulticallTest, ReadOnlyListStopsAfterTheFirstEntry) {
    zeros(kBuffer, 16);
    put_list({entry(xen::kVmAssist, xen::kVmAsstCmdEnable, xen::kVmAsstTypeM2pStrict),
              entry(xen::kVmAssist, xen::kVmAsstCmdEnable, xen::kVmAsstTypeRunstateUpdateFlag)},
             /*read_only=*/true);
    EXPECT_EQ(multicall(kList, 2), -xen::kEFAULT);
    EXPECT_EQ(domain.vm_assist, u64{1} << xen::kVmAsstTypeM2pStrict);
    EXPECT_EQ(result(0), 0x5a5au);
}

// Once an entry stops the domain, the rest of the list does not run.
TEST_F(MulticallTest, StopsWhenTheDomainStops) {
    put(kBuffer, xen::SchedShutdown{xen::kShutdownPoweroff});
    put_list({entry(xen::kSchedOp, xen::kSchedOpShutdown, kBuffer),
              entry(xen::kVmAssist, xen::kVmAsstCmdEnable, xen::kVmAsstTypeM2pStrict)});
    EXPECT_EQ(multicall(kList, 2), 0);
    EXPECT_EQ(domain.state, DomainState::Shutdown);
    EXPECT_EQ(result(0), 0u);
    EXPECT_EQ(result(1), 0x5a5au);
    EXPECT_EQ(domain.vm_assist, 0u);
}

// xsa-213: an iret entry ends the multicall in user mode; RAX is the frame's, later entries never
// run, and the iret entry's result holds that RAX too.
TEST_F(MulticallTest, IretEndsTheList) {
    vcpu.user_cr3 = 0x2000;
    put(kStack, xen::IretContext{0xdead, 0x11, 0x22, 0, 0x401000, 0xe033, 0x202, 0x7ff000, 0xe02b});
    put_list({entry(xen::kIret), entry(xen::kVmAssist, xen::kVmAsstCmdEnable, xen::kVmAsstTypeM2pStrict)});
    regs.rax = xen::kMulticall;
    regs.rdi = kList;
    regs.rsi = 2;
    regs.rsp = kStack;
    do_hypercall_frame(vcpu, regs);
    EXPECT_EQ(regs.rax, 0xdeadu);
    EXPECT_EQ(regs.rip, 0x401000u);
    EXPECT_EQ(regs.cs, 0xe033u);
    EXPECT_EQ(regs.rsp, 0x7ff000u);
    EXPECT_FALSE(vcpu.kernel_mode);
    EXPECT_EQ(result(0), 0xdeadu);
    EXPECT_EQ(result(1), 0x5a5au);
    EXPECT_EQ(domain.vm_assist, 0u);
}

// An iret entry whose frame is unreadable crashes the domain; the multicall stops there.
TEST_F(MulticallTest, IretEntryWithBadFrameCrashes) {
    put_list({entry(xen::kIret), entry(xen::kVmAssist, xen::kVmAsstCmdEnable, xen::kVmAsstTypeM2pStrict)});
    regs.rsp = 0x12345000;
    EXPECT_EQ(multicall(kList, 2), 0);
    EXPECT_EQ(domain.state, DomainState::Crashed);
    EXPECT_EQ(domain.vm_assist, 0u);
    test::take_console_output();
}

// do_hypercall_frame: ordinary hypercalls take their arguments from the frame and return in RAX;
// the iret hypercall replaces the frame.
TEST_F(MulticallTest, FrameDispatch) {
    regs.rax = xen::kXenVersion;
    regs.rdi = xen::kXenVersionVersion;
    do_hypercall_frame(vcpu, regs);
    EXPECT_EQ(static_cast<long>(regs.rax), kVersion);
    regs.rax = xen::kVmAssist;
    regs.rdi = xen::kVmAsstCmdEnable;
    regs.rsi = xen::kVmAsstTypeArchitecturalIopl;
    do_hypercall_frame(vcpu, regs);
    EXPECT_EQ(regs.rax, 0u);
    EXPECT_EQ(domain.vm_assist, u64{1} << xen::kVmAsstTypeArchitecturalIopl);
    put(kStack, xen::IretContext{0x77, 0, 0, 0, 0x402000, 0xe030, 0x3202, kStack + 0x100, 0xe02b});
    regs.rax = xen::kIret;
    regs.rsp = kStack;
    do_hypercall_frame(vcpu, regs);
    EXPECT_EQ(regs.rax, 0x77u);
    EXPECT_EQ(regs.rip, 0x402000u);
    EXPECT_TRUE(vcpu.kernel_mode);
    EXPECT_EQ(vcpu.iopl, 3) << "architectural_iopl: the iret frame sets the virtual IOPL";
    EXPECT_EQ(regs.rflags & 0x3000, 0u) << "the hardware IOPL stays 0";
}

// Through do_hypercall (the table), multicall is only reachable from inside a multicall.
TEST_F(MulticallTest, TableMulticallIsNested) { EXPECT_EQ(call(xen::kMulticall, kList, 1), -xen::kEINVAL); }

}  // namespace
}  // namespace hv::pv
