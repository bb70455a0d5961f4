// SPDX-License-Identifier: MIT
// Tests of grant mappings across domains (d1 maps what d2 granted): the references on the
// granter's frame (general, Writable unless readonly) held by the mapping, the granter's entry
// flags and pins, the mapper's PTE holding nothing, the checks (entry's domid, readonly, refs,
// handles, addresses), what the granter can no longer do while mapped, and the mapper
// rewriting or unhooking the PTE itself. [pv-abi.md §3.14, §5.1]
#include <gtest/gtest.h>

#include "grant_table_fixture.hpp"

namespace hv::pv {
namespace {

using GrantForeignTest = GrantTableTest;

constexpr u64 kD2Frame2 = 71;  // another frame of d2

// d2 grants frame `frame` as entry `ref` to `domid` (d1 by default).
void d2_grant(GrantTableTest& t, u32 ref, u64 frame, u16 flags = kPermit, u16 domid = 1) {
    t.d2_v1(ref) = GrantTableTest::entry(flags, domid, frame);
}

// A RW host mapping of d2's frame: d2's frame gets one general and one Writable reference, the
// PTE in d1's L1 maps it (its old frame's references dropped), d2's entry reads reading|writing
// with the pin in d2's table; d1's own frames and counts are untouched. The unmap flushes d1's
// TLBs and gives everything back.
TEST_F(GrantForeignTest, RwHostMapOfAnotherDomainsFrame) {
    d2_grant(*this, 8, kD2Frame);
    const u64 old_frame = kMappedData + 1;
    const Mapped m = map(kVaMapped, kHost, 8, 2);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(m.dev_bus_addr, Mfn(kD2Frame).maddr().raw());
    EXPECT_EQ(l1e(kVaMapped), grant_pte_value(kD2Frame, true));
    EXPECT_EQ(refs(kD2Frame), 1u);
    EXPECT_EQ(type(kD2Frame), PageType::Writable);
    EXPECT_EQ(types(kD2Frame), 1u);
    EXPECT_EQ(refs(old_frame), 0u);
    EXPECT_EQ(static_cast<u16>(d2_v1(8)), kPermit | kReading | kWriting);
    EXPECT_EQ(test::fake_domain_private(*d2).grant_active[8].pin, kPinHostWrite);
    EXPECT_EQ(test::fake_domain_private(*d2).grant_active[8].domid, 1);
    EXPECT_EQ(area().grant_active[8].pin, 0u);
    EXPECT_EQ(area().maptrack[m.handle].domid, 2);
    EXPECT_EQ(grant_handle_domain(vcpu, m.handle), d2.get());
    EXPECT_TRUE(grant_frame_mapped_by(*d2, Mfn(kD2Frame), 1));
    EXPECT_FALSE(grant_frame_mapped_by(*d2, Mfn(kD2Frame), 3));

    // The granter cannot make the frame a page table while it is mapped writable.
    PageTypeEngine d2_engine = domain_engine(*d2);
    EXPECT_FALSE(d2_engine.pin(Mfn(kD2Frame), PageType::L1).ok());

    const unsigned flushes = test::fake_domain_mm().full_flushes;
    EXPECT_EQ(unmap(kVaMapped, m.handle), xen::kGntstOkay);
    EXPECT_EQ(test::fake_domain_mm().full_flushes, flushes + 1);  // before the references went
    EXPECT_EQ(l1e(kVaMapped), 0u);
    EXPECT_EQ(refs(kD2Frame), 0u);
    EXPECT_EQ(types(kD2Frame), 0u);
    EXPECT_EQ(static_cast<u16>(d2_v1(8)), kPermit);
    EXPECT_EQ(test::fake_domain_private(*d2).grant_active[8].pin, 0u);
    EXPECT_FALSE(grant_frame_mapped_by(*d2, Mfn(kD2Frame), 1));
    EXPECT_EQ(unmap(kVaMapped, m.handle), xen::kGntstBadHandle);  // double unmap
    EXPECT_TRUE(d2_engine.pin(Mfn(kD2Frame), PageType::L1).ok());
}

// Read-only: one general reference, no type; GTF_reading only. Host plus device RW: two of each.
TEST_F(GrantForeignTest, ReadOnlyAndDeviceParts) {
    d2_grant(*this, 8, kD2Frame, kPermit | xen::kGtfReadonly);
    const Mapped ro = map(kVaEmpty, kHost | kRo, 8, 2);
    ASSERT_EQ(ro.status, xen::kGntstOkay);
    EXPECT_EQ(l1e(kVaEmpty), grant_pte_value(kD2Frame, false));
    EXPECT_EQ(refs(kD2Frame), 1u);
    EXPECT_EQ(types(kD2Frame), 0u);
    EXPECT_EQ(static_cast<u16>(d2_v1(8)), kPermit | xen::kGtfReadonly | kReading);
    EXPECT_EQ(map(kVaEmpty2, kHost, 8, 2).status, xen::kGntstGeneralError);  // RO grant mapped RW
    EXPECT_EQ(l1e(kVaEmpty2), 0u);
    EXPECT_EQ(unmap(kVaEmpty, ro.handle), xen::kGntstOkay);
    EXPECT_EQ(refs(kD2Frame), 0u);

    d2_grant(*this, 9, kD2Frame2);
    const Mapped both = map(kVaEmpty2, kHost | kDevice, 9, 2);
    ASSERT_EQ(both.status, xen::kGntstOkay);
    EXPECT_EQ(refs(kD2Frame2), 2u);
    EXPECT_EQ(types(kD2Frame2), 2u);
    EXPECT_EQ(test::fake_domain_private(*d2).grant_active[9].pin, kPinHostWrite | kPinDeviceWrite);
    EXPECT_EQ(unmap(kVaEmpty2, both.handle, Mfn(kD2Frame).maddr().raw()), xen::kGntstBadDevAddr);
    EXPECT_EQ(unmap(kVaEmpty2, both.handle), xen::kGntstOkay);  // host part only
    EXPECT_EQ(refs(kD2Frame2), 1u);
    EXPECT_EQ(static_cast<u16>(d2_v1(9)), kPermit | kReading | kWriting);
    EXPECT_EQ(unmap(0, both.handle, Mfn(kD2Frame2).maddr().raw()), xen::kGntstOkay);
    EXPECT_EQ(refs(kD2Frame2), 0u);
    EXPECT_EQ(types(kD2Frame2), 0u);
    EXPECT_EQ(static_cast<u16>(d2_v1(9)), kPermit);
}

// Xen's checks, each leaving no trace: entry granted to another domain, not permit_access, ref
// past the table, missing domain, DOMID_SELF, a frame that is not the granter's; a pin by
// another domain; the wrong address at unmap.
TEST_F(GrantForeignTest, HostileMaps) {
    d2_grant(*this, 8, kD2Frame, kPermit, 3);  // granted to d3
    EXPECT_EQ(map(kVaEmpty, kHost, 8, 2).status, xen::kGntstGeneralError);
    d2_grant(*this, 9, kD2Frame, 0);  // not permit_access
    EXPECT_EQ(map(kVaEmpty, kHost, 9, 2).status, xen::kGntstGeneralError);
    EXPECT_EQ(map(kVaEmpty, kHost, 512, 2).status, xen::kGntstBadGntref);
    EXPECT_EQ(map(kVaEmpty, kHost, 8, 7).status, xen::kGntstBadDomain);
    EXPECT_EQ(map(kVaEmpty, kHost, 8, xen::kDomidSelf).status, xen::kGntstBadDomain);
    d2_grant(*this, 10, kGranted);  // d2 "grants" a frame of d1
    EXPECT_EQ(map(kVaEmpty, kHost, 10, 2).status, xen::kGntstBadPage);
    EXPECT_EQ(static_cast<u16>(d2_v1(10)), kPermit);
    d2_grant(*this, 11, kD2Frame);
    EXPECT_EQ(map(kXenArea, kHost, 11, 2).status, xen::kGntstGeneralError);
    EXPECT_EQ(map(kVaNoL1, kHost, 11, 2).status, xen::kGntstGeneralError);
    EXPECT_EQ(static_cast<u16>(d2_v1(11)), kPermit);
    EXPECT_EQ(refs(kD2Frame), 0u);
    EXPECT_EQ(types(kD2Frame), 0u);
    EXPECT_EQ(l1e(kVaEmpty), 0u);

    test::fake_domain_private(*d2).grant_active[11] = ActiveGrant{kPinHostRead, 3, 0, kD2Frame};  // pinned by d3
    EXPECT_EQ(map(kVaEmpty, kHost | kRo, 11, 2).status, xen::kGntstGeneralError);
    test::fake_domain_private(*d2).grant_active[11] = ActiveGrant{};

    const Mapped m = map(kVaEmpty, kHost, 11, 2);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(unmap(kVaEmpty2, m.handle), xen::kGntstGeneralError);  // wrong address
    EXPECT_EQ(unmap(kVaEmpty, m.handle + 1), xen::kGntstBadHandle);
    EXPECT_EQ(unmap(kVaEmpty, kMaptrackEntries), xen::kGntstBadHandle);
    EXPECT_EQ(refs(kD2Frame), 1u);
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstOkay);
    EXPECT_EQ(refs(kD2Frame), 0u);
}

// The granter while its grant is mapped: set_version -EBUSY, swap eagain; clearing the entry
// (ending access without checking the flags) leaves the mapping and its references intact, and
// the unmap still works and clears the flags it set.
TEST_F(GrantForeignTest, GranterCannotRevokeWhileMapped) {
    d2_grant(*this, 8, kD2Frame);
    d2_grant(*this, 9, kD2Frame2);
    const Mapped m = map(kVaEmpty, kHost, 8, 2);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    Vcpu& granter = d2->vcpus[0];
    EXPECT_EQ(grant_set_version(granter, 2), -xen::kEBUSY);
    EXPECT_EQ(grant_swap(granter, 8, 9), xen::kGntstEagain);
    // The guest's gnttab_end_foreign_access: a cmpxchg from exactly permit_access, which fails.
    u64 expected = GrantTableTest::entry(kPermit, 1, kD2Frame);
    EXPECT_NE(d2_v1(8), expected);
    d2_v1(8) = 0;  // a granter that overwrites it anyway
    EXPECT_EQ(refs(kD2Frame), 1u);
    EXPECT_EQ(types(kD2Frame), 1u);
    EXPECT_EQ(l1e(kVaEmpty), grant_pte_value(kD2Frame, true));
    const Mapped again = map(kVaEmpty2, kHost, 8, 2);  // pinned: the entry is not re-checked (Xen)
    ASSERT_EQ(again.status, xen::kGntstOkay);
    EXPECT_EQ(unmap(kVaEmpty2, again.handle), xen::kGntstOkay);
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstOkay);
    EXPECT_EQ(refs(kD2Frame), 0u);
    EXPECT_EQ(test::fake_domain_private(*d2).grant_active[8].pin, 0u);
    EXPECT_EQ(grant_set_version(granter, 2), 0);
}

