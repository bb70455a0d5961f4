// SPDX-License-Identifier: MIT
// Tests of grant tables: every grant_table_op's success and error paths, the exact general and
// Writable type references grant mappings hold (checked against the page-type engine's counts,
// also over a randomized map/unmap run), the sharing of grant and status frames, and hostile
// inputs (bad refs, domains, handles, addresses, pointers and counts). [pv-abi.md §3.14, §5.1]
#include "hv/pv/grant_table.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "hv/pv/domain.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/hypercall.hpp"
#include "hv/pv/page_types.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_domain_mm.hpp"
#include "support/fake_event_channel.hpp"
#include "support/fake_guest_memory.hpp"
#include "support/fake_pv_frames.hpp"
#include "grant_table_fixture.hpp"

namespace hv::pv {
namespace {

// --- frames -----------------------------------------------------------------------------------

// At build: v1, frame 0 shared as a Guest frame of the domain holding one general and one
// Writable reference; the other frames and the status frame held back by the hypervisor.
TEST_F(GrantTableTest, InitSharesFrameZeroOnly) {
    EXPECT_EQ(table().version, 1);
    EXPECT_EQ(table().nr_frames, 1);
    EXPECT_EQ(table().nr_status_frames, 0);
    EXPECT_EQ(info(kGrantFrame0).owner, mm::FrameOwner::Domain);
    EXPECT_EQ(info(kGrantFrame0).frame_class, mm::FrameClass::Guest);
    EXPECT_EQ(info(kGrantFrame0).class_id, 1u);
    EXPECT_EQ(refs(kGrantFrame0), 1u);
    EXPECT_EQ(type(kGrantFrame0), PageType::Writable);
    EXPECT_EQ(types(kGrantFrame0), 1u);
    for (u64 mfn = kGrantFrame0 + 1; mfn <= kGrantFrame0 + kGrantFrames; ++mfn) {
        EXPECT_EQ(info(mfn).owner, mm::FrameOwner::Hypervisor) << mfn;
        EXPECT_EQ(refs(mfn), 0u);
    }
}

// The guest maps a shared grant frame RW or RO, but can never make it a page table (the
// hypervisor writes it); a held-back frame it cannot map at all.
TEST_F(GrantTableTest, GrantFramesAreDataForever) {
    EXPECT_TRUE(remap(kVaEmpty, pte(kGrantFrame0, kP | kRw | kA | kD)).ok());
    EXPECT_EQ(types(kGrantFrame0), 2u);
    PageTypeEngine engine = domain_engine(*d1);
    EXPECT_FALSE(engine.pin(Mfn(kGrantFrame0), PageType::L1).ok());
    EXPECT_TRUE(remap(kVaEmpty, 0).ok());
    EXPECT_FALSE(engine.pin(Mfn(kGrantFrame0), PageType::L1).ok());  // still: the table's own ref
    EXPECT_EQ(refs(kGrantFrame0), 1u);
    EXPECT_FALSE(remap(kVaEmpty, pte(kGrantFrame0 + 1, kP | kA | kD)).ok());  // held back
    EXPECT_FALSE(remap(kVaEmpty, pte(kGrantFrame0 + kGrantFrames, kP | kA | kD)).ok());
}

// --- map / unmap: references ----------------------------------------------------------------

// A RW host mapping installs the grant PTE (replacing what was there, whose references go),
// takes exactly one general and one Writable reference, sets reading|writing; the unmap clears
// the PTE and drops exactly those.
TEST_F(GrantTableTest, RwHostMapTakesOneWritableRefAndUnmapDropsIt) {
    grant(8, kGranted);
    const u64 old_frame = kMappedData + 1;
    ASSERT_EQ(refs(old_frame), 1u);
    const Mapped m = map(kVaMapped, kHost, 8);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(m.dev_bus_addr, Mfn(kGranted).maddr().raw());
    EXPECT_EQ(l1e(kVaMapped), grant_pte_value(kGranted, true));
    EXPECT_EQ(refs(kGranted), 1u);
    EXPECT_EQ(type(kGranted), PageType::Writable);
    EXPECT_EQ(types(kGranted), 1u);
    EXPECT_EQ(refs(old_frame), 0u);
    EXPECT_EQ(types(old_frame), 0u);
    EXPECT_EQ(flags(8), kPermit | kReading | kWriting);
    EXPECT_EQ(area().grant_active[8].pin, kPinHostWrite);

    PageTypeEngine engine = domain_engine(*d1);
    EXPECT_FALSE(engine.pin(Mfn(kGranted), PageType::L1).ok());  // mapped writable: xsa-224's check

    EXPECT_EQ(unmap(kVaMapped, m.handle), xen::kGntstOkay);
    EXPECT_EQ(l1e(kVaMapped), 0u);
    EXPECT_EQ(refs(kGranted), 0u);
    EXPECT_EQ(types(kGranted), 0u);
    EXPECT_EQ(flags(8), kPermit);
    EXPECT_EQ(area().grant_active[8].pin, 0u);
    EXPECT_EQ(area().maptrack[m.handle].flags, 0);
    EXPECT_EQ(unmap(kVaMapped, m.handle), xen::kGntstBadHandle);
    EXPECT_TRUE(engine.pin(Mfn(kGranted), PageType::L1).ok());
    EXPECT_GE(test::fake_domain_mm().full_flushes, 0u);
}

// Read-only: one general reference, no type reference; the frame can be pinned meanwhile.
TEST_F(GrantTableTest, RoHostMapTakesNoTypeRef) {
    grant(8, kGranted);
    const Mapped m = map(kVaEmpty, kHost | kRo, 8);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(l1e(kVaEmpty), grant_pte_value(kGranted, false));
    EXPECT_EQ(refs(kGranted), 1u);
    EXPECT_EQ(types(kGranted), 0u);
    EXPECT_EQ(flags(8), kPermit | kReading);
    PageTypeEngine engine = domain_engine(*d1);
    ASSERT_TRUE(engine.pin(Mfn(kGranted), PageType::L1).ok());
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstOkay);
    EXPECT_EQ(refs(kGranted), 1u);  // the pin's
    EXPECT_EQ(flags(8), kPermit);
    ASSERT_TRUE(engine.unpin(Mfn(kGranted)).ok());
    EXPECT_EQ(refs(kGranted), 0u);
}

// A pinned page table maps read-only only; the refused RW map leaves no flags or references.
TEST_F(GrantTableTest, RwMapOfPageTableRefused) {
    grant(8, kGranted);
    PageTypeEngine engine = domain_engine(*d1);
    ASSERT_TRUE(engine.pin(Mfn(kGranted), PageType::L1).ok());
    EXPECT_EQ(map(kVaEmpty, kHost, 8).status, xen::kGntstGeneralError);
    EXPECT_EQ(map(kVaEmpty, kDevice, 8).status, xen::kGntstGeneralError);
    EXPECT_EQ(flags(8), kPermit);
    EXPECT_EQ(refs(kGranted), 1u);
    EXPECT_EQ(l1e(kVaEmpty), 0u);
    EXPECT_EQ(area().grant_active[8].pin, 0u);
}

// Host + device, RW: two writable references; each unmap part drops exactly one (xsa-224).
TEST_F(GrantTableTest, HostPlusDeviceTakeTwoWritableRefs) {
    grant(8, kGranted);
    const Mapped m = map(kVaEmpty, kHost | kDevice, 8);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(refs(kGranted), 2u);
    EXPECT_EQ(types(kGranted), 2u);
    EXPECT_EQ(area().grant_active[8].pin, kPinHostWrite | kPinDeviceWrite);
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstOkay);  // host part only
    EXPECT_EQ(refs(kGranted), 1u);
    EXPECT_EQ(types(kGranted), 1u);
    EXPECT_EQ(flags(8), kPermit | kReading | kWriting);
    EXPECT_EQ(area().maptrack[m.handle].flags, kDevice);
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstOkay);  // nothing left to do there
    EXPECT_EQ(refs(kGranted), 1u);
    EXPECT_EQ(unmap(0, m.handle, Mfn(kGranted2).maddr().raw()), xen::kGntstBadDevAddr);
    EXPECT_EQ(refs(kGranted), 1u);
    EXPECT_EQ(unmap(0, m.handle, Mfn(kGranted).maddr().raw()), xen::kGntstOkay);
    EXPECT_EQ(refs(kGranted), 0u);
    EXPECT_EQ(types(kGranted), 0u);
    EXPECT_EQ(flags(8), kPermit);
    EXPECT_EQ(unmap(0, m.handle, Mfn(kGranted).maddr().raw()), xen::kGntstBadHandle);
}

