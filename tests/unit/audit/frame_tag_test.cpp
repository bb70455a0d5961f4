// SPDX-License-Identifier: MIT
// Isolation audit: frame tags from the frame table, verdicts, names and id texts.
#include "hv/audit/frame_tag.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hv::audit {
namespace {

constexpr Subject kSubject{.domain = 1, .vcpu = 2, .pcpu = 3};

mm::FrameInfo info(mm::FrameOwner owner, mm::FrameClass frame_class, u32 class_id) {
    return mm::FrameInfo{owner, frame_class, mm::Pool::Hypervisor, 0, class_id, 0, 0};
}

std::string id_of(const FrameTag& tag) {
    char buffer[32];
    const usize length = format_tag_id(buffer, sizeof buffer, tag);
    EXPECT_EQ(length, std::string(buffer).size());
    return buffer;
}

// The verdict table of frame_tag.hpp, row by row.
TEST(AuditFrameTag, Verdicts) {
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::Global, 7, 7}, kSubject), Verdict::Own);
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::PerCpu, 0, 3}, kSubject), Verdict::Own);
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::PerCpu, 0, 2}, kSubject), Verdict::Foreign);
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::PerDomain, 1, 0}, kSubject), Verdict::Own);
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::PerDomain, 2, 0}, kSubject), Verdict::Foreign);
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::PerVcpu, 1, 2}, kSubject), Verdict::Own);
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::PerVcpu, 1, 0}, kSubject), Verdict::Foreign);
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::PerVcpu, 2, 2}, kSubject), Verdict::Foreign);  // same index, other domain
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::Guest, 1, 0}, kSubject), Verdict::Own);
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::Guest, 0, 0}, kSubject), Verdict::Foreign);
    // Another domain's frame mapped through its grant: shared on purpose, neither own nor foreign.
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::Guest, 2, kGrantedToSubject}, kSubject), Verdict::Granted);
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::Guest, 1, kGrantedToSubject}, kSubject), Verdict::Own);
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::PerDomain, 2, kGrantedToSubject}, kSubject), Verdict::Foreign);
    EXPECT_STREQ(verdict_name(Verdict::Granted), "granted");
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::Free, 0, kFreeInDomainPool}, kSubject), Verdict::Bad);
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::Free, 0, 0}, kSubject), Verdict::Own);  // directmapped pool
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::Unusable, 0, 0}, kSubject), Verdict::Own);
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::BootModule, 0, 1}, kSubject), Verdict::Own);
    EXPECT_EQ(verdict_of(FrameTag{FrameKind::OutsideRam, 0, 0}, kSubject), Verdict::Own);
    EXPECT_EQ(verdict_of(FrameTag{static_cast<FrameKind>(99), 0, 0}, kSubject), Verdict::Bad);
}

// The owner decides first; then the isolation class and class_id.
TEST(AuditFrameTag, FromFrameInfo) {
    using mm::FrameClass;
    using mm::FrameOwner;
    EXPECT_EQ(tag_of(info(FrameOwner::Free, FrameClass::PerVcpu, 5)), (FrameTag{FrameKind::Free, 0, 0}));
    EXPECT_EQ(tag_of(info(FrameOwner::Unusable, FrameClass::Global, 0)), (FrameTag{FrameKind::Unusable, 0, 0}));
    EXPECT_EQ(tag_of(info(FrameOwner::BootModule, FrameClass::Global, 2)), (FrameTag{FrameKind::BootModule, 0, 2}));
    EXPECT_EQ(tag_of(info(FrameOwner::Hypervisor, FrameClass::Global, 9)), (FrameTag{FrameKind::Global, 0, 0}));
    EXPECT_EQ(tag_of(info(FrameOwner::Hypervisor, FrameClass::PerCpu, 3)), (FrameTag{FrameKind::PerCpu, 0, 3}));
    EXPECT_EQ(tag_of(info(FrameOwner::Hypervisor, FrameClass::PerDomain, 4)), (FrameTag{FrameKind::PerDomain, 4, 0}));
    EXPECT_EQ(tag_of(info(FrameOwner::Domain, FrameClass::Guest, 2)), (FrameTag{FrameKind::Guest, 2, 0}));
    EXPECT_EQ(tag_of(info(FrameOwner::Hypervisor, FrameClass::PerVcpu, pervcpu_class_id(3, 1))),
              (FrameTag{FrameKind::PerVcpu, 3, 1}));
}

// pervcpu_class_id keeps both ids apart for every domain and vCPU below 2^16.
TEST(AuditFrameTag, PerVcpuClassIdRoundTrip) {
    for (u32 d : {0U, 1U, 2U, 0xffffU})
        for (u32 v : {0U, 1U, 31U, 0xffffU}) {
            const FrameTag tag = tag_of(info(mm::FrameOwner::Domain, mm::FrameClass::PerVcpu, pervcpu_class_id(d, v)));
            EXPECT_EQ(tag, (FrameTag{FrameKind::PerVcpu, d, v}));
        }
}

// Protocol names and id texts, as documented.
TEST(AuditFrameTag, Names) {
    const char* const kinds[] = {"global", "percpu", "perdomain", "pervcpu", "guest",
                                 "free",   "unusable", "bootmod", "outside"};
    for (unsigned k = 0; k < kFrameKindCount; ++k) EXPECT_STREQ(kind_name(static_cast<FrameKind>(k)), kinds[k]);
    EXPECT_STREQ(kind_name(static_cast<FrameKind>(kFrameKindCount)), "?");
    EXPECT_STREQ(verdict_name(Verdict::Own), "own");
    EXPECT_STREQ(verdict_name(Verdict::Foreign), "foreign");
    EXPECT_STREQ(verdict_name(Verdict::Bad), "bad");
    EXPECT_EQ(id_of(FrameTag{FrameKind::Global, 1, 2}), "-");
    EXPECT_EQ(id_of(FrameTag{FrameKind::PerCpu, 0, 3}), "c3");
    EXPECT_EQ(id_of(FrameTag{FrameKind::PerDomain, 4, 0}), "d4");
    EXPECT_EQ(id_of(FrameTag{FrameKind::PerVcpu, 1, 2}), "d1v2");
    EXPECT_EQ(id_of(FrameTag{FrameKind::Guest, 2, 0}), "d2");
    EXPECT_EQ(id_of(FrameTag{FrameKind::BootModule, 0, 1}), "m1");
    EXPECT_EQ(id_of(FrameTag{FrameKind::OutsideRam, 0, 0}), "-");
}

}  // namespace
}  // namespace hv::audit