// The mapper rewrites the grant PTE itself or unhooks the L1 holding it: its engine drops
// nothing on d2's frame (the mapping holds the references), so the frame stays referenced and
// typed until the grant unmap, which then fails (Xen's undestroyable grant): no count goes out of
// balance, no frame can be freed or retyped under a live translation. It cannot upgrade a
// read-only mapping to RW, nor write a PTE to d2's frame on its own.
TEST_F(GrantForeignTest, MapperRewritesThePte) {
    d2_grant(*this, 8, kD2Frame);
    d2_grant(*this, 9, kD2Frame2);
    const Mapped rw = map(kVaEmpty, kHost, 8, 2);
    const Mapped ro = map(kVaEmpty2, kHost | kRo, 9, 2);
    ASSERT_EQ(rw.status, xen::kGntstOkay);
    ASSERT_EQ(ro.status, xen::kGntstOkay);
    EXPECT_FALSE(remap(kVaEmpty2, pte(kD2Frame2, kP | kRw | kA | kD)).ok());  // RO -> RW
    EXPECT_FALSE(remap(kVaMapped, pte(kD2Frame, kP | kA | kD)).ok());         // a PTE of its own
    EXPECT_TRUE(remap(kVaEmpty, pte(kGranted, kP | kRw | kA | kD)).ok());      // overwrite the grant's
    EXPECT_EQ(refs(kD2Frame), 1u);
    EXPECT_EQ(types(kD2Frame), 1u);
    EXPECT_EQ(refs(kGranted), 1u);
    EXPECT_EQ(unmap(kVaEmpty, rw.handle), xen::kGntstGeneralError);
    EXPECT_EQ(refs(kD2Frame), 1u);

    // Unhook d1's L1: its last type reference goes, devalidation skips the foreign entry.
    PageTypeEngine d1_engine = domain_engine(*d1);
    ASSERT_TRUE(d1_engine.update_entry(Mfn(kL2), 0, 0).ok());
    EXPECT_EQ(types(kL1), 0u);
    EXPECT_EQ(refs(kD2Frame2), 1u);
    EXPECT_EQ(refs(kGranted), 0u);
    // Re-hooking it must validate it again: the foreign entry is refused.
    EXPECT_FALSE(d1_engine.update_entry(Mfn(kL2), 0, pte(kL1, kTable)).ok());
    EXPECT_EQ(refs(kD2Frame2), 1u);
    EXPECT_EQ(static_cast<u16>(d2_v1(9)), kPermit | kReading);
}