// Device-only read-only: one general reference; a dev_bus_addr on a host-only handle is ignored.
TEST_F(GrantTableTest, DeviceReadOnlyAndIgnoredDevAddr) {
    grant(8, kGranted);
    const Mapped device = map(0, kDevice | kRo, 8);
    ASSERT_EQ(device.status, xen::kGntstOkay);
    EXPECT_EQ(refs(kGranted), 1u);
    EXPECT_EQ(types(kGranted), 0u);
    const Mapped host = map(kVaEmpty, kHost, 8);  // a second mapping of the pinned entry, now RW
    ASSERT_EQ(host.status, xen::kGntstOkay);
    EXPECT_NE(host.handle, device.handle);
    EXPECT_EQ(flags(8), kPermit | kReading | kWriting);
    EXPECT_EQ(unmap(kVaEmpty, host.handle, 0x1234000), xen::kGntstOkay);
    EXPECT_EQ(flags(8), kPermit | kReading);  // the read-only device part is left
    EXPECT_EQ(refs(kGranted), 1u);
    EXPECT_EQ(unmap(0, device.handle, Mfn(kGranted).maddr().raw()), xen::kGntstOkay);
    EXPECT_EQ(flags(8), kPermit);
    EXPECT_EQ(refs(kGranted), 0u);
}

// The unmap checks the PTE really is the grant's: the frame and the P/RW bits (xsa-234). A
// refused unmap changes nothing; a PTE the guest put back exactly is accepted.
TEST_F(GrantTableTest, UnmapChecksThePte) {
    grant(8, kGranted);
    const Mapped m = map(kVaEmpty, kHost, 8);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    ASSERT_TRUE(remap(kVaEmpty, pte(kGranted, kP | kA | kD)).ok());  // the guest makes it RO
    EXPECT_EQ(refs(kGranted), 1u);
    EXPECT_EQ(types(kGranted), 0u);
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstGeneralError);
    EXPECT_EQ(refs(kGranted), 1u);
    ASSERT_TRUE(remap(kVaEmpty, pte(kGranted2, kP | kRw | kA | kD)).ok());  // another frame
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstGeneralError);
    ASSERT_TRUE(remap(kVaEmpty, 0).ok());
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstGeneralError);
    EXPECT_EQ(unmap(kVaEmpty2, m.handle), xen::kGntstGeneralError);
    EXPECT_EQ(unmap(kXenArea, m.handle), xen::kGntstGeneralError);
    EXPECT_EQ(flags(8), kPermit | kReading | kWriting);  // still mapped as far as the grant goes
    ASSERT_TRUE(remap(kVaEmpty, pte(kGranted, kP | kRw | kA | kD)).ok());
    EXPECT_EQ(refs(kGranted), 1u);
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstOkay);
    EXPECT_EQ(refs(kGranted), 0u);
    EXPECT_EQ(types(kGranted), 0u);
    EXPECT_EQ(flags(8), kPermit);
}

// unmap_and_replace moves the PTE at new_addr, with its references, over the grant's PTE and
// clears new_addr (xsa-234's sequence: the writable mapping survives, so PIN_L1 is refused).
TEST_F(GrantTableTest, UnmapAndReplaceMovesThePteAndItsRefs) {
    grant(8, kGranted);
    grant(9, kGranted2);
    const Mapped rw = map(kVaEmpty, kHost, 8);
    const Mapped ro = map(kVaEmpty2, kHost | kRo, 9);
    ASSERT_EQ(rw.status, xen::kGntstOkay);
    ASSERT_EQ(ro.status, xen::kGntstOkay);
    const u64 moved = l1e(kVaEmpty);
    EXPECT_EQ(grant_unmap(vcpu, kVaEmpty2, 0, kVaEmpty, ro.handle), xen::kGntstOkay);
    EXPECT_EQ(l1e(kVaEmpty2), moved);
    EXPECT_EQ(l1e(kVaEmpty), 0u);
    EXPECT_EQ(refs(kGranted), 1u);  // the moved PTE's
    EXPECT_EQ(types(kGranted), 1u);
    EXPECT_EQ(refs(kGranted2), 0u);
    EXPECT_EQ(flags(9), kPermit);
    ASSERT_TRUE(remap(kVaEmpty, pte(kGranted, kP | kA | kD)).ok());
    EXPECT_EQ(unmap(kVaEmpty, rw.handle), xen::kGntstGeneralError);
    PageTypeEngine engine = domain_engine(*d1);
    EXPECT_FALSE(engine.pin(Mfn(kGranted), PageType::L1).ok());
    EXPECT_EQ(refs(kGranted), 2u);
    EXPECT_EQ(types(kGranted), 1u);
}

// Like Xen, unmap_and_replace takes new_addr's PTE first: a failure after that leaves it
// cleared (its references dropped with it). New addresses without an L1, and contains_pte
// handles, fail before anything changes.
TEST_F(GrantTableTest, UnmapAndReplaceFailures) {
    grant(8, kGranted);
    const Mapped m = map(kVaEmpty, kHost, 8);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(grant_unmap(vcpu, kVaEmpty, 0, kVaNoL1, m.handle), xen::kGntstGeneralError);
    EXPECT_EQ(grant_unmap(vcpu, kVaEmpty, 0, kXenArea, m.handle), xen::kGntstGeneralError);
    EXPECT_EQ(refs(kGranted), 1u);
    EXPECT_EQ(refs(kMappedData + 2), 1u);
    EXPECT_EQ(grant_unmap(vcpu, kVaEmpty2, 0, 0x2000, m.handle), xen::kGntstGeneralError);  // wrong host_addr
    EXPECT_EQ(l1e(0x2000), 0u);
    EXPECT_EQ(refs(kMappedData + 2), 0u);
    EXPECT_EQ(refs(kGranted), 1u);
    // Replacing with itself: the grant PTE is taken first, so the check then fails.
    EXPECT_EQ(grant_unmap(vcpu, kVaEmpty, 0, kVaEmpty, m.handle), xen::kGntstGeneralError);
    EXPECT_EQ(l1e(kVaEmpty), 0u);
    EXPECT_EQ(refs(kGranted), 0u);
    EXPECT_EQ(area().maptrack[m.handle].flags, kHost);

    const Mapped by_pte = map(pte_maddr(kVaEmpty2), kHost | kPte, 8);
    ASSERT_EQ(by_pte.status, xen::kGntstOkay);
    EXPECT_EQ(grant_unmap(vcpu, pte_maddr(kVaEmpty2), 0, 0x3000, by_pte.handle), xen::kGntstGeneralError);
    EXPECT_EQ(refs(kMappedData + 3), 1u);  // contains_pte: refused before taking new_addr
}

