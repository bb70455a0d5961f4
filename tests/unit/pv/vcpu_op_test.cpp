// SPDX-License-Identifier: MIT
// vcpu_op, set_timer_op and SCHEDOP_yield against fake guest memory and frames: vCPU ids,
// VCPUOP_initialise's checks (check_vcpu_context) and load (references taken or rolled back),
// up/down/is_up, the singleshot and periodic timers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "hv/pv/domain.hpp"
#include "hv/pv/hypercall.hpp"
#include "hv/pv/vcpu_context.hpp"
#include "hv/pv/vcpu_private.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_domain_mm.hpp"
#include "support/fake_domain_private.hpp"
#include "support/fake_event_channel.hpp"
#include "support/fake_guest_memory.hpp"
#include "support/fake_pv_frames.hpp"
#include "support/fake_vcpu_private.hpp"

namespace hv::pv {
namespace {

constexpr u64 kContextVa = 0x600000;
constexpr u64 kArgVa = 0x610000;
constexpr u64 kL4 = 10, kGdt = 11, kForeign = 12, kUserL4 = 13;

struct VcpuOpTest : ::testing::Test {
    std::unique_ptr<Domain> domain = std::make_unique<Domain>();
    test::FakePvFrames frames{64};
    std::unique_ptr<xen::VcpuGuestContext> context = std::make_unique<xen::VcpuGuestContext>();

    void SetUp() override {
        frames = test::FakePvFrames{64};
        std::memset(static_cast<void*>(domain.get()), 0, sizeof *domain);
        domain->id = 1;
        domain->state = DomainState::Running;
        domain->vcpu_count = 2;
        for (unsigned i = 0; i < 2; ++i) {
            domain->vcpus[i].domain = domain.get();
            domain->vcpus[i].id = i;
            domain->vcpus[i].kernel_mode = true;
        }
        domain->vcpus[0].initialised = true;
        domain->vcpus[0].sched.state = sched::RunState::Running;
        frames.give(Mfn(kL4), 1);
        frames.give(Mfn(kGdt), 1);
        frames.give(Mfn(kUserL4), 1);
        test::fake_domain_mm() = {};
        test::fake_domain_mm().frames = &frames;
        test::fake_event_platform() = {};
        test::reset_fake_domain_private();
        test::reset_fake_vcpu_private();
        test::fake_guest_memory().map(kArgVa, std::vector<u8>(0x1000));
        *context = xen::VcpuGuestContext{};
        context->flags = xen::kVgcfInKernel;
        context->user_regs.rip = 0x100000;
        context->user_regs.rsp = 0x200000;
        context->user_regs.cs = xen::kFlatKernelCs & ~3;
        context->user_regs.ss = xen::kFlatKernelSs;
        context->user_regs.rflags = ~u64{0};
        context->ctrlreg[3] = kL4 << 12;
    }
    void TearDown() override { test::fake_domain_mm().frames = nullptr; }

    long call(u64 number, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0) {
        return do_hypercall(domain->vcpus[0], number, HypercallArgs{{a1, a2, a3, 0, 0}});
    }
    long initialise(unsigned id) {
        const auto* bytes = reinterpret_cast<const u8*>(context.get());
        test::fake_guest_memory().map(kContextVa, std::vector<u8>(bytes, bytes + sizeof *context));
        return call(xen::kVcpuOp, xen::kVcpuOpInitialise, id, kContextVa);
    }
    template <class T>
    void put(const T& value) {
        const auto* bytes = reinterpret_cast<const u8*>(&value);
        test::fake_guest_memory().map(kArgVa, std::vector<u8>(bytes, bytes + sizeof value));
    }
    u32 type_count_of(u64 mfn) { return frames.info(Mfn(mfn)).type_count & 0xffffff; }
};

TEST_F(VcpuOpTest, UnknownVcpusAreEnoent) {
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpIsUp, 2, 0), -xen::kENOENT);
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpUp, 0xffffffff, 0), -xen::kENOENT);
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpIsUp, u64{1} << 32, 0), 1) << "the id is an int: the low half, vCPU 0";
    EXPECT_EQ(call(xen::kVcpuOp, 0x77, 0, 0), -xen::kENOSYS);
}

TEST_F(VcpuOpTest, UpNeedsAContext) {
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpIsUp, 1, 0), 0);
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpUp, 1, 0), -xen::kEINVAL);
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpIsUp, 0, 0), 1);
    EXPECT_EQ(initialise(0), -xen::kEEXIST);
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpInitialise, 1, 0x7fff0000), -xen::kEFAULT);
}

