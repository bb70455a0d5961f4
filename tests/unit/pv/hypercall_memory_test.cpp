// SPDX-License-Identifier: MIT
// Tests of memory_op: queries, the fixed reservation, exchange's checks, HVM-only refusals.
#include <gtest/gtest.h>

#include "hv/pv/xen_abi.hpp"
#include "support/fake_domain_mm.hpp"
#include "support/fake_pv_vcpu.hpp"

namespace hv::pv {
namespace {

constexpr u64 kArg = 0x13000000;
constexpr u64 kList = 0x13100000;
constexpr u64 kUnmapped = 0x13f00000;
constexpr u64 kXenArea = 0xffff830000000000;
constexpr u16 kSelf = xen::kDomidSelf, kNobody = 0x7fef;

u64 with_extent(u64 op, u64 start_extent) { return op | (start_extent << xen::kMemopExtentShift); }

struct MemoryOpTest : ::testing::Test, test::PvVcpuFixture {
    long memory_op(u64 command, u64 argument) { return call(xen::kMemoryOp, command, argument); }
    long query(u64 op, u16 domid) {
        put(kArg, domid);
        return memory_op(op, kArg);
    }
    xen::MemoryExchange exchange() {
        zeros(kList, 64);
        const xen::MemoryReservation in{kList, 1, 0, 0, kSelf}, out{kList + 32, 1, 0, 0, kSelf};
        return xen::MemoryExchange{in, out, 0};
    }
    long do_exchange(const xen::MemoryExchange& request, bool read_only = false) {
        put(kArg, request, read_only);
        return memory_op(xen::kXenmemExchange, kArg);
    }
};

// The highest machine frame + 1; no continuation.
TEST_F(MemoryOpTest, MaximumRamPage) {
    test::fake_domain_mm().frame_limit = 0x48000;
    EXPECT_EQ(memory_op(xen::kXenmemMaximumRamPage, 0), 0x48000);
    EXPECT_EQ(memory_op(with_extent(xen::kXenmemMaximumRamPage, 1), 0), -xen::kEINVAL);
}

// Current and maximum reservation are the domain's page count, for itself by DOMID_SELF or id.
TEST_F(MemoryOpTest, Reservations) {
    EXPECT_EQ(query(xen::kXenmemCurrentReservation, kSelf), 8192);
    EXPECT_EQ(query(xen::kXenmemMaximumReservation, kSelf), 8192);
    EXPECT_EQ(query(xen::kXenmemCurrentReservation, domain.id), 8192);
    EXPECT_EQ(query(xen::kXenmemCurrentReservation, kNobody), -xen::kESRCH);
    EXPECT_EQ(query(xen::kXenmemMaximumReservation, 0), -xen::kESRCH) << "other domains are invisible";
    EXPECT_EQ(memory_op(xen::kXenmemCurrentReservation, kUnmapped), -xen::kEFAULT);
    EXPECT_EQ(memory_op(xen::kXenmemMaximumReservation, kXenArea), -xen::kEFAULT);
    put(kArg, kSelf);
    EXPECT_EQ(memory_op(with_extent(xen::kXenmemCurrentReservation, 5), kArg), -xen::kEINVAL);
}

// maximum_gpfn comes from the guest's own shared_info.arch.max_pfn, less one (0 counts as 1).
TEST_F(MemoryOpTest, MaximumGpfn) {
    test::fake_vcpu_platform().max_pfn = 0x1234;
    EXPECT_EQ(query(xen::kXenmemMaximumGpfn, kSelf), 0x1233);
    test::fake_vcpu_platform().max_pfn = 0;
    EXPECT_EQ(query(xen::kXenmemMaximumGpfn, kSelf), 0);
    test::fake_vcpu_platform().max_pfn = 1;
    EXPECT_EQ(query(xen::kXenmemMaximumGpfn, kSelf), 0);
    EXPECT_EQ(query(xen::kXenmemMaximumGpfn, kNobody), -xen::kESRCH);
    EXPECT_EQ(memory_op(with_extent(xen::kXenmemMaximumGpfn, 1), kArg), -xen::kEINVAL);
}

// Growing, shrinking and populating complete no extents: every outcome is the start extent,
// an unreadable argument and hostile node or order values included.
TEST_F(MemoryOpTest, ReservationChangesDoNothing) {
    const u64 ops[] = {xen::kXenmemIncreaseReservation, xen::kXenmemDecreaseReservation, xen::kXenmemPopulatePhysmap};
    for (u64 op : ops) {
        put(kArg, xen::MemoryReservation{kList, 4, 0, 0, kSelf});
        EXPECT_EQ(memory_op(op, kArg), 0);
        EXPECT_EQ(memory_op(with_extent(op, 3), kArg), 3);
        EXPECT_EQ(memory_op(op, kUnmapped), 0);
        EXPECT_EQ(memory_op(with_extent(op, 7), kXenArea), 7);
        put(kArg, xen::MemoryReservation{0, ~u64{0}, 31, 0xfe00 | xen::kXenmemfExactNodeRequest, kNobody});
        EXPECT_EQ(memory_op(op, kArg), 0);
    }
    EXPECT_EQ(test::fake_guest_memory().at(kArg).size(), sizeof(xen::MemoryReservation));
}

// XENMEM_exchange: Xen's checks in order, each with its errno; then Isola refuses the exchange.
TEST_F(MemoryOpTest, ExchangeChecks) {
    EXPECT_EQ(memory_op(xen::kXenmemExchange, kUnmapped), -xen::kEFAULT);
    xen::MemoryExchange request = exchange();
    put(kArg, request);
    EXPECT_EQ(memory_op(with_extent(xen::kXenmemExchange, 1), kArg), -xen::kEINVAL);

    xen::MemoryExchange big = request;
    big.out.extent_order = 10;
    EXPECT_EQ(do_exchange(big), -xen::kEPERM) << "order above 9";
    xen::MemoryExchange bad = request;
    bad.nr_exchanged = 2;
    EXPECT_EQ(do_exchange(bad), -xen::kEINVAL) << "nr_exchanged past the end";
    bad = request;
    bad.out.domid = kNobody;
    EXPECT_EQ(do_exchange(bad), -xen::kEINVAL) << "domids differ";
    bad = request;
    bad.in.nr_extents = bad.out.nr_extents = ~u64{0};
    bad.in.extent_order = bad.out.extent_order = 1;
    EXPECT_EQ(do_exchange(bad), -xen::kEINVAL) << "sizes overflow";
    bad = request;
    bad.out.nr_extents = 2;
    EXPECT_EQ(do_exchange(bad), -xen::kEINVAL) << "sizes differ";
    bad = request;
    bad.in.extent_start = kUnmapped;  // not mapped is fine: only the range is checked
    bad.out.extent_start = kXenArea;
    EXPECT_EQ(do_exchange(bad), -xen::kEFAULT) << "output list in Xen's area";
    bad = request;
    bad.in.extent_start = 0x0000800000000000 - 4;
    EXPECT_EQ(do_exchange(bad), -xen::kEFAULT) << "input element straddling the hole";
    bad = request;
    bad.out.mem_flags = (65u + 1) << 8;
    EXPECT_EQ(do_exchange(bad), -xen::kEINVAL) << "node 65";
    bad.out.mem_flags = (1u << 8) | xen::kXenmemfExactNodeRequest;
    EXPECT_EQ(do_exchange(bad), -xen::kEINVAL) << "exact node";
    bad.out.mem_flags = (200u << 8) | xen::kXenmemfVnode;
    EXPECT_EQ(do_exchange(bad), -xen::kEOPNOTSUPP) << "vnode without vNUMA is ignored";
    bad = request;
    bad.in.domid = bad.out.domid = kNobody;
    EXPECT_EQ(do_exchange(bad), -xen::kESRCH);
    EXPECT_EQ(do_exchange(request), -xen::kEOPNOTSUPP) << "a valid exchange Isola cannot do";
}

// xsa-212: the element at nr_exchanged of a NULL output list is Xen's IDT: -EFAULT, nothing touched.
TEST_F(MemoryOpTest, ExchangeXsa212) {
    xen::MemoryExchange request = exchange();
    const u64 idt = 0xffff82d080400000;
    request.nr_exchanged = idt >> 3;
    request.in.nr_extents = request.out.nr_extents = request.nr_exchanged + 1;
    request.in.extent_start = kList - (idt & ~u64{7});
    request.out.extent_start = 0;
    EXPECT_EQ(do_exchange(request), -xen::kEFAULT);
    EXPECT_EQ(get<xen::MemoryExchange>(kArg).nr_exchanged, idt >> 3);
}

// Nothing left to exchange succeeds; nr_exchanged is written back, and a read-only argument
// turns any outcome into -EFAULT.
TEST_F(MemoryOpTest, ExchangeNothingAndWriteBack) {
    xen::MemoryExchange request = exchange();
    request.in.nr_extents = request.out.nr_extents = 0;
    EXPECT_EQ(do_exchange(request), 0);
    request.in.nr_extents = request.out.nr_extents = 3;
    request.nr_exchanged = 3;
    EXPECT_EQ(do_exchange(request), 0) << "only address ranges are checked, not what is mapped";
    EXPECT_EQ(get<xen::MemoryExchange>(kArg).nr_exchanged, 3u);
    EXPECT_EQ(do_exchange(request, /*read_only=*/true), -xen::kEFAULT);
    EXPECT_EQ(do_exchange(exchange(), /*read_only=*/true), -xen::kEFAULT);
}

// Different in/out orders scale the output position the way Xen does.
TEST_F(MemoryOpTest, ExchangeOrders) {
    xen::MemoryExchange request = exchange();
    zeros(kList, 8 * 8);
    request.in = xen::MemoryReservation{kList, 4, 0, 0, kSelf};
    request.out = xen::MemoryReservation{kList, 1, 2, 0, kSelf};
    EXPECT_EQ(do_exchange(request), -xen::kEOPNOTSUPP);
    request.nr_exchanged = 4;
    EXPECT_EQ(do_exchange(request), 0) << "out element 4 >> 2 = 1 is just past a 1-element list";
    request.in = xen::MemoryReservation{kList, 1, 2, 0, kSelf};
    request.out = xen::MemoryReservation{kList, 4, 0, 0, kSelf};
    request.nr_exchanged = 0;
    EXPECT_EQ(do_exchange(request), -xen::kEOPNOTSUPP);
}

// add_to_physmap is for HVM guests: -EACCES after the argument, space and domain checks.
TEST_F(MemoryOpTest, AddToPhysmap) {
    put(kArg, xen::AddToPhysmap{kSelf, 0, 0, 0, 0x5000});
    EXPECT_EQ(memory_op(xen::kXenmemAddToPhysmap, kArg), -xen::kEACCES);
    EXPECT_EQ(memory_op(with_extent(xen::kXenmemAddToPhysmap, 0xffff), kArg), -xen::kEACCES);
    EXPECT_EQ(memory_op(with_extent(xen::kXenmemAddToPhysmap, 0x10000), kArg), -xen::kEDOM);
    put(kArg, xen::AddToPhysmap{kSelf, 0, xen::kXenmapspaceGmfnForeign, 0, 0x5000});
    EXPECT_EQ(memory_op(xen::kXenmemAddToPhysmap, kArg), -xen::kENOSYS);
    put(kArg, xen::AddToPhysmap{kNobody, 0, 0, 0, 0x5000});
    EXPECT_EQ(memory_op(xen::kXenmemAddToPhysmap, kArg), -xen::kESRCH);
    EXPECT_EQ(memory_op(xen::kXenmemAddToPhysmap, kUnmapped), -xen::kEFAULT);
}

// The x86 subops: memory_map has no e820 to give, machine_memory_map is privileged,
// machphys_mapping describes the M2P; with a start extent they are unknown.
TEST_F(MemoryOpTest, ArchSubops) {
    put(kArg, xen::MemoryMap{4, 0, kList});
    EXPECT_EQ(memory_op(xen::kXenmemMemoryMap, kArg), -xen::kENOSYS);
    EXPECT_EQ(memory_op(xen::kXenmemMemoryMap, kUnmapped), -xen::kEFAULT);
    EXPECT_EQ(memory_op(xen::kXenmemMachineMemoryMap, kArg), -xen::kEPERM);
    test::fake_domain_mm().frame_limit = 0x48000;
    zeros(kArg, sizeof(xen::MachphysMapping));
    EXPECT_EQ(memory_op(xen::kXenmemMachphysMapping, kArg), 0);
    const auto mapping = get<xen::MachphysMapping>(kArg);
    EXPECT_EQ(mapping.v_start, 0xffff800000000000u);
    EXPECT_EQ(mapping.v_end, 0xffff804000000000u);
    EXPECT_EQ(mapping.max_mfn, 0x47fffu);
    EXPECT_EQ(memory_op(xen::kXenmemMachphysMapping, kXenArea), -xen::kEFAULT);
    zeros(kArg, 8, /*read_only=*/true);
    EXPECT_EQ(memory_op(xen::kXenmemMachphysMapping, kArg), -xen::kEFAULT);
    EXPECT_EQ(memory_op(with_extent(xen::kXenmemMachphysMapping, 1), kArg), -xen::kENOSYS);
    EXPECT_EQ(memory_op(with_extent(xen::kXenmemMemoryMap, 1), kArg), -xen::kENOSYS);
    for (u64 op : {5ull, 8ull, 13ull, 15ull, 63ull}) EXPECT_EQ(memory_op(op, kArg), -xen::kENOSYS) << op;
}

}  // namespace
}  // namespace hv::pv