// By PTE machine address (contains_pte): 8-byte aligned, in an L1 of this domain. A misaligned
// address changes nothing (xsa-227).
TEST_F(GrantTableTest, ContainsPte) {
    grant(8, kGranted);
    const u64 l1_slot1 = at(kL1, 1), l1_slot2 = at(kL1, 2);
    EXPECT_EQ(map(pte_maddr(0x2000) - 2, kHost | kPte, 8).status, xen::kGntstGeneralError);
    EXPECT_EQ(at(kL1, 1), l1_slot1);
    EXPECT_EQ(at(kL1, 2), l1_slot2);
    EXPECT_EQ(flags(8), kPermit);
    EXPECT_EQ(map(Mfn(kL2).maddr().raw() + 8, kHost | kPte, 8).status, xen::kGntstGeneralError);    // an L2
    EXPECT_EQ(map(Mfn(kGranted2).maddr().raw(), kHost | kPte, 8).status, xen::kGntstGeneralError);  // data
    EXPECT_EQ(map(Mfn(kXenFrame).maddr().raw(), kHost | kPte, 8).status, xen::kGntstGeneralError);
    EXPECT_EQ(map(Mfn(kBeyond).maddr().raw(), kHost | kPte, 8).status, xen::kGntstGeneralError);
    EXPECT_EQ(refs(kGranted), 0u);

    const Mapped m = map(pte_maddr(kVaEmpty), kHost | kPte, 8);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(l1e(kVaEmpty), grant_pte_value(kGranted, true));
    EXPECT_EQ(types(kGranted), 1u);
    EXPECT_EQ(unmap(pte_maddr(kVaEmpty) + 4, m.handle), xen::kGntstGeneralError);  // misaligned
    EXPECT_EQ(unmap(Mfn(kXenFrame).maddr().raw(), m.handle), xen::kGntstGeneralError);
    EXPECT_EQ(unmap(pte_maddr(kVaEmpty), m.handle), xen::kGntstOkay);
    EXPECT_EQ(l1e(kVaEmpty), 0u);
    EXPECT_EQ(refs(kGranted), 0u);
}

// application_map makes a user PTE; GNTMAP bits 16-18 become AVAIL bits 9-11.
TEST_F(GrantTableTest, PteFlagsFromMapFlags) {
    grant(8, kGranted);
    const Mapped m = map(kVaEmpty, kHost | kRo | xen::kGnttabMapApplicationMap | (5u << 16), 8);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(l1e(kVaEmpty), pte(kGranted, kP | kA | kD | kUs | (5u << 9)) | kNx);
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstOkay);
}

// Host addresses outside what the guest may map: nothing changes.
TEST_F(GrantTableTest, HostileHostAddresses) {
    grant(8, kGranted);
    for (u64 address : {kXenArea, u64{0xffff800000000000}, kNonCanonical, u64{0x8000000000000000}, kVaNoL1}) {
        EXPECT_EQ(map(address, kHost, 8).status, xen::kGntstGeneralError) << std::hex << address;
        EXPECT_EQ(map(address, kHost | kDevice, 8).status, xen::kGntstGeneralError) << std::hex << address;
    }
    EXPECT_EQ(flags(8), kPermit);
    EXPECT_EQ(refs(kGranted), 0u);
    EXPECT_EQ(types(kGranted), 0u);
    EXPECT_EQ(area().grant_active[8].pin, 0u);
}

// --- map errors, in Xen's order -----------------------------------------------------------------

TEST_F(GrantTableTest, MapErrors) {
    grant(8, kGranted);
    EXPECT_EQ(map(kVaEmpty, 0, 8).status, xen::kGntstBadGntref);
    EXPECT_EQ(map(kVaEmpty, kRo, 8).status, xen::kGntstBadGntref);
    EXPECT_EQ(map(kVaEmpty, kHost, 8, 7).status, xen::kGntstBadDomain);
    EXPECT_EQ(map(kVaEmpty, kHost, 8, xen::kDomidSelf).status, xen::kGntstBadDomain);  // an id is needed
    EXPECT_EQ(map(kVaEmpty, kHost, 8, xen::kDomidIo).status, xen::kGntstBadDomain);
    EXPECT_EQ(map(kVaEmpty, kHost, 512).status, xen::kGntstBadGntref);  // one frame: 512 entries
    EXPECT_EQ(map(kVaEmpty, kHost, 0xffffffff).status, xen::kGntstBadGntref);
    EXPECT_EQ(map(kVaEmpty, kHost, 9).status, xen::kGntstGeneralError);  // invalid entry
    grant(9, kGranted, kPermit, 2);
    EXPECT_EQ(map(kVaEmpty, kHost, 9).status, xen::kGntstGeneralError);  // granted to d2
    grant(9, kGranted, kPermit | xen::kGtfSubPage);
    EXPECT_EQ(map(kVaEmpty, kHost, 9).status, xen::kGntstGeneralError);
    grant(9, kGranted, xen::kGtfAcceptTransfer);
    EXPECT_EQ(map(kVaEmpty, kHost, 9).status, xen::kGntstGeneralError);
    grant(9, kGranted, xen::kGtfTransitive);
    EXPECT_EQ(map(kVaEmpty, kHost, 9).status, xen::kGntstGeneralError);
    grant(9, kGranted, kPermit | xen::kGtfReadonly);
    EXPECT_EQ(map(kVaEmpty, kHost, 9).status, xen::kGntstGeneralError);
    EXPECT_EQ(flags(9), kPermit | xen::kGtfReadonly);
    // Frames that are not the granter's RAM: bad_page, and the flags set by the pin go again.
    for (u64 frame : {kD2Frame, kXenFrame, kMmio, kBeyond, u64{0xffffffff}, kGrantFrame0 + 1}) {
        grant(9, frame);
        EXPECT_EQ(map(kVaEmpty, kHost, 9).status, xen::kGntstBadPage) << frame;
        EXPECT_EQ(flags(9), kPermit) << frame;
    }
    EXPECT_EQ(l1e(kVaEmpty), 0u);
    EXPECT_EQ(refs(kGranted), 0u);
    for (const GrantMapping& mapping : area().maptrack) EXPECT_EQ(mapping.flags, 0);
}

// A grant of our own shared grant frame maps like any frame (Xen: owned by the domain).
TEST_F(GrantTableTest, GrantOfTheGrantFrame) {
    grant(8, kGrantFrame0);
    const Mapped m = map(kVaEmpty, kHost, 8);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(refs(kGrantFrame0), 2u);
    EXPECT_EQ(types(kGrantFrame0), 2u);
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstOkay);
    EXPECT_EQ(refs(kGrantFrame0), 1u);
}

