// SPDX-License-Identifier: MIT
// The isolation property on the fake ASI machine (tests/support/fake_asi_machine.hpp): per-vCPU
// roots reach no foreign frame; the shared guest L4 of the ASI-off design reaches exactly the
// other pCPU's stacks, the other domain's frames and the other vCPUs' frames.
#include <gtest/gtest.h>

#include <vector>

#include "arch/pte.hpp"
#include "arch/va_layout.hpp"
#include "hv/audit/walker.hpp"
#include "support/fake_asi_machine.hpp"

namespace hv::audit {
namespace {

using Machine = test::FakeAsiMachine;

AuditResult audit(Machine& machine, bool asi, const Subject& s) {
    std::vector<u64> scratch(audit_scratch_words(Machine::kFrameCount));
    return audit_root<arch::X86PteFormat>(machine.env(), machine.root(asi, s.domain, s.vcpu, s.pcpu), s,
                                          AuditScratch{scratch.data(), scratch.size()}, RunSink{});
}

// With ASI on, every vCPU's root on every pCPU reaches no foreign and no free frame.
TEST(AuditAsiScenario, PerVcpuRootsAreIsolated) {
    Machine machine;
    for (u32 d = 1; d <= Machine::kDomains; ++d)
        for (u32 v = 0; v < Machine::kVcpus; ++v)
            for (u32 c = 0; c < Machine::kCpus; ++c) {
                const AuditResult result = audit(machine, true, Subject{d, v, c});
                SCOPED_TRACE(testing::Message() << "d" << d << "v" << v << " on c" << c);
                EXPECT_EQ(result.totals.foreign, 0U);
                EXPECT_EQ(result.totals.bad, 0U);
                // The guest's memory, and through the self-map its L3, L2 and 4 L1s.
                EXPECT_EQ(result.totals.of(FrameKind::Guest), 0x800U + 6U);
                EXPECT_EQ(result.totals.of(FrameKind::OutsideRam), 1U);      // the LAPIC
            }
}

// With ASI off, d1v0 on pCPU 0 reaches pCPU 1's 8 stack frames, d2's 4 per-domain frames and the
// 12 frames of the three other vCPUs: 24 foreign frames, and the 624 free hypervisor-pool frames
// (the directmap's by design: counted as free, not bad).
TEST(AuditAsiScenario, SharedRootExposesOthers) {
    Machine machine;
    const AuditResult result = audit(machine, false, Subject{1, 0, 0});
    EXPECT_EQ(result.totals.foreign, 8U + 4U + 12U);
    EXPECT_EQ(result.totals.bad, 0U);
    EXPECT_EQ(result.totals.of(FrameKind::Free), 0x800U - 0x590U);
    ASSERT_EQ(result.finding_count, kMaxFindings);
    // Slot 260 comes first in VA order: d1v1's frames in the shared per-domain area.
    EXPECT_EQ(result.findings[0].tag, (FrameTag{FrameKind::PerVcpu, 1, 1}));
}

// Issue 6: a vCPU's private state (saved registers, x87/SSE image) is a PerVcpu frame in slot 260
// at vcpu_private_va(v). Its own page there is not a finding; a root that reaches another vCPU's
// page (a mapping the image must never make with vcpu-pt) is.
TEST(AuditAsiScenario, AnotherVcpusPrivateStateIsForeign) {
    Machine machine;
    const Subject d1v0{1, 0, 0};
    const Mfn root = machine.root(true, d1v0.domain, d1v0.vcpu, d1v0.pcpu);
    machine.plant(root, arch::vcpu_private_va(0), Machine::vcpu_frame(1, 0));
    EXPECT_EQ(audit(machine, true, d1v0).totals.foreign, 0U) << "its own private page";

    machine.plant(root, arch::vcpu_private_va(1), Machine::vcpu_frame(1, 1));
    const AuditResult result = audit(machine, true, d1v0);
    EXPECT_EQ(result.totals.foreign, 1U) << "d1v1's private page, seen from d1v0";
    EXPECT_EQ(result.totals.bad, 0U);
    ASSERT_EQ(result.finding_count, 1U);
    EXPECT_EQ(result.findings[0].va.raw(), arch::vcpu_private_va(1));
    EXPECT_EQ(result.findings[0].mfn, Machine::vcpu_frame(1, 1));
    EXPECT_EQ(result.findings[0].tag, (FrameTag{FrameKind::PerVcpu, 1, 1}));
    EXPECT_EQ(result.findings[0].verdict, Verdict::Foreign);
}

}  // namespace
}  // namespace hv::audit