TEST_F(VcpuOpTest, ValidContextLoadsAndTakesTheRootReference) {
    context->gdt_ents = 512;
    context->gdt_frames[0] = kGdt;
    context->fs_base = 0x1234;
    context->gs_base_kernel = 0x5678;
    context->gs_base_user = 0x9abc;
    context->trap_ctxt[14] = xen::TrapInfo{14, 0, 0xe030, 0, 0xdead000};
    ASSERT_EQ(initialise(1), 0);
    Vcpu& v = domain->vcpus[1];
    const VcpuPrivateView state = vcpu_private(v);
    EXPECT_TRUE(v.initialised);
    EXPECT_EQ(v.kernel_cr3, kL4 << 12);
    EXPECT_EQ(type_count_of(kL4), 1u);
    EXPECT_EQ(type_count_of(kGdt), 1u);
    EXPECT_EQ(v.gdt_frame_count, 1u);
    EXPECT_EQ(state->regs.rip, 0x100000u);
    EXPECT_EQ(state->regs.cs & 3, 3u) << "RPL raised to 3";
    EXPECT_EQ(state->regs.rflags, 0x00240dd5u | 0x202u) << "IOPL, NT, VM... cleared; IF forced";
    EXPECT_EQ(state->msr_fs_base, 0x1234u);
    EXPECT_EQ(state->msr_gs_base, 0x5678u) << "kernel mode: the kernel GS base is live";
    EXPECT_EQ(state->msr_kernel_gs_base, 0x9abcu);
    EXPECT_EQ(v.traps[14].address, 0xdead000u);
    EXPECT_EQ(state->fxsave_area[24], 0x80) << "clean MXCSR 0x1f80";
    EXPECT_EQ(test::fake_vcpu_private_views_open(), 1u) << "the load's own view has ended";
    const xen::VcpuGuestContext& buffer = test::fake_domain_private(*domain).context_buffer;
    const auto* copy = reinterpret_cast<const u8*>(&buffer);
    EXPECT_EQ(std::count(copy, copy + sizeof buffer, 0), static_cast<long>(sizeof buffer))
        << "the context copy in the domain's private area is cleared: the registers live only in the private page";
    EXPECT_EQ(test::fake_domain_private_pages_mapped(), 0u);
    EXPECT_EQ(initialise(1), -xen::kEEXIST);
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpUp, 1, 0), 0);
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpIsUp, 1, 0), 1);
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpDown, 1, 0), 0);
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpIsUp, 1, 0), 0);
}

// The FXSAVE image: taken whole with VGCF_I387_VALID (MXCSR bits the CPU lacks cleared, the fake
// CPU's MXCSR_MASK being 0xffff), the default state without it.
TEST(VcpuFpuImage, TakenWithI387ValidAndMxcsrMasked) {
    auto c = std::make_unique<xen::VcpuGuestContext>();
    for (unsigned i = 0; i < 512; ++i) c->fpu_ctxt[i] = static_cast<u8>(i * 7 + 1);
    const u32 mxcsr = 0x0001ff80;  // bit 16: no CPU has it
    std::memcpy(c->fpu_ctxt + 24, &mxcsr, sizeof mxcsr);
    alignas(16) u8 area[512] = {};
    c->flags = xen::kVgcfI387Valid;
    load_fpu_image(area, *c);
    u32 loaded = 0;
    std::memcpy(&loaded, area + 24, sizeof loaded);
    EXPECT_EQ(loaded, 0xff80u);
    for (unsigned i = 0; i < 512; ++i) {
        if (i >= 24 && i < 28) continue;  // MXCSR, checked above
        ASSERT_EQ(area[i], c->fpu_ctxt[i]) << "byte " << i;
    }

    c->flags = xen::kVgcfInKernel;
    load_fpu_image(area, *c);
    alignas(16) u8 clean[512];
    reset_fxsave_area(clean);
    EXPECT_EQ(std::memcmp(area, clean, sizeof area), 0) << "without VGCF_I387_VALID the image is ignored";
}