// Domain 0 (not run by Isola) grants nothing: xsa-316. (Other domains' grants:
// grant_foreign_test.cpp.)
TEST_F(GrantTableTest, StandInDomainZero) {
    EXPECT_EQ(map(kVaEmpty, kHost, 8, 0).status, xen::kGntstGeneralError);
    EXPECT_EQ(map(kVaEmpty, kHost, 511, 0).status, xen::kGntstGeneralError);
    EXPECT_EQ(map(kVaEmpty, kHost, 512, 0).status, xen::kGntstBadGntref);
    EXPECT_EQ(map(kVaEmpty, 0, 8, 0).status, xen::kGntstBadGntref);
    EXPECT_EQ(l1e(kVaEmpty), 0u);
}

// Xen's guard against pin counter overflow: a counter at 0x80 refuses further pins.
TEST_F(GrantTableTest, PinCounterOverflowRefused) {
    grant(8, kGranted);
    std::vector<u32> handles;
    for (unsigned i = 0; i < 0x80; ++i) {
        const Mapped m = map(0, kDevice | kRo, 8);
        ASSERT_EQ(m.status, xen::kGntstOkay) << i;
        handles.push_back(m.handle);
    }
    EXPECT_EQ(map(0, kDevice | kRo, 8).status, xen::kGntstGeneralError);
    EXPECT_EQ(map(kVaEmpty, kHost, 8).status, xen::kGntstGeneralError);
    EXPECT_EQ(refs(kGranted), 0x80u);
    for (u32 handle : handles) EXPECT_EQ(unmap(0, handle, Mfn(kGranted).maddr().raw()), xen::kGntstOkay);
    EXPECT_EQ(refs(kGranted), 0u);
    EXPECT_EQ(flags(8), kPermit);
}

// All maptrack entries in use: no_device_space; a freed one is found again.
TEST_F(GrantTableTest, MaptrackExhaustion) {
    for (u32 ref = 8; ref < 8 + kMaptrackEntries; ++ref) {
        grant(ref, kGranted);
        ASSERT_EQ(map(0, kDevice | kRo, ref).status, xen::kGntstOkay) << ref;
    }
    grant(300, kGranted);
    EXPECT_EQ(map(0, kDevice | kRo, 300).status, xen::kGntstNoDeviceSpace);
    EXPECT_EQ(flags(300), kPermit);
    EXPECT_EQ(unmap(0, 17, Mfn(kGranted).maddr().raw()), xen::kGntstOkay);
    const Mapped m = map(0, kDevice | kRo, 300);
    EXPECT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(m.handle, 17u);
    EXPECT_EQ(refs(kGranted), kMaptrackEntries);
}

TEST_F(GrantTableTest, UnmapBadHandles) {
    EXPECT_EQ(unmap(kVaEmpty, 0), xen::kGntstBadHandle);
    EXPECT_EQ(unmap(kVaEmpty, kMaptrackEntries), xen::kGntstBadHandle);
    EXPECT_EQ(unmap(kVaEmpty, 0xffffffff), xen::kGntstBadHandle);
    EXPECT_EQ(grant_unmap(vcpu, kVaEmpty, 0, kVaEmpty2, 5), xen::kGntstBadHandle);
}

// --- setup_table, query_size, versions ---------------------------------------------------------

TEST_F(GrantTableTest, SetupTableGrowsNeverShrinks) {
    const Mfn* frames = nullptr;
    EXPECT_EQ(grant_setup_table(vcpu, xen::kDomidSelf, 3, &frames), xen::kGntstOkay);
    EXPECT_EQ(table().nr_frames, 3);
    EXPECT_EQ(frames[2], Mfn(kGrantFrame0 + 2));
    EXPECT_EQ(info(kGrantFrame0 + 2).owner, mm::FrameOwner::Domain);
    EXPECT_EQ(types(kGrantFrame0 + 2), 1u);
    EXPECT_EQ(grant_setup_table(vcpu, 1, 1, &frames), xen::kGntstOkay);
    EXPECT_EQ(table().nr_frames, 3);
    EXPECT_EQ(grant_setup_table(vcpu, 1, 0, &frames), xen::kGntstOkay);
    EXPECT_EQ(grant_setup_table(vcpu, 1, kGrantFrames + 1, &frames), xen::kGntstGeneralError);
    EXPECT_EQ(grant_setup_table(vcpu, 1, 0xffffffff, &frames), xen::kGntstGeneralError);
    EXPECT_EQ(grant_setup_table(vcpu, 2, 1, &frames), xen::kGntstPermissionDenied);
    EXPECT_EQ(grant_setup_table(vcpu, 0, 1, &frames), xen::kGntstPermissionDenied);
    EXPECT_EQ(grant_setup_table(vcpu, 9, 1, &frames), xen::kGntstBadDomain);
    EXPECT_EQ(grant_setup_table(vcpu, xen::kDomidIo, 1, &frames), xen::kGntstBadDomain);
    EXPECT_EQ(table().nr_frames, 3);
    EXPECT_EQ(d2->grants.nr_frames, 1);
    // The grown table has 1536 v1 entries.
    grant(1535, kGranted);
    const Mapped m = map(0, kDevice | kRo, 1535);
    EXPECT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(map(0, kDevice | kRo, 1536).status, xen::kGntstBadGntref);
}

TEST_F(GrantTableTest, SetupTableHypercall) {
    put(kArgs, xen::GnttabSetupTable{xen::kDomidSelf, 2, 0x7777, kList});
    put(kList, std::array<u64, 2>{0xaaaa, 0xbbbb});
    EXPECT_EQ(call(xen::kGnttabOpSetupTable, kArgs, 1), 0);
    const auto op = get<xen::GnttabSetupTable>(kArgs);
    EXPECT_EQ(op.status, xen::kGntstOkay);
    EXPECT_EQ(op.nr_frames, 2u);
    const auto list = get<std::array<u64, 2>>(kList);
    EXPECT_EQ(list[0], kGrantFrame0);
    EXPECT_EQ(list[1], kGrantFrame0 + 1);
    // Frame list not mapped: bad_virt_addr; in the hypervisor range: -EFAULT.
    put(kArgs, xen::GnttabSetupTable{xen::kDomidSelf, 1, 0x7777, kUnmapped});
    EXPECT_EQ(call(xen::kGnttabOpSetupTable, kArgs, 1), 0);
    EXPECT_EQ(get<xen::GnttabSetupTable>(kArgs).status, xen::kGntstBadVirtAddr);
    put(kArgs, xen::GnttabSetupTable{xen::kDomidSelf, 1, 0x7777, kXenArea});
    EXPECT_EQ(call(xen::kGnttabOpSetupTable, kArgs, 1), -xen::kEFAULT);
    put(kArgs, xen::GnttabSetupTable{xen::kDomidSelf, 1, 0x7777, kReadOnly});
    EXPECT_EQ(call(xen::kGnttabOpSetupTable, kArgs, 1), 0);
    EXPECT_EQ(get<xen::GnttabSetupTable>(kArgs).status, xen::kGntstBadVirtAddr);
    // A huge frame count is refused by the limit before any copy (only the start is checked).
    put(kArgs, xen::GnttabSetupTable{xen::kDomidSelf, 0xffffffff, 0x7777, kList});
    EXPECT_EQ(call(xen::kGnttabOpSetupTable, kArgs, 1), 0);
    EXPECT_EQ(get<xen::GnttabSetupTable>(kArgs).status, xen::kGntstGeneralError);
    EXPECT_EQ(call(xen::kGnttabOpSetupTable, kArgs, 2), -xen::kEINVAL);
    EXPECT_EQ(call(xen::kGnttabOpSetupTable, kArgs, 0), -xen::kEINVAL);
    EXPECT_EQ(call(xen::kGnttabOpSetupTable, kUnmapped, 1), -xen::kEFAULT);
    // An argument the guest cannot write: the status cannot go back.
    EXPECT_EQ(call(xen::kGnttabOpSetupTable, kReadOnly, 1), -xen::kEFAULT);
}

