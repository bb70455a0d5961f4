// SPDX-License-Identifier: MIT
// Tests of MMUEXT_SET_LDT and the lazy LDT mapping: Xen's argument checks (the base only, and only
// with entries; a 32-bit entry count), the page found through the kernel's tables in user mode too,
// guest accesses to the window left alone, and what an unmappable or non-canonical descriptor
// becomes. The guest's view on Isola and Xen is checked by guests/tests/ldt.cpp. [pv-abi.md §3.8, §4.5]
#include "hv/pv/ldt.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "hv/pv/domain.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/page_types.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_domain_mm.hpp"
#include "support/fake_pv_frames.hpp"

namespace hv::pv {
namespace {

using test::FakePvFrames;

constexpr u64 kFrameCount = 64;
constexpr u64 kL4 = 20, kL3 = 21, kL2 = 22, kL1 = 23;  // kernel tables: VA 0-2 MiB through entry 0
constexpr u64 kUserL4 = 30;                           // user root: maps nothing
constexpr u64 kLdtFrame = 24;                         // RO at VA 0x4000 (L1 slot 4)
constexpr u64 kBadFrame = 25;                         // RO at VA 0x5000; its descriptors are refused
constexpr u64 kRwFrame = 26;                          // RW at VA 0x6000
constexpr u64 kLdtVa = 0x4000, kBadVa = 0x5000, kRwVa = 0x6000, kUnmappedVa = 0x9000;
constexpr u64 kTop = (u64{1} << 47) - 0x1000;  // the last canonical page of the lower half

constexpr u64 kP = 1, kRw = 2, kUs = 4, kA = 0x20, kD = 0x40;
constexpr u64 kTable = kP | kRw | kUs | kA | kD;
constexpr u64 kRo = kP | kUs | kA | kD;
constexpr u64 pte(u64 mfn, u64 flags) { return (mfn << kPageShift) | flags; }

constexpr u64 kPfUser = 4, kPfReserved = 8;

struct LdtTest : ::testing::Test {
    FakePvFrames mem{kFrameCount};
    Domain domain{};
    Vcpu& vcpu = domain.vcpus[0];
    u64 window = 0;

    void SetUp() override {
        test::fake_domain_mm() = {};
        test::fake_domain_mm().frames = &mem;
        window = test::fake_domain_mm().ldt_window;
        for (u64 mfn = 16; mfn < kFrameCount; ++mfn) mem.give(Mfn(mfn), 1);
        domain.id = 1;
        domain.state = DomainState::Running;
        std::strcpy(domain.name, "t");
        vcpu.domain = &domain;
        vcpu.kernel_mode = true;
        mem.word(Mfn(kL4), 0) = pte(kL3, kTable);
        mem.word(Mfn(kL3), 0) = pte(kL2, kTable);
        mem.word(Mfn(kL2), 0) = pte(kL1, kTable);
        mem.word(Mfn(kL1), kLdtVa >> 12) = pte(kLdtFrame, kRo);
        mem.word(Mfn(kL1), kBadVa >> 12) = pte(kBadFrame, kRo);
        mem.word(Mfn(kL1), kRwVa >> 12) = pte(kRwFrame, kTable);
        mem.bad_descriptor_pages.insert(kBadFrame);
        PageTypeEngine engine = domain_engine(domain);
        ASSERT_TRUE(engine.pin(Mfn(kL4), PageType::L4).ok());
        ASSERT_TRUE(engine.pin(Mfn(kUserL4), PageType::L4).ok());
        vcpu.kernel_cr3 = Mfn(kL4).maddr().raw();
        vcpu.user_cr3 = Mfn(kUserL4).maddr().raw();
    }
    void TearDown() override { test::fake_domain_mm().frames = nullptr; }

