// SPDX-License-Identifier: MIT
// Tests of GNTTABOP_copy: bytes between a grant of another domain and a frame of our own (both
// ways), Xen's statuses and their order, and that a copy leaves no reference, type or access
// flag behind. [pv-abi.md §3.14]
#include <gtest/gtest.h>

#include <cstring>

#include "grant_table_fixture.hpp"

namespace hv::pv {
namespace {

using GrantCopyTest = GrantTableTest;

constexpr u16 kSrcGref = 1, kDestGref = 2;

xen::GnttabCopy copy_op(u64 source, u16 source_dom, u16 source_offset, u64 dest, u16 dest_dom, u16 dest_offset,
                        u16 len, u16 flags) {
    xen::GnttabCopy op{};
    op.source.u.gmfn = source;
    op.source.domid = source_dom;
    op.source.offset = source_offset;
    op.dest.u.gmfn = dest;
    op.dest.domid = dest_dom;
    op.dest.offset = dest_offset;
    op.len = len;
    op.flags = flags;
    op.status = 0x7777;
    return op;
}

u8* bytes(GrantTableTest& t, u64 mfn) { return reinterpret_cast<u8*>(&t.at(mfn, 0)); }

// From d2's grant to our frame, and back from our frame into d2's grant: the bytes land at the
// offsets; nothing stays referenced, typed or flagged.
TEST_F(GrantCopyTest, CopiesBothWays) {
    d2_v1(8) = entry(kPermit, 1, kD2Frame);
    std::memcpy(bytes(*this, kD2Frame) + 100, "granted bytes", 13);
    EXPECT_EQ(grant_copy(vcpu, copy_op(8, 2, 100, kGranted, xen::kDomidSelf, 3000, 13, kSrcGref)), xen::kGntstOkay);
    EXPECT_EQ(std::memcmp(bytes(*this, kGranted) + 3000, "granted bytes", 13), 0);
    std::memcpy(bytes(*this, kGranted) + 7, "reply", 5);
    EXPECT_EQ(grant_copy(vcpu, copy_op(kGranted, 1, 7, 8, 2, 4091, 5, kDestGref)), xen::kGntstOkay);
    EXPECT_EQ(std::memcmp(bytes(*this, kD2Frame) + 4091, "reply", 5), 0);
    for (const u64 mfn : {kD2Frame, kGranted}) {
        EXPECT_EQ(refs(mfn), 0u) << mfn;
        EXPECT_EQ(types(mfn), 0u) << mfn;
    }
    EXPECT_EQ(static_cast<u16>(d2_v1(8)), kPermit);
    EXPECT_EQ(test::fake_domain_private(*d2).grant_active[8].pin, 0u);
}

// Xen's statuses, in its order: domains (bad_domain, then a frame of another domain:
// permission_denied), the source's claim, the destination's, then the lengths.
TEST_F(GrantCopyTest, Errors) {
    d2_v1(8) = entry(kPermit, 1, kD2Frame);
    d2_v1(9) = entry(kPermit | xen::kGtfReadonly, 1, kD2Frame);
    d2_v1(10) = entry(kPermit, 3, kD2Frame);
    const u16 self = xen::kDomidSelf;
    EXPECT_EQ(grant_copy(vcpu, copy_op(8, 7, 0, kGranted, self, 0, 8, kSrcGref)), xen::kGntstBadDomain);
    EXPECT_EQ(grant_copy(vcpu, copy_op(8, 2, 0, kGranted, 7, 0, 9000, kSrcGref)), xen::kGntstBadDomain);
    EXPECT_EQ(grant_copy(vcpu, copy_op(kD2Frame, 2, 0, kGranted, self, 0, 8, 0)), xen::kGntstPermissionDenied);
    EXPECT_EQ(grant_copy(vcpu, copy_op(kGranted, self, 0, kD2Frame, 2, 0, 8, 0)), xen::kGntstPermissionDenied);
    EXPECT_EQ(grant_copy(vcpu, copy_op(512, 2, 0, kGranted, self, 0, 8, kSrcGref)), xen::kGntstBadGntref);
    EXPECT_EQ(grant_copy(vcpu, copy_op(10, 2, 0, kGranted, self, 0, 8, kSrcGref)), xen::kGntstGeneralError);
    EXPECT_EQ(grant_copy(vcpu, copy_op(kGranted, self, 0, 9, 2, 0, 8, kDestGref)), xen::kGntstGeneralError);
    EXPECT_EQ(grant_copy(vcpu, copy_op(9, 2, 0, kGranted, self, 0, 8, kSrcGref)), xen::kGntstOkay);  // RO source
    EXPECT_EQ(grant_copy(vcpu, copy_op(kD2Frame, self, 0, kGranted, self, 0, 8, 0)), xen::kGntstBadPage);
    EXPECT_EQ(grant_copy(vcpu, copy_op(kBeyond, self, 0, kGranted, self, 0, 8, 0)), xen::kGntstBadPage);
    EXPECT_EQ(grant_copy(vcpu, copy_op(kGranted, self, 0, kL1, self, 0, 8, 0)), xen::kGntstGeneralError);  // a table
    EXPECT_EQ(grant_copy(vcpu, copy_op(8, 2, 4090, kGranted, self, 0, 8, kSrcGref)), xen::kGntstBadCopyArg);
    EXPECT_EQ(grant_copy(vcpu, copy_op(8, 2, 0, kGranted, self, 4090, 8, kSrcGref)), xen::kGntstBadCopyArg);
    for (const u64 mfn : {kD2Frame, kGranted}) {
        EXPECT_EQ(refs(mfn), 0u) << mfn;
        EXPECT_EQ(types(mfn), 0u) << mfn;
    }
    for (u32 ref = 8; ref <= 10; ++ref) EXPECT_EQ(test::fake_domain_private(*d2).grant_active[ref].pin, 0u) << ref;
    EXPECT_EQ(static_cast<u16>(d2_v1(8)), kPermit);
    EXPECT_EQ(static_cast<u16>(d2_v1(9)), kPermit | xen::kGtfReadonly);
}

// A copy into a grant that is also mapped: the pin and flags of the mapping stay.
TEST_F(GrantCopyTest, CopyIntoAMappedGrant) {
    d2_v1(8) = entry(kPermit | xen::kGtfReadonly, 1, kD2Frame);
    const Mapped m = map(kVaEmpty, kHost | kRo, 8, 2);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(grant_copy(vcpu, copy_op(8, 2, 0, kGranted, xen::kDomidSelf, 0, 8, kSrcGref)), xen::kGntstOkay);
    EXPECT_EQ(test::fake_domain_private(*d2).grant_active[8].pin, kPinHostRead);
    EXPECT_EQ(static_cast<u16>(d2_v1(8)), kPermit | xen::kGtfReadonly | kReading);
    EXPECT_EQ(refs(kD2Frame), 1u);
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstOkay);
}

// The hypercall: statuses written back per op, the copy done under the domains' locks.
TEST_F(GrantCopyTest, Hypercall) {
    d2_v1(8) = entry(kPermit, 1, kD2Frame);
    at(kD2Frame, 0) = 0x1122334455667788;
    const xen::GnttabCopy ops[2] = {copy_op(8, 2, 0, kGranted, xen::kDomidSelf, 8, 8, kSrcGref),
                                    copy_op(8, 7, 0, kGranted, xen::kDomidSelf, 0, 8, kSrcGref)};
    put(kList, ops);
    ASSERT_EQ(call(xen::kGnttabOpCopy, kList, 2), 0);
    EXPECT_EQ(get<xen::GnttabCopy>(kList).status, xen::kGntstOkay);
    EXPECT_EQ(get<xen::GnttabCopy>(kList + sizeof(xen::GnttabCopy)).status, xen::kGntstBadDomain);
    EXPECT_EQ(at(kGranted, 1), 0x1122334455667788u);
    d1->mm_lock.lock();  // left free
    d1->mm_lock.unlock();
    d2->mm_lock.lock();
    d2->mm_lock.unlock();
}

}  // namespace
}  // namespace hv::pv