TEST_F(GrantTableTest, QuerySize) {
    xen::GnttabQuerySize op{xen::kDomidSelf, 0, 0, 0x7777};
    EXPECT_EQ(grant_query_size(vcpu, op), xen::kGntstOkay);
    EXPECT_EQ(op.nr_frames, 1u);
    EXPECT_EQ(op.max_nr_frames, kGrantFrames);
    put(kArgs, xen::GnttabQuerySize{9, 0x55, 0x66, 0x7777});
    EXPECT_EQ(call(xen::kGnttabOpQuerySize, kArgs, 1), 0);
    const auto bad = get<xen::GnttabQuerySize>(kArgs);
    EXPECT_EQ(bad.status, xen::kGntstBadDomain);
    EXPECT_EQ(bad.nr_frames, 0x55u);  // untouched, written back as it was
    put(kArgs, xen::GnttabQuerySize{2, 0, 0, 0x7777});
    EXPECT_EQ(call(xen::kGnttabOpQuerySize, kArgs, 1), 0);
    EXPECT_EQ(get<xen::GnttabQuerySize>(kArgs).status, xen::kGntstPermissionDenied);
    EXPECT_EQ(call(xen::kGnttabOpQuerySize, kArgs, 2), -xen::kEINVAL);
    EXPECT_EQ(call(xen::kGnttabOpQuerySize, kXenArea, 1), -xen::kEFAULT);
}

TEST_F(GrantTableTest, GetVersion) {
    put(kArgs, xen::GnttabGetVersion{xen::kDomidSelf, 0x1234, 0xffff});
    EXPECT_EQ(call(xen::kGnttabOpGetVersion, kArgs, 1), 0);
    const auto op = get<xen::GnttabGetVersion>(kArgs);
    EXPECT_EQ(op.version, 1u);
    EXPECT_EQ(op.pad, 0x1234);  // only the version is written
    put(kArgs, xen::GnttabGetVersion{9, 0, 0xffff});
    EXPECT_EQ(call(xen::kGnttabOpGetVersion, kArgs, 1), -xen::kESRCH);
    EXPECT_EQ(get<xen::GnttabGetVersion>(kArgs).version, 0xffffu);
    put(kArgs, xen::GnttabGetVersion{2, 0, 0xffff});
    EXPECT_EQ(call(xen::kGnttabOpGetVersion, kArgs, 1), -xen::kEPERM);
    put(kArgs, xen::GnttabGetVersion{0, 0, 0xffff});
    EXPECT_EQ(call(xen::kGnttabOpGetVersion, kArgs, 1), -xen::kEPERM);
    EXPECT_EQ(call(xen::kGnttabOpGetVersion, kUnmapped, 1), -xen::kEFAULT);
}

// set_version writes the (current) version back even when it fails.
TEST_F(GrantTableTest, SetVersionArguments) {
    put(kArgs, xen::GnttabSetVersion{3});
    EXPECT_EQ(call(xen::kGnttabOpSetVersion, kArgs, 1), -xen::kEINVAL);
    EXPECT_EQ(get<xen::GnttabSetVersion>(kArgs).version, 1u);
    put(kArgs, xen::GnttabSetVersion{0});
    EXPECT_EQ(call(xen::kGnttabOpSetVersion, kArgs, 1), -xen::kEINVAL);
    grant(8, kGranted);
    put(kArgs, xen::GnttabSetVersion{1});
    EXPECT_EQ(call(xen::kGnttabOpSetVersion, kArgs, 1), 0);  // same version: nothing cleared
    EXPECT_EQ(flags(8), kPermit);
    EXPECT_EQ(call(xen::kGnttabOpSetVersion, kUnmapped, 1), -xen::kEFAULT);
    EXPECT_EQ(call(xen::kGnttabOpSetVersion, kReadOnly, 1), -xen::kEFAULT);  // version 0 cannot go back
}

// v1 -> v2: the status frame is shared, entries past 7 are cleared, reserved ones translated
// (access flags into the status); refused while an entry >= 8 is pinned.
TEST_F(GrantTableTest, SwitchToV2) {
    grant(8, kGranted);
    grant(3, kGranted2, kPermit | xen::kGtfReadonly);
    const Mapped m = map(kVaEmpty, kHost, 8);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(grant_set_version(vcpu, 2), -xen::kEBUSY);
    EXPECT_EQ(table().version, 1);
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstOkay);
    const Mapped reserved = map(0, kDevice | kRo, 3);  // reserved entries may stay mapped
    ASSERT_EQ(reserved.status, xen::kGntstOkay);
    ASSERT_EQ(flags(3), kPermit | xen::kGtfReadonly | kReading);

    EXPECT_EQ(grant_set_version(vcpu, 2), 0);
    EXPECT_EQ(table().version, 2);
    EXPECT_EQ(table().nr_status_frames, 1);
    const u64 status_frame = kGrantFrame0 + kGrantFrames;
    EXPECT_EQ(info(status_frame).owner, mm::FrameOwner::Domain);
    EXPECT_EQ(types(status_frame), 1u);
    EXPECT_EQ(v2_header(3), u64{kPermit | xen::kGtfReadonly} | u64{1} << 16);
    EXPECT_EQ(v2_frame(3), kGranted2);
    EXPECT_EQ(v2_status(3), kReading);
    EXPECT_EQ(v2_header(8), 0u);
    for (unsigned i = 8; i < 512; ++i) ASSERT_EQ(at(kGrantFrame0, i), 0u) << i;
    // The mapping of entry 3 survives and is released against the v2 status.
    EXPECT_EQ(unmap(0, reserved.handle, Mfn(kGranted2).maddr().raw()), xen::kGntstOkay);
    EXPECT_EQ(v2_status(3), 0);
    EXPECT_EQ(refs(kGranted2), 0u);
    EXPECT_EQ(grant_set_version(vcpu, 2), 0);
}

// v2 grants: 16-byte entries, 256 per frame, flags in the status frame; the re-check after
// setting the status catches an entry that does not allow the map.
TEST_F(GrantTableTest, V2MapAndUnmap) {
    ASSERT_EQ(grant_set_version(vcpu, 2), 0);
    v2_frame(8) = kGranted;
    v2_header(8) = kPermit | u64{1} << 16;
    EXPECT_EQ(map(kVaEmpty, kHost, 256).status, xen::kGntstBadGntref);
    const Mapped m = map(kVaEmpty, kHost, 8);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(v2_status(8), kReading | kWriting);
    EXPECT_EQ(v2_header(8), kPermit | u64{1} << 16);
    EXPECT_EQ(types(kGranted), 1u);
    EXPECT_EQ(unmap(kVaEmpty, m.handle), xen::kGntstOkay);
    EXPECT_EQ(v2_status(8), 0);
    EXPECT_EQ(types(kGranted), 0u);
    v2_header(9) = kPermit | xen::kGtfReadonly | u64{1} << 16;
    v2_frame(9) = kGranted;
    EXPECT_EQ(map(kVaEmpty, kHost, 9).status, xen::kGntstGeneralError);
    EXPECT_EQ(v2_status(9), 0);
    v2_header(10) = xen::kGtfTransitive | u64{1} << 16;
    EXPECT_EQ(map(kVaEmpty, kHost, 10).status, xen::kGntstGeneralError);
    v2_header(11) = kPermit | u64{1} << 16;
    v2_frame(11) = u64{1} << 40;  // no such frame
    EXPECT_EQ(map(kVaEmpty, kHost, 11).status, xen::kGntstBadPage);
    EXPECT_EQ(v2_status(11), 0);
}

