// SPDX-License-Identifier: MIT
// The grant table tests' fixture: d1 with a kernel root (L4 -> L3 -> L2 -> L1), d2 with frames of
// its own, both with grant tables, fake guest memory for hypercall arguments, and helpers for
// entries, mappings and counts. Shared by grant_table_test.cpp and grant_foreign_test.cpp.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "hv/pv/domain.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/grant_table.hpp"
#include "hv/pv/hypercall.hpp"
#include "hv/pv/page_types.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_domain_mm.hpp"
#include "support/fake_domain_private.hpp"
#include "support/fake_event_channel.hpp"
#include "support/fake_guest_memory.hpp"
#include "support/guest_values.hpp"
#include "support/fake_pv_frames.hpp"
#include "support/fake_pv_vcpu.hpp"

namespace hv::pv {
namespace {

using test::FakePvFrames;

// Machine frames of the fixture.
constexpr u64 kFrameCount = 256;
constexpr u64 kMmio = 2;                                      // Unusable: not RAM
constexpr u64 kXenFrame = 8;                                  // hypervisor-owned
constexpr u64 kL4 = 20, kL3 = 21, kL2 = 22, kL1 = 23;         // d1's tables: VA 0-2 MiB through entry 0
constexpr u64 kMappedData = 24;                               // 24..31 mapped RW at VA 0x0000..0x7000 (L1 slots 0-7)
constexpr u64 kGranted = 40, kGranted2 = 41, kGranted3 = 42;  // d1's frames, mapped nowhere
constexpr u64 kD2Frame = 70;                                  // a frame of d2
constexpr u64 kGrantFrame0 = 100;                             // d1: grant frames 100-103, status frame 104
constexpr u64 kD2GrantFrame0 = 110;                           // d2: 110-113, status 114
constexpr u64 kBeyond = 5000;                                 // no such frame

// Guest virtual addresses.
constexpr u64 kVaMapped = 0x1000;    // L1 slot 1: maps frame 25 RW
constexpr u64 kVaEmpty = 0x9000;     // L1 slot 9: empty
constexpr u64 kVaEmpty2 = 0xa000;    // L1 slot 10: empty
constexpr u64 kVaNoL1 = 0x40000000;  // L3 slot 1: not present
constexpr u64 kXenArea = 0xffff830000000000;
constexpr u64 kNonCanonical = 0x0000800000000000;

// Fake guest memory for hypercall arguments.
constexpr u64 kArgs = 0x400000;
constexpr u64 kList = 0x402000;
constexpr u64 kReadOnly = 0x500000;
constexpr u64 kUnmapped = 0x40000000;

constexpr u64 kP = 1, kRw = 2, kUs = 4, kA = 0x20, kD = 0x40;
constexpr u64 kNx = u64{1} << 63;
constexpr u64 kTable = kP | kRw | kUs | kA | kD;
constexpr u64 pte(u64 mfn, u64 flags) { return (mfn << kPageShift) | flags; }

constexpr u32 kHost = xen::kGnttabMapHostMap;
constexpr u32 kDevice = xen::kGnttabMapDeviceMap;
constexpr u32 kRo = xen::kGnttabMapReadonly;
constexpr u32 kPte = xen::kGnttabMapContainsPte;
constexpr u16 kPermit = xen::kGtfPermitAccess;
constexpr u16 kReading = xen::kGtfReading;
constexpr u16 kWriting = xen::kGtfWriting;

struct Mapped {
    i16 status;
    u32 handle;
    u64 dev_bus_addr;
};

struct GrantTableTest : ::testing::Test, test::GuestValues {
    FakePvFrames mem{kFrameCount};
    // Heap-allocated: a Domain holds its whole grant table.
    std::unique_ptr<Domain> d1 = std::make_unique<Domain>();
    std::unique_ptr<Domain> d2 = std::make_unique<Domain>();
    Vcpu& vcpu = d1->vcpus[0];

    void SetUp() override {
        test::fake_domain_mm() = {};
        test::fake_domain_mm().frames = &mem;
        test::fake_event_platform() = {};
        test::reset_fake_domain_private();
        test::fake_event_platform().domains = {d1.get(), d2.get()};
        for (u64 mfn = 16; mfn < 64; ++mfn) mem.give(Mfn(mfn), 1);
        for (u64 mfn = 64; mfn < 96; ++mfn) mem.give(Mfn(mfn), 2);
        mem.set_owner(Mfn(kXenFrame), mm::FrameOwner::Hypervisor, mm::FrameClass::Global, 0);
        init(*d1, 1, kGrantFrame0);
        init(*d2, 2, kD2GrantFrame0);
        // d1's kernel root: L4 -> L3 -> L2 -> L1, slots 0-7 of the L1 map frames 24-31 RW.
        at(kL4, 0) = pte(kL3, kTable);
        at(kL3, 0) = pte(kL2, kTable);
        at(kL2, 0) = pte(kL1, kTable);
        for (unsigned i = 0; i < 8; ++i) at(kL1, i) = pte(kMappedData + i, kTable);
        PageTypeEngine engine = domain_engine(*d1);
        ASSERT_TRUE(engine.pin(Mfn(kL4), PageType::L4).ok());
        vcpu.kernel_cr3 = Mfn(kL4).maddr().raw();
        test::fake_guest_memory().map(kArgs, std::vector<u8>(0x2000));
        test::fake_guest_memory().map(kList, std::vector<u8>(0x2000));
        test::fake_guest_memory().map(kReadOnly, std::vector<u8>(0x1000), /*read_only=*/true);
    }