    u32 types(u64 mfn) { return type_count(mem.info(Mfn(mfn))); }
};

// Misaligned, too many entries, a base in the hypervisor's range or non-canonical: -EINVAL.
TEST_F(LdtTest, BadArgumentsAreEinval) {
    EXPECT_EQ(set_ldt(vcpu, kLdtVa + 8, 1), -xen::kEINVAL);
    EXPECT_EQ(set_ldt(vcpu, kLdtVa, 8193), -xen::kEINVAL);
    EXPECT_EQ(set_ldt(vcpu, xen::kHypervisorVirtStart, 1), -xen::kEINVAL);
    EXPECT_EQ(set_ldt(vcpu, xen::kHypervisorVirtEnd - 0x1000, 1), -xen::kEINVAL);
    EXPECT_EQ(set_ldt(vcpu, u64{1} << 47, 1), -xen::kEINVAL);
    EXPECT_EQ(test::fake_domain_mm().ldt_loads, 0u);
}

// As Xen: with no entries the base is ignored (and recorded as 0); only the base itself is
// checked, so an LDT may end in non-canonical space; nr_ents is the low 32 bits of arg2.
TEST_F(LdtTest, OnlyTheBaseIsCheckedAndOnlyWithEntries) {
    EXPECT_EQ(set_ldt(vcpu, kLdtVa + 8, 0), 0);
    EXPECT_EQ(vcpu.ldt_base, 0u);
    EXPECT_EQ(set_ldt(vcpu, u64{1} << 47, 0), 0);
    EXPECT_EQ(vcpu.ldt_base, 0u);
    EXPECT_EQ(set_ldt(vcpu, kTop, 8192), 0);
    EXPECT_EQ(vcpu.ldt_base, kTop);
    EXPECT_EQ(set_ldt(vcpu, xen::kHypervisorVirtEnd, 2), 0);
    EXPECT_EQ(set_ldt(vcpu, kLdtVa, (u64{1} << 32) | 3), 0);
    EXPECT_EQ(vcpu.ldt_ents, 3u);
}

// The first descriptor read maps the page with a segment-descriptor type reference; a new LDT
// drops it.
TEST_F(LdtTest, FirstReadMapsThePageAndSetLdtReleasesIt) {
    ASSERT_EQ(set_ldt(vcpu, kLdtVa, 512), 0);
    const LdtFault fault = handle_ldt_fault(vcpu, window + 8, 0);
    EXPECT_EQ(fault.kind, LdtFaultKind::Fixed);
    EXPECT_EQ(vcpu.ldt_frames[0], kLdtFrame);
    EXPECT_EQ(current_type(mem.info(Mfn(kLdtFrame))), PageType::SegDesc);
    EXPECT_EQ(types(kLdtFrame), 1u);
    const unsigned window_loads = test::fake_domain_mm().ldt_loads;
    ASSERT_EQ(set_ldt(vcpu, 0, 0), 0);
    EXPECT_EQ(vcpu.ldt_frames[0], 0u);
    EXPECT_EQ(types(kLdtFrame), 0u);
    EXPECT_EQ(test::fake_domain_mm().ldt_loads, window_loads + 1);  // the mapped page leaves the window
}

// A new LDT while no page of the old one was mapped leaves the window alone: LDTR only.
TEST_F(LdtTest, SetLdtWithNothingMappedLoadsOnlyLdtr) {
    ASSERT_EQ(set_ldt(vcpu, kLdtVa, 16), 0);
    ASSERT_EQ(set_ldt(vcpu, kLdtVa, 32), 0);
    EXPECT_EQ(test::fake_domain_mm().ldt_loads, 0u);
    EXPECT_EQ(test::fake_domain_mm().ldtr_loads, 2u);
    EXPECT_EQ(vcpu.ldt_ents, 32u);
}

// In user mode the page is still looked up in the kernel's tables (the user root maps nothing).
TEST_F(LdtTest, UserModeUsesTheKernelTables) {
    ASSERT_EQ(set_ldt(vcpu, kLdtVa, 512), 0);
    vcpu.kernel_mode = false;
    EXPECT_EQ(handle_ldt_fault(vcpu, window + 8, 0).kind, LdtFaultKind::Fixed);
    EXPECT_EQ(vcpu.ldt_frames[0], kLdtFrame);
}

// A guest instruction touching the window (a user access at CPL 3), a reserved-bit fault or an
// address outside the window is an ordinary #PF: no type is taken, the address is not rewritten.
TEST_F(LdtTest, OtherFaultsAreNotLdt) {
    ASSERT_EQ(set_ldt(vcpu, kLdtVa, 512), 0);
    EXPECT_EQ(handle_ldt_fault(vcpu, window + 8, kPfUser).kind, LdtFaultKind::NotLdt);
    EXPECT_EQ(handle_ldt_fault(vcpu, window + 8, kPfReserved).kind, LdtFaultKind::NotLdt);
    EXPECT_EQ(handle_ldt_fault(vcpu, window - 8, 0).kind, LdtFaultKind::NotLdt);
    EXPECT_EQ(handle_ldt_fault(vcpu, window + 16 * kPageSize, 0).kind, LdtFaultKind::NotLdt);
    EXPECT_EQ(types(kLdtFrame), 0u);
    EXPECT_EQ(vcpu.ldt_frames[0], 0u);
}

// Refused descriptors, a writable mapping, nothing mapped: #PF at the descriptor's LDT address.
TEST_F(LdtTest, UnmappablePagesArePageFaults) {
    const u64 bases[] = {kBadVa, kRwVa, kUnmappedVa};
    for (u64 base : bases) {
        ASSERT_EQ(set_ldt(vcpu, base, 512), 0);
        const LdtFault fault = handle_ldt_fault(vcpu, window + 0x18, 0);
        EXPECT_EQ(fault.kind, LdtFaultKind::PageFault) << base;
        EXPECT_EQ(fault.value, base + 0x18) << base;
        EXPECT_EQ(vcpu.ldt_frames[0], 0u);
    }
    EXPECT_EQ(types(kBadFrame), 0u);
    EXPECT_EQ(current_type(mem.info(Mfn(kRwFrame))), PageType::Writable);
}

// An LDT ending in non-canonical space: descriptors there are #GP(offset | TI), as Xen reports them.
TEST_F(LdtTest, NonCanonicalDescriptorIsGp) {
    ASSERT_EQ(set_ldt(vcpu, kTop, 8192), 0);
    const LdtFault canonical = handle_ldt_fault(vcpu, window + 8, 0);
    EXPECT_EQ(canonical.kind, LdtFaultKind::PageFault);
    EXPECT_EQ(canonical.value, kTop + 8);
    const LdtFault beyond = handle_ldt_fault(vcpu, window + 0x1008, 0);
    EXPECT_EQ(beyond.kind, LdtFaultKind::GeneralProtection);
    EXPECT_EQ(beyond.value, 0x100cu);
}

}  // namespace
}  // namespace hv::pv