// v2 -> v1: refused while the status frame is mapped (xsa-255) or a reserved entry does not
// fit v1 (-ERANGE); afterwards the status frame is held back again and cannot be mapped.
TEST_F(GrantTableTest, SwitchBackToV1) {
    ASSERT_EQ(grant_set_version(vcpu, 2), 0);
    const u64 status_frame = kGrantFrame0 + kGrantFrames;
    ASSERT_TRUE(remap(kVaEmpty, pte(status_frame, kP | kA | kD)).ok());
    EXPECT_EQ(grant_set_version(vcpu, 1), -xen::kEBUSY);
    EXPECT_EQ(table().version, 2);
    ASSERT_TRUE(remap(kVaEmpty, 0).ok());
    v2_header(0) = kPermit | u64{1} << 16;
    v2_frame(0) = u64{1} << 32;
    EXPECT_EQ(grant_set_version(vcpu, 1), -xen::kERANGE);
    v2_header(0) = xen::kGtfTransitive | u64{1} << 16;
    EXPECT_EQ(grant_set_version(vcpu, 1), -xen::kERANGE);
    v2_header(0) = kPermit | u64{1} << 16;
    v2_frame(0) = kGranted;
    v2_header(1) = xen::kGtfAcceptTransfer | u64{1} << 16;  // not carried over
    v2_header(9) = kPermit;
    const unsigned flushes = test::fake_domain_mm().full_flushes;
    EXPECT_EQ(grant_set_version(vcpu, 1), 0);
    EXPECT_GT(test::fake_domain_mm().full_flushes, flushes);
    EXPECT_EQ(table().version, 1);
    EXPECT_EQ(table().nr_status_frames, 0);
    EXPECT_EQ(info(status_frame).owner, mm::FrameOwner::Hypervisor);
    EXPECT_EQ(refs(status_frame), 0u);
    EXPECT_EQ(v1(0), entry(kPermit, 1, kGranted));
    EXPECT_EQ(v1(1), 0u);
    EXPECT_EQ(v1(9), 0u);
    EXPECT_FALSE(remap(kVaEmpty, pte(status_frame, kP | kA | kD)).ok());
    // And again to v2: the status frame comes back zeroed.
    at(status_frame, 0) = 0x1234;
    EXPECT_EQ(grant_set_version(vcpu, 2), 0);
    EXPECT_EQ(at(status_frame, 0), 0u);
}

TEST_F(GrantTableTest, GetStatusFrames) {
    const Mfn* frames = nullptr;
    EXPECT_EQ(grant_get_status_frames(vcpu, xen::kDomidSelf, 1, &frames), xen::kGntstGeneralError);
    EXPECT_EQ(grant_get_status_frames(vcpu, xen::kDomidSelf, 0, &frames), xen::kGntstOkay);
    ASSERT_EQ(grant_set_version(vcpu, 2), 0);
    EXPECT_EQ(grant_get_status_frames(vcpu, xen::kDomidSelf, 1, &frames), xen::kGntstOkay);
    EXPECT_EQ(frames[0], Mfn(kGrantFrame0 + kGrantFrames));
    EXPECT_EQ(grant_get_status_frames(vcpu, xen::kDomidSelf, 2, &frames), xen::kGntstGeneralError);
    EXPECT_EQ(grant_get_status_frames(vcpu, 2, 1, &frames), xen::kGntstPermissionDenied);
    EXPECT_EQ(grant_get_status_frames(vcpu, 9, 1, &frames), xen::kGntstBadDomain);
    // Hypercall: the frame list faults -> bad_virt_addr; count must be 1.
    put(kArgs, xen::GnttabGetStatusFrames{1, xen::kDomidSelf, 0x7777, kList});
    EXPECT_EQ(call(xen::kGnttabOpGetStatusFrames, kArgs, 1), 0);
    EXPECT_EQ(get<xen::GnttabGetStatusFrames>(kArgs).status, xen::kGntstOkay);
    EXPECT_EQ(get<u64>(kList), kGrantFrame0 + kGrantFrames);
    put(kArgs, xen::GnttabGetStatusFrames{1, xen::kDomidSelf, 0x7777, kXenArea});
    EXPECT_EQ(call(xen::kGnttabOpGetStatusFrames, kArgs, 1), 0);
    EXPECT_EQ(get<xen::GnttabGetStatusFrames>(kArgs).status, xen::kGntstBadVirtAddr);
    EXPECT_EQ(call(xen::kGnttabOpGetStatusFrames, kArgs, 2), -xen::kEINVAL);
}

TEST_F(GrantTableTest, SwapGrantRef) {
    grant(8, kGranted);
    grant(9, kGranted2, kPermit | xen::kGtfReadonly);
    EXPECT_EQ(grant_swap(vcpu, 8, 9), xen::kGntstOkay);
    EXPECT_EQ(v1(8), entry(kPermit | xen::kGtfReadonly, 1, kGranted2));
    EXPECT_EQ(v1(9), entry(kPermit, 1, kGranted));
    EXPECT_EQ(grant_swap(vcpu, 8, 8), xen::kGntstOkay);
    EXPECT_EQ(grant_swap(vcpu, 8, 512), xen::kGntstBadGntref);
    EXPECT_EQ(grant_swap(vcpu, 0xffffffff, 8), xen::kGntstBadGntref);
    const Mapped m = map(0, kDevice | kRo, 9);
    ASSERT_EQ(m.status, xen::kGntstOkay);
    EXPECT_EQ(grant_swap(vcpu, 8, 9), xen::kGntstEagain);
    EXPECT_EQ(grant_swap(vcpu, 9, 10), xen::kGntstEagain);
    // v2: header, frame and status move together.
    EXPECT_EQ(unmap(0, m.handle, Mfn(kGranted).maddr().raw()), xen::kGntstOkay);
    ASSERT_EQ(grant_set_version(vcpu, 2), 0);
    v2_header(8) = kPermit | u64{1} << 16;
    v2_frame(8) = kGranted;
    EXPECT_EQ(grant_swap(vcpu, 8, 20), xen::kGntstOkay);
    EXPECT_EQ(v2_header(20), kPermit | u64{1} << 16);
    EXPECT_EQ(v2_frame(20), kGranted);
    EXPECT_EQ(v2_header(8), 0u);
    // Hypercall: status only.
    put(kList, xen::GnttabSwapGrantRef{8, 4000, 0x7777});
    EXPECT_EQ(call(xen::kGnttabOpSwapGrantRef, kList, 1), 0);
    EXPECT_EQ(get<xen::GnttabSwapGrantRef>(kList).status, xen::kGntstBadGntref);
}