TEST_F(VcpuOpTest, RefusedContextsTakeNothing) {
    const auto refused = [&](const char* what, auto edit) {
        SetUp();
        edit(*context);
        EXPECT_EQ(initialise(1), -xen::kEINVAL) << what;
        EXPECT_FALSE(domain->vcpus[1].initialised) << what;
        EXPECT_EQ(type_count_of(kL4), 0u) << what;
        EXPECT_EQ(type_count_of(kGdt), 0u) << what;
        EXPECT_EQ(frames.info(Mfn(kGdt)).ref_count, 0u) << what;
    };
    refused("non-canonical rip", [](auto& c) { c.user_regs.rip = u64{1} << 63; });
    refused("non-canonical rsp", [](auto& c) { c.user_regs.rsp = u64{1} << 47; });
    refused("non-canonical kernel_sp", [](auto& c) { c.kernel_sp = u64{1} << 50; });
    refused("non-canonical fs base", [](auto& c) { c.fs_base = u64{1} << 62; });
    refused("non-canonical syscall callback", [](auto& c) { c.syscall_callback_eip = u64{1} << 60; });
    refused("non-canonical trap", [](auto& c) { c.trap_ctxt[200].address = u64{1} << 55; });
    refused("an LDT", [](auto& c) { c.ldt_ents = 1; });
    refused("too many GDT entries", [](auto& c) { c.gdt_ents = 14 * 512 + 1; });
    refused("DR0 in the hypervisor's range", [](auto& c) { c.debugreg[0] = 0xffff800000000000; });
    refused("user mode without a user root", [](auto& c) { c.flags = 0; });
    refused("a root that is not ours", [](auto& c) { c.ctrlreg[3] = kForeign << 12; });
    refused("a root beyond the frames", [](auto& c) { c.ctrlreg[3] = u64{1} << 40; });
    refused("a GDT frame that is not ours (root fine)", [](auto& c) {
        c.gdt_ents = 1024;
        c.gdt_frames[0] = kGdt;
        c.gdt_frames[1] = kForeign;
    });
    refused("a bad user root after good ones", [](auto& c) {
        c.gdt_ents = 1;
        c.gdt_frames[0] = kGdt;
        c.ctrlreg[1] = kForeign << 12;
    });
    SetUp();
    context->flags = 0;
    context->ctrlreg[1] = kUserL4 << 12;
    EXPECT_EQ(initialise(1), 0) << "user mode with a user root";
    EXPECT_FALSE(domain->vcpus[1].kernel_mode);
    EXPECT_EQ(type_count_of(kUserL4), 1u);
}

TEST_F(VcpuOpTest, SingleshotTimer) {
    test::fake_event_platform().now_ns = 5000;
    put(xen::VcpuSetSingleshotTimer{4000, xen::kVcpuSshotTmrFuture, 0});
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpSetSingleshotTimer, 0, kArgVa), 0) << "the flag is ignored, as Xen 4.17";
    put(xen::VcpuSetSingleshotTimer{4000, 0, 0});
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpSetSingleshotTimer, 0, kArgVa), 0) << "past without the flag: fires";
    EXPECT_EQ(domain->vcpus[0].singleshot_deadline, 4000u);
    put(xen::VcpuSetSingleshotTimer{0, 0, 0});
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpSetSingleshotTimer, 0, kArgVa), 0);
    EXPECT_EQ(domain->vcpus[0].singleshot_deadline, 1u) << "0 is not 'off': it has passed";
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpSetSingleshotTimer, 1, kArgVa), -xen::kEINVAL) << "another vCPU's";
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpStopSingleshotTimer, 1, 0), -xen::kEINVAL);
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpSetSingleshotTimer, 0, 0x7fff0000), -xen::kEFAULT);
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpStopSingleshotTimer, 0, 0), 0);
    EXPECT_EQ(domain->vcpus[0].singleshot_deadline, 0u);
    EXPECT_EQ(call(xen::kSetTimerOp, 9000), 0);
    EXPECT_EQ(domain->vcpus[0].singleshot_deadline, 9000u);
    EXPECT_EQ(call(xen::kSetTimerOp, 0), 0);
    EXPECT_EQ(domain->vcpus[0].singleshot_deadline, 0u);
}

TEST_F(VcpuOpTest, PeriodicTimer) {
    test::fake_event_platform().now_ns = 5000;
    put(xen::VcpuSetPeriodicTimer{999'999});
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpSetPeriodicTimer, 0, kArgVa), -xen::kEINVAL);
    put(xen::VcpuSetPeriodicTimer{(u64{1} << 62) + 1});
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpSetPeriodicTimer, 0, kArgVa), -xen::kEINVAL);
    put(xen::VcpuSetPeriodicTimer{2'000'000});
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpSetPeriodicTimer, 1, kArgVa), 0) << "any vCPU of the domain";
    EXPECT_EQ(domain->vcpus[1].periodic_period, 2'000'000u);
    EXPECT_EQ(domain->vcpus[1].periodic_next, 2'005'000u);
    EXPECT_EQ(call(xen::kVcpuOp, xen::kVcpuOpStopPeriodicTimer, 1, 0), 0);
    EXPECT_EQ(domain->vcpus[1].periodic_period, 0u);
}

TEST_F(VcpuOpTest, YieldAsksTheScheduler) {
    EXPECT_EQ(call(xen::kSchedOp, xen::kSchedOpYield, 0), 0);
    EXPECT_TRUE(domain->vcpus[0].yielding);
}

}  // namespace
}  // namespace hv::pv