    void TearDown() override {
        // `mem` and the domains die with the fixture: leave no dangling fakes to other tests.
        test::fake_domain_mm().frames = nullptr;
        test::fake_event_platform().domains.clear();
    }

    void init(Domain& domain, u16 id, u64 first_frame) {
        test::init_running_domain(domain, id);
        Mfn frames[kGrantFrames], status[kGrantStatusFrames];
        for (unsigned i = 0; i < kGrantFrames; ++i) frames[i] = Mfn(first_frame + i);
        status[0] = Mfn(first_frame + kGrantFrames);
        for (unsigned i = 0; i <= kGrantFrames; ++i)
            mem.set_owner(Mfn(first_frame + i), mm::FrameOwner::Hypervisor, mm::FrameClass::PerDomain, id);
        grant_table_init(domain, frames, status);
    }

    u64& at(u64 mfn, unsigned index) { return mem.word(Mfn(mfn), index); }
    mm::FrameInfo& info(u64 mfn) { return mem.info(Mfn(mfn)); }
    u32 refs(u64 mfn) { return info(mfn).ref_count; }
    u32 types(u64 mfn) { return type_count(info(mfn)); }
    PageType type(u64 mfn) { return current_type(info(mfn)); }
    GrantTable& table() { return d1->grants; }
    DomainPrivate& area() { return test::fake_domain_private(*d1); }  // d1's pins and maptrack

    // v1 entry `ref` of d1 (and of d2).
    u64& v1(u32 ref) { return at(kGrantFrame0 + ref / 512, ref % 512); }
    u64& d2_v1(u32 ref) { return at(kD2GrantFrame0 + ref / 512, ref % 512); }
    static u64 entry(u16 flags, u16 domid, u64 frame) { return flags | u64{domid} << 16 | frame << 32; }
    void grant(u32 ref, u64 frame, u16 flags = kPermit, u16 domid = 1) { v1(ref) = entry(flags, domid, frame); }
    u16 flags(u32 ref) { return static_cast<u16>(v1(ref)); }
    // v2 entry and status of d1.
    u64& v2_header(u32 ref) { return at(kGrantFrame0 + ref / 256, (ref % 256) * 2); }
    u64& v2_frame(u32 ref) { return at(kGrantFrame0 + ref / 256, (ref % 256) * 2 + 1); }
    u16 v2_status(u32 ref) { return static_cast<u16>(at(kGrantFrame0 + kGrantFrames, ref / 4) >> (16 * (ref % 4))); }

    Mapped map(u64 host_addr, u32 map_flags, u32 ref, u16 dom = 1) {
        xen::GnttabMapGrantRef op{host_addr, map_flags, ref, dom, 0x7777, 0xdead, 0xbeef};
        const i16 status = grant_map(vcpu, op);
        return {status, op.handle, op.dev_bus_addr};
    }
    i16 unmap(u64 host_addr, u32 handle, u64 dev_bus_addr = 0) {
        return grant_unmap(vcpu, host_addr, dev_bus_addr, 0, handle);
    }
    u64 l1e(u64 va) { return at(kL1, static_cast<unsigned>(va >> 12)); }
    u64 pte_maddr(u64 va) { return Mfn(kL1).maddr().raw() + (va >> 12) * 8; }
    // Remaps a guest VA the way update_va_mapping does.
    Result<void> remap(u64 va, u64 value) {
        PageTypeEngine engine = domain_engine(*d1);
        return engine.update_va_mapping(Mfn(kL4), Vaddr(va), value);
    }

    // Hypercall level: ops in fake guest memory.
    long call(u32 cmd, u64 list, u64 count) {
        return do_hypercall(vcpu, xen::kGrantTableOp, HypercallArgs{{cmd, list, count, 0, 0}});
    }
};

// What a grant PTE holds: the frame, P|A|D|NX, RW unless readonly, and the supervisor tag the
// engine adds (US plus the guest-kernel bit) unless application_map.
[[maybe_unused]] u64 grant_pte_value(u64 mfn, bool writable) {
    return pte(mfn, kP | kA | kD | kUs | (writable ? kRw : 0)) | kNx | kGuestKernelBit;
}

}  // namespace
}  // namespace hv::pv