TEST_F(GrantTableTest, TransferNeverMovesFrames) {
    EXPECT_EQ(grant_transfer(vcpu, xen::GnttabTransfer{kGranted, 2, 0}), xen::kGntstGeneralError);
    EXPECT_EQ(grant_transfer(vcpu, xen::GnttabTransfer{kD2Frame, 2, 0}), xen::kGntstBadPage);
    EXPECT_EQ(grant_transfer(vcpu, xen::GnttabTransfer{kBeyond, 2, 0}), xen::kGntstBadPage);
    EXPECT_EQ(refs(kGranted), 0u);
    EXPECT_EQ(info(kGranted).class_id, 1u);
    put(kList, xen::GnttabTransfer{kGranted, 2, 0x7777});
    EXPECT_EQ(call(xen::kGnttabOpTransfer, kList, 1), 0);
    EXPECT_EQ(get<xen::GnttabTransfer>(kList).status, xen::kGntstGeneralError);
    EXPECT_EQ(call(xen::kGnttabOpTransfer, kList, 0), 0);
}

// cache_flush as Xen 4.17 answers it on x86.
TEST_F(GrantTableTest, CacheFlush) {
    const auto flush = [&](u64 maddr, u16 offset, u16 length, u32 op, u32 cur_ref = 0) {
        return grant_cache_flush(vcpu, xen::GnttabCacheFlush{maddr, offset, length, op}, cur_ref);
    };
    constexpr u32 kInval = xen::kGnttabCacheInval, kClean = xen::kGnttabCacheClean;
    const u64 own = Mfn(kGranted).maddr().raw();
    EXPECT_EQ(flush(own, 0, 4096, kInval | kClean), 0);
    EXPECT_EQ(flush(own, 0, 4096, kInval), 0);
    EXPECT_EQ(flush(own, 0, 4096, kClean), -xen::kEOPNOTSUPP);
    EXPECT_EQ(flush(own, 0, 0, kClean), 0);
    EXPECT_EQ(flush(own, 0, 64, 0), 0);
    EXPECT_EQ(flush(own, 0, 0, kClean, 1), -xen::kEILSEQ);
    EXPECT_EQ(flush(own, 4096, 0, kClean), -xen::kEINVAL);
    EXPECT_EQ(flush(own, 0, 4097, kClean), -xen::kEINVAL);
    EXPECT_EQ(flush(own, 2048, 4000, kClean), -xen::kEINVAL);
    EXPECT_EQ(flush(own, 0, 4096, xen::kGnttabCacheSourceGref | kClean), -xen::kEINVAL);
    EXPECT_EQ(flush(Mfn(kMmio).maddr().raw(), 0, 4096, kInval | kClean), -xen::kEPERM);
    EXPECT_EQ(flush(Mfn(kXenFrame).maddr().raw(), 0, 4096, kInval | kClean), -xen::kEPERM);
    EXPECT_EQ(flush(Mfn(kGrantFrame0 + 1).maddr().raw(), 0, 4096, kInval | kClean), -xen::kEPERM);
    EXPECT_EQ(flush(Mfn(kD2Frame).maddr().raw(), 0, 4096, kInval | kClean), -xen::kEINVAL);
    EXPECT_EQ(flush(Mfn(kBeyond).maddr().raw(), 0, 4096, kInval | kClean), -xen::kEINVAL);
    EXPECT_EQ(flush(~u64{0}, 0, 4096, kInval | kClean), -xen::kEINVAL);
    // Hypercall: the first failing op ends it; continuation bits are accepted here only.
    put(kList, std::array<xen::GnttabCacheFlush, 2>{{{own, 0, 4096, kInval}, {own, 0, 4096, kClean}}});
    EXPECT_EQ(call(xen::kGnttabOpCacheFlush, kList, 2), -xen::kEOPNOTSUPP);
    EXPECT_EQ(call(xen::kGnttabOpCacheFlush | 0x1000, kList, 1), 0);
    EXPECT_EQ(call(xen::kGnttabOpCacheFlush, kXenArea, 1), -xen::kEFAULT);
}

// --- the hypercall --------------------------------------------------------------------------------

TEST_F(GrantTableTest, HypercallArgumentChecks) {
    EXPECT_EQ(call(xen::kGnttabOpMapGrantRef, kList, 0x80000000), -xen::kEINVAL);
    EXPECT_EQ(call(xen::kGnttabOpMapGrantRef, kList, 0xffffffff), -xen::kEINVAL);
    EXPECT_EQ(call(xen::kGnttabOpMapGrantRef, kList, 0), 0);
    EXPECT_EQ(call(xen::kGnttabOpMapGrantRef, kList, u64{1} << 32), 0);  // the count is 32 bits
    EXPECT_EQ(call(xen::kGnttabOpMapGrantRef | 0x1000, kList, 1), -xen::kEINVAL);
    EXPECT_EQ(call(xen::kGnttabOpMapGrantRef, kXenArea, 1), -xen::kEFAULT);
    EXPECT_EQ(call(xen::kGnttabOpMapGrantRef, kNonCanonical, 1), -xen::kEFAULT);
    EXPECT_EQ(call(xen::kGnttabOpMapGrantRef, kUnmapped, 1), -xen::kEFAULT);
    EXPECT_EQ(call(xen::kGnttabOpUnmapGrantRef, kXenArea, 1), -xen::kEFAULT);
    EXPECT_EQ(call(xen::kGnttabOpUnmapAndReplace, kXenArea, 1), -xen::kEFAULT);
    EXPECT_EQ(call(xen::kGnttabOpSwapGrantRef, kXenArea, 1), -xen::kEFAULT);
    EXPECT_EQ(call(xen::kGnttabOpTransfer, kXenArea, 1), -xen::kEFAULT);
    EXPECT_EQ(call(xen::kGnttabOpDumpTable, kList, 1), -xen::kENOSYS);
    EXPECT_EQ(call(xen::kGnttabOpCopy, kXenArea, 1), -xen::kEFAULT);
    EXPECT_EQ(call(13, kList, 1), -xen::kENOSYS);
    EXPECT_EQ(call(0xfff, kList, 1), -xen::kENOSYS);
    // cmd is 32 bits: the upper half of the register is ignored.
    EXPECT_EQ(do_hypercall(vcpu, xen::kGrantTableOp,
                           HypercallArgs{{(u64{1} << 32) | xen::kGnttabOpQuerySize, kArgs, 1, 0, 0}}),
              0);
}