// unmap_and_replace of a foreign mapping, and of an own PTE replaced by a foreign grant's PTE.
TEST_F(GrantForeignTest, UnmapAndReplace) {
    d2_grant(*this, 8, kD2Frame);
    const Mapped m = map(kVaEmpty, kHost, 8, 2);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    const u64 moved = l1e(kVaMapped);
    EXPECT_EQ(grant_unmap(vcpu, kVaEmpty, 0, kVaMapped, m.handle), xen::kGntstOkay);
    EXPECT_EQ(l1e(kVaEmpty), moved);
    EXPECT_EQ(l1e(kVaMapped), 0u);
    EXPECT_EQ(refs(kMappedData + 1), 1u);
    EXPECT_EQ(refs(kD2Frame), 0u);

    const Mapped a = map(kVaEmpty2, kHost, 8, 2);
    grant(8, kGranted);
    const Mapped own = map(kVaMapped, kHost, 8);
    ASSERT_EQ(a.status, xen::kGntstOkay);
    ASSERT_EQ(own.status, xen::kGntstOkay);
    EXPECT_EQ(grant_unmap(vcpu, kVaMapped, 0, kVaEmpty2, own.handle), xen::kGntstOkay);
    EXPECT_EQ(l1e(kVaMapped), grant_pte_value(kD2Frame, true));  // the foreign PTE moved
    EXPECT_EQ(refs(kGranted), 0u);
    EXPECT_EQ(refs(kD2Frame), 1u);
    EXPECT_EQ(unmap(kVaMapped, a.handle), xen::kGntstOkay);
    EXPECT_EQ(refs(kD2Frame), 0u);
}

// The hypercall path takes both domains' locks (per op) and leaves them free.
TEST_F(GrantForeignTest, HypercallLocksBothDomains) {
    d2_grant(*this, 8, kD2Frame);
    const xen::GnttabMapGrantRef op{kVaEmpty, kHost, 8, 2, 0, 0, 0};
    put(kList, op);
    ASSERT_EQ(call(xen::kGnttabOpMapGrantRef, kList, 1), 0);
    const auto mapped = get<xen::GnttabMapGrantRef>(kList);
    ASSERT_EQ(mapped.status, xen::kGntstOkay);
    const xen::GnttabUnmapGrantRef unmap_op{kVaEmpty, 0, mapped.handle, 0x7777};
    put(kList, unmap_op);
    ASSERT_EQ(call(xen::kGnttabOpUnmapGrantRef, kList, 1), 0);
    EXPECT_EQ(get<xen::GnttabUnmapGrantRef>(kList).status, xen::kGntstOkay);
    EXPECT_EQ(refs(kD2Frame), 0u);
    // Neither lock is left held (a second call would deadlock otherwise).
    ASSERT_EQ(call(xen::kGnttabOpMapGrantRef, kList, 0), 0);
    d1->mm_lock.lock();
    d1->mm_lock.unlock();
    d2->mm_lock.lock();
    d2->mm_lock.unlock();
}

// The granter's pins are in its private area (domain_private.hpp); when the granter does not run
// here (its area reached page by page, as through the image's mapcache) a map, the audit's
// lookup and the unmap still find and update them, and leave no page mapped.
TEST_F(GrantForeignTest, GranterPinsReachedPageByPage) {
    d2_grant(*this, 8, kD2Frame);
    d2_grant(*this, 300, kD2Frame2);  // another page of d2's pins
    test::fake_domain_private_paged(*d2, true);
    const Mapped a = map(kVaMapped, kHost, 8, 2);
    ASSERT_EQ(a.status, xen::kGntstOkay);
    const Mapped b = map(kVaEmpty, kHost | kRo, 300, 2);
    ASSERT_EQ(b.status, xen::kGntstOkay);
    EXPECT_GT(test::fake_domain_private_page_maps(), 0u);
    const DomainPrivate& granter = test::fake_domain_private(*d2);
    EXPECT_EQ(granter.grant_active[8].pin, kPinHostWrite);
    EXPECT_EQ(granter.grant_active[300].pin, kPinHostRead);
    EXPECT_TRUE(grant_frame_mapped_by(*d2, Mfn(kD2Frame2), 1)) << "found across pages";
    EXPECT_EQ(unmap(kVaMapped, a.handle), xen::kGntstOkay);
    EXPECT_EQ(unmap(kVaEmpty, b.handle), xen::kGntstOkay);
    EXPECT_EQ(granter.grant_active[8].pin, 0u);
    EXPECT_EQ(granter.grant_active[300].pin, 0u);
    EXPECT_EQ(test::fake_domain_private_pages_mapped(), 0u);
}

}  // namespace
}  // namespace hv::pv