// A batch: every op gets its own status; the whole structure of each map op goes back.
TEST_F(GrantTableTest, MapBatchHypercall) {
    grant(8, kGranted);
    grant(9, kGranted2);
    const std::array<xen::GnttabMapGrantRef, 3> ops{{{kVaEmpty, kHost, 8, 1, 0x7777, 0, 0},
                                                     {kVaEmpty2, kHost, 300, 1, 0x7777, 0, 0},
                                                     {kVaEmpty2, kHost | kRo, 9, 1, 0x7777, 0, 0}}};
    put(kList, ops);
    EXPECT_EQ(call(xen::kGnttabOpMapGrantRef, kList, 3), 0);
    const auto out = get<std::array<xen::GnttabMapGrantRef, 3>>(kList);
    EXPECT_EQ(out[0].status, xen::kGntstOkay);
    EXPECT_EQ(out[0].dev_bus_addr, Mfn(kGranted).maddr().raw());
    EXPECT_EQ(out[1].status, xen::kGntstGeneralError);
    EXPECT_EQ(out[2].status, xen::kGntstOkay);
    EXPECT_NE(out[0].handle, out[2].handle);
    EXPECT_EQ(types(kGranted), 1u);
    EXPECT_EQ(refs(kGranted2), 1u);

    const std::array<xen::GnttabUnmapGrantRef, 3> unmaps{
        {{kVaEmpty, 0, out[0].handle, 0x7777}, {kVaEmpty2, 0, 0xffff, 0x7777}, {kVaEmpty2, 0, out[2].handle, 0x7777}}};
    put(kList, unmaps);
    const unsigned flushes = test::fake_domain_mm().full_flushes;
    EXPECT_EQ(call(xen::kGnttabOpUnmapGrantRef, kList, 3), 0);
    EXPECT_EQ(test::fake_domain_mm().full_flushes, flushes + 1);
    const auto done = get<std::array<xen::GnttabUnmapGrantRef, 3>>(kList);
    EXPECT_EQ(done[0].status, xen::kGntstOkay);
    EXPECT_EQ(done[1].status, xen::kGntstBadHandle);
    EXPECT_EQ(done[2].status, xen::kGntstOkay);
    EXPECT_EQ(done[0].handle, out[0].handle);  // only the status is written
    EXPECT_EQ(refs(kGranted), 0u);
    EXPECT_EQ(refs(kGranted2), 0u);

    // A write-back that faults is -EFAULT, after the map happened (as on Xen).
    test::fake_guest_memory().map(kReadOnly, std::vector<u8>(sizeof(xen::GnttabMapGrantRef)), true);
    xen::GnttabMapGrantRef op{kVaEmpty, kHost, 8, 1, 0, 0, 0};
    std::memcpy(test::fake_guest_memory().at(kReadOnly).data(), &op, sizeof op);
    EXPECT_EQ(call(xen::kGnttabOpMapGrantRef, kReadOnly, 1), -xen::kEFAULT);
    EXPECT_EQ(types(kGranted), 1u);
    // unmap_and_replace through the hypercall (new_addr 0: a plain host unmap).
    u32 handle = kMaptrackEntries;
    for (u32 i = 0; i < kMaptrackEntries; ++i)
        if (area().maptrack[i].flags != 0) handle = i;
    put(kList, xen::GnttabUnmapAndReplace{kVaEmpty, 0, handle, 0x7777});
    EXPECT_EQ(call(xen::kGnttabOpUnmapAndReplace, kList, 1), 0);
    EXPECT_EQ(get<xen::GnttabUnmapAndReplace>(kList).status, xen::kGntstOkay);
    EXPECT_EQ(types(kGranted), 0u);
}

u32 pin_increment_for_test(u16 flags) {
    const bool readonly = (flags & kRo) != 0;
    u32 pin = 0;
    if (flags & kDevice) pin += readonly ? kPinDeviceRead : kPinDeviceWrite;
    if (flags & kHost) pin += readonly ? kPinHostRead : kPinHostWrite;
    return pin;
}

// --- randomized: references always match the PTEs and device parts that exist --------------------

// Random maps (host/device, RW/RO, by address or PTE), unmaps (right and wrong addresses),
// unmap_and_replace and guest PTE rewrites over 3 frames and 6 L1 slots. After every step each
// frame's general and Writable counts must equal what the PTEs and live device parts imply, the
// pins must equal the maptrack's, and the access flags must follow the pins.
TEST_F(GrantTableTest, RandomizedReferencesStayExact) {
    const u64 frames[3] = {kGranted, kGranted2, kGranted3};
    for (u32 i = 0; i < 3; ++i) grant(8 + i, frames[i], i == 2 ? kPermit | xen::kGtfReadonly : kPermit);
    std::mt19937 random(1234);
    const auto pick = [&](u32 n) { return static_cast<u32>(random() % n); };
    const auto slot_va = [](u32 slot) { return u64{(9 + slot) * 0x1000}; };
    unsigned maps_ok = 0, unmaps_ok = 0, replaces_ok = 0;
    for (int step = 0; step < 4000; ++step) {
        switch (pick(5)) {
            case 0:
            case 1: {  // map
                u32 flags = (pick(3) == 0 ? kDevice : 0) | (pick(4) != 0 ? kHost : 0) | (pick(2) ? kRo : 0);
                if (flags & kHost && pick(3) == 0) flags |= kPte;
                const u64 va = slot_va(pick(6));
                maps_ok += map(flags & kPte ? pte_maddr(va) : va, flags, 8 + pick(3)).status == xen::kGntstOkay;
                break;
            }
            case 2: {  // unmap a random handle, sometimes at the wrong place
                const u32 handle = pick(16);
                const GrantMapping& mapping = area().maptrack[handle];
                const u64 va = slot_va(pick(6));
                const u64 host = mapping.flags & kPte ? pte_maddr(va) : va;
                const u64 dev = pick(2) ? Mfn(frames[pick(3)]).maddr().raw() : 0;
                unmaps_ok += mapping.flags != 0 && unmap(host, handle, dev) == xen::kGntstOkay;
                break;
            }
            case 3:  // unmap_and_replace
                replaces_ok += grant_unmap(vcpu, slot_va(pick(6)), 0, slot_va(pick(6)), pick(16)) == xen::kGntstOkay;
                break;
            default: {  // the guest rewrites a PTE itself
                const u64 frame = frames[pick(3)];
                const u64 value = pick(3) == 0 ? 0 : pte(frame, kP | kA | kD | (pick(2) ? kRw : 0));
                (void)remap(slot_va(pick(6)), value);
                break;
            }
        }
        // Expected counts from the PTEs and device parts.
        std::map<u64, u32> want_refs, want_types;
        for (u32 slot = 0; slot < 6; ++slot) {
            const u64 entry = l1e(slot_va(slot));
            if ((entry & kP) == 0) continue;
            const u64 mfn = (entry & 0x000ffffffffff000) >> kPageShift;
            ++want_refs[mfn];
            if (entry & kRw) ++want_types[mfn];
        }
        u32 pins[3] = {};
        for (const GrantMapping& mapping : area().maptrack) {
            if (mapping.flags == 0) continue;
            const u32 index = mapping.ref - 8;
            pins[index] += pin_increment_for_test(mapping.flags);
            if (mapping.flags & kDevice) {
                ++want_refs[frames[index]];
                if ((mapping.flags & kRo) == 0) ++want_types[frames[index]];
            }
        }
        for (u32 i = 0; i < 3; ++i) {
            ASSERT_EQ(refs(frames[i]), want_refs[frames[i]]) << "step " << step << " frame " << i;
            ASSERT_EQ(types(frames[i]), want_types[frames[i]]) << "step " << step << " frame " << i;
            ASSERT_EQ(area().grant_active[8 + i].pin, pins[i]) << "step " << step;
            const u16 access = flags(8 + i) & (kReading | kWriting);
            const u16 want = (pins[i] != 0 ? kReading : 0) | ((pins[i] & kPinWriteMask) != 0 ? kWriting : 0);
            ASSERT_EQ(access, want) << "step " << step << " entry " << i;
        }
        ASSERT_EQ(flags(10) & kWriting, 0) << "a read-only grant was mapped writable";
    }
    // The run did exercise every path (counts for this seed).
    EXPECT_GT(maps_ok, 200u);
    EXPECT_GT(unmaps_ok, 60u);
    EXPECT_GT(replaces_ok, 30u);
}

}  // namespace
}  // namespace hv::pv
