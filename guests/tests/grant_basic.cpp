// SPDX-License-Identifier: MIT
// grant_table_op on the domain's own grants: setup_table v1 and mapping the table, a self-grant
// mapped RW and RO (host and device, by linear address and by PTE address), the writable type
// reference a RW grant mapping holds (PIN_L1 refused while it exists, allowed after the unmap),
// the entry's reading/writing flags, unmap_and_replace, query_size, swap_grant_ref, v2 with its
// status frames (set_version -EBUSY while one is mapped), and the errors Xen 4.17 gives for bad
// refs, domains, handles, flags, addresses and argument pointers. [pv-abi.md §3.14, §5.1]
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "grant_basic: grant tables v1/v2, self-grant maps, exact type references";

namespace {

using i16 = std::int16_t;

constexpr u64 kXenArea = 0xffff830000000000;       // inside Xen's reserved range
constexpr u64 kNonCanonical = 0x0000800000000000;  // first address past the lower half
constexpr u64 kUnmapped = 0x40000000;              // 1 GiB: far above the initial mapping
constexpr u64 kPteRo = 0x61;                       // A|D|P
constexpr u64 kPteRw = 0x63;                       // A|D|RW|P
constexpr u16 kNoSuchDomain = 1000;
constexpr u32 kRef = 8;  // the first entry not reserved for the toolstack
constexpr u32 kRef2 = 9;

alignas(4096) u8 table_va[4096];  // the grant table frame is mapped over this page
alignas(4096) u64 granted[512];   // the frame granted to ourselves
alignas(4096) u64 granted2[512];  // a second one, for unmap_and_replace
alignas(4096) u8 map_area[4096];  // host mappings go here (its own PTE is replaced)
alignas(4096) u8 map_area2[4096];
alignas(4096) u8 status_va[4096];  // a v2 status frame is mapped over this page

volatile xen::GrantEntryV1* const v1 = reinterpret_cast<volatile xen::GrantEntryV1*>(table_va);
volatile xen::GrantEntryV2* const v2 = reinterpret_cast<volatile xen::GrantEntryV2*>(table_va);

u16 self_id;

u64 va_of(const volatile void* p) { return reinterpret_cast<u64>(p); }
// Reads a word the compiler cannot assume unchanged (grant mappings write it behind its back).
u64 peek(const u64* page, unsigned index) { return reinterpret_cast<const volatile u64*>(page)[index]; }
u64 mfn_of(const volatile void* p) { return pfn_to_mfn(va_of(p) >> 12); }
u64 maddr_of(const volatile void* p) { return mfn_of(p) << 12; }

long remap(const volatile void* va, u64 pte) {
    return hypercall(xen::kUpdateVaMapping, va_of(va), pte, xen::kUvmfInvlpg);
}
long restore(const volatile void* va) { return remap(va, maddr_of(va) | kPteRw); }

long gnttab(unsigned cmd, const void* ops, u64 count) {
    return hypercall(xen::kGrantTableOp, cmd, reinterpret_cast<u64>(ops), count);
}

long mmuext(unsigned cmd, u64 mfn) {
    xen::MmuextOp op{cmd, 0, mfn, 0};
    return hypercall(xen::kMmuextOp, reinterpret_cast<u64>(&op), 1, 0, xen::kDomidSelf);
}
long pin_l1(const volatile void* page) { return mmuext(xen::kMmuextPinL1Table, mfn_of(page)); }
long unpin(const volatile void* page) { return mmuext(xen::kMmuextUnpinTable, mfn_of(page)); }

// Our domain id: an unbound port for ourselves names us as its remote end (XTF's probe).
bool probe_domid() {
    xen::EvtchnAllocUnbound alloc{xen::kDomidSelf, xen::kDomidSelf, 0};
    if (hypercall(xen::kEventChannelOp, xen::kEvtchnOpAllocUnbound, va_of(&alloc)) != 0) return false;
    xen::EvtchnStatus status{};
    status.dom = xen::kDomidSelf;
    status.port = alloc.port;
    const long rc = hypercall(xen::kEventChannelOp, xen::kEvtchnOpStatus, va_of(&status));
    xen::EvtchnPortArg close{alloc.port};
    hypercall(xen::kEventChannelOp, xen::kEvtchnOpClose, va_of(&close));
    if (rc != 0) return false;
    self_id = status.u.unbound.dom;
    return true;
}

struct Mapping {
    long rc;
    i16 status;
    u32 handle;
    u64 dev_bus_addr;
};

Mapping map(u64 host_addr, u32 flags, u32 ref, u16 dom, u64 dev_bus_addr = 0) {
    xen::GnttabMapGrantRef op{host_addr, flags, ref, dom, 0x7777, 0xdeadbeef, dev_bus_addr};
    const long rc = gnttab(xen::kGnttabOpMapGrantRef, &op, 1);
    return {rc, op.status, op.handle, op.dev_bus_addr};
}

// Maps and reports a failure unless status is `expected` (and the hypercall itself returned 0).
Mapping expect_map(const char* what, u64 host_addr, u32 flags, u32 ref, u16 dom, i16 expected, u64 dev = 0) {
    const Mapping m = map(host_addr, flags, ref, dom, dev);
    if (m.rc != 0 || m.status != expected)
        fail("%s: rc %ld status %d, expected 0/%d\n", what, m.rc, m.status, expected);
    return m;
}

i16 unmap(u64 host_addr, u32 handle, u64 dev_bus_addr = 0) {
    xen::GnttabUnmapGrantRef op{host_addr, dev_bus_addr, handle, 0x7777};
    const long rc = gnttab(xen::kGnttabOpUnmapGrantRef, &op, 1);
    if (rc != 0) fail("unmap_grant_ref hypercall: %ld\n", rc);
    return op.status;
}

long set_version(u32 version, u32* reported = nullptr) {
    xen::GnttabSetVersion op{version};
    const long rc = gnttab(xen::kGnttabOpSetVersion, &op, 1);
    if (reported != nullptr) *reported = op.version;
    return rc;
}

u32 get_version(u16 dom, long* rc_out = nullptr) {
    xen::GnttabGetVersion op{dom, 0, 0xffff};
    const long rc = gnttab(xen::kGnttabOpGetVersion, &op, 1);
    if (rc_out != nullptr) *rc_out = rc;
    return op.version;
}

xen::GnttabQuerySize query_size(u16 dom) {
    xen::GnttabQuerySize op{dom, 0xffff, 0xffff, 0x7777};
    expect_eq("query_size hypercall", gnttab(xen::kGnttabOpQuerySize, &op, 1), 0);
    return op;
}

// setup_table for `dom`; returns the hypercall result, the status and the first frame.
long setup(u16 dom, u32 nr_frames, u64* frames, i16* status) {
    xen::GnttabSetupTable op{dom, nr_frames, 0x7777, va_of(frames)};
    const long rc = gnttab(xen::kGnttabOpSetupTable, &op, 1);
    *status = op.status;
    return rc;
}

void grant(u32 ref, const volatile void* page, u16 flags, u16 domid) {
    v1[ref].domid = domid;
    v1[ref].frame = static_cast<u32>(mfn_of(page));
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    v1[ref].flags = flags;
}

void expect_flags(const char* what, u16 flags, u16 expected) {
    if (flags != expected) fail("%s: entry flags 0x%x, expected 0x%x\n", what, flags, expected);
}

// The machine address of the L1 entry that maps `va` (walk from pt_base through the M2P).
u64 l1e_maddr(u64 va) {
    const u64* m2p = reinterpret_cast<const u64*>(xen::kMachToPhysVirtStart);
    u64 table = start_info->pt_base;
    for (int shift = 39; shift > 12; shift -= 9) {
        const u64 entry = reinterpret_cast<const u64*>(table)[(va >> shift) & 511];
        table = m2p[(entry & 0x000ffffffffff000) >> 12] << 12;
    }
    return (pfn_to_mfn(table >> 12) << 12) + ((va >> 12) & 511) * 8;
}

// The L1 entry that maps `va`, read through the initial mapping of the page tables (VA == PA).
u64 l1e_of(u64 va) {
    const u64* m2p = reinterpret_cast<const u64*>(xen::kMachToPhysVirtStart);
    const u64 maddr = l1e_maddr(va);
    return *reinterpret_cast<const volatile u64*>((m2p[maddr >> 12] << 12) + (maddr & 0xfff));
}

void test_setup_and_sizes() {
    long rc = 0;
    expect_eq("get_version(DOMID_SELF) at start", get_version(xen::kDomidSelf, &rc), 1);
    expect_eq("get_version rc", rc, 0);
    get_version(kNoSuchDomain, &rc);
    expect_eq("get_version of a missing domain", rc, -xen::kESRCH);
    const xen::GnttabQuerySize size = query_size(xen::kDomidSelf);
    expect_eq("query_size status", size.status, xen::kGntstOkay);
    expect_eq("query_size nr_frames at start", size.nr_frames, 1);
    if (size.max_nr_frames < 4) fail("query_size max_nr_frames %u\n", size.max_nr_frames);
    expect_eq("query_size of a missing domain", query_size(kNoSuchDomain).status, xen::kGntstBadDomain);

    u32 reported = 0;
    expect_eq("set_version(1) when already 1", set_version(1, &reported), 0);
    expect_eq("set_version(1) reports", reported, 1);
    expect_eq("set_version(3)", set_version(3, &reported), -xen::kEINVAL);
    expect_eq("set_version(3) reports the current version", reported, 1);
    expect_eq("set_version(0)", set_version(0), -xen::kEINVAL);

    u64 frames[4] = {};
    i16 status = 0;
    expect_eq("setup_table(DOMID_SELF, 1)", setup(xen::kDomidSelf, 1, frames, &status), 0);
    expect_eq("setup_table status", status, xen::kGntstOkay);
    expect_eq("map the grant table frame", remap(table_va, (frames[0] << 12) | kPteRw), 0);
    u64 again[1] = {};
    expect_eq("setup_table(own id, 1)", setup(self_id, 1, again, &status), 0);
    expect_eq("setup_table(own id) status", status, xen::kGntstOkay);
    expect_eq("setup_table gives the same frame", again[0], frames[0]);
    expect_eq("setup_table(0 frames)", setup(xen::kDomidSelf, 0, nullptr, &status), 0);
    expect_eq("setup_table(0 frames) status", status, xen::kGntstOkay);

    expect_eq("setup_table(10000 frames)", setup(xen::kDomidSelf, 10000, frames, &status), 0);
    expect_eq("setup_table(10000 frames) status", status, xen::kGntstGeneralError);
    expect_eq("setup_table(missing domain)", setup(kNoSuchDomain, 1, frames, &status), 0);
    expect_eq("setup_table(missing domain) status", status, xen::kGntstBadDomain);
    expect_eq("setup_table, frame list unmapped", setup(xen::kDomidSelf, 1, reinterpret_cast<u64*>(kUnmapped), &status),
              0);
    expect_eq("setup_table, frame list unmapped: status", status, xen::kGntstBadVirtAddr);
    expect_eq("setup_table, frame list in Xen's area",
              setup(xen::kDomidSelf, 1, reinterpret_cast<u64*>(kXenArea), &status), -xen::kEFAULT);
    xen::GnttabSetupTable two[2] = {{xen::kDomidSelf, 1, 0, va_of(frames)}, {xen::kDomidSelf, 1, 0, va_of(frames)}};
    expect_eq("setup_table with count 2", gnttab(xen::kGnttabOpSetupTable, two, 2), -xen::kEINVAL);
    expect_eq("setup_table, argument unmapped", gnttab(xen::kGnttabOpSetupTable, reinterpret_cast<void*>(kUnmapped), 1),
              -xen::kEFAULT);

    // Growing the table: two frames, the first unchanged.
    expect_eq("setup_table(2)", setup(xen::kDomidSelf, 2, frames, &status), 0);
    expect_eq("setup_table(2) status", status, xen::kGntstOkay);
    if (frames[1] == 0 || frames[1] == frames[0]) fail("setup_table(2) frames 0x%lx 0x%lx\n", frames[0], frames[1]);
    expect_eq("setup_table(2): frame 0 unchanged", frames[0], again[0]);
    expect_eq("query_size nr_frames after growing", query_size(xen::kDomidSelf).nr_frames, 2);
}

void test_rw_and_ro_maps() {
    // The granted page is mapped read-only at its own address, so that the grant mapping is its
    // only writable reference.
    expect_eq("remap the granted page read-only", remap(granted, maddr_of(granted) | kPteRo), 0);
    grant(kRef, granted, xen::kGtfPermitAccess, self_id);

    Mapping m = expect_map("map RW", va_of(map_area), xen::kGnttabMapHostMap, kRef, self_id, xen::kGntstOkay);
    expect_eq("map RW: dev_bus_addr", static_cast<long>(m.dev_bus_addr), static_cast<long>(maddr_of(granted)));
    expect_flags("after map RW", v1[kRef].flags, xen::kGtfPermitAccess | xen::kGtfReading | xen::kGtfWriting);
    reinterpret_cast<volatile u64*>(map_area)[5] = 0x1234;
    expect_eq("write through the grant mapping", static_cast<long>(peek(granted, 5)), 0x1234);
    reinterpret_cast<volatile u64*>(map_area)[5] = 0;
    expect_eq("PIN_L1 of a page mapped by a RW grant", pin_l1(granted), -xen::kEINVAL);

    // Unmap errors leave the mapping alone.
    expect_eq("unmap with a bad handle", unmap(va_of(map_area), 0xffffffff), xen::kGntstBadHandle);
    expect_eq("unmap with an unused handle", unmap(va_of(map_area), m.handle + 37), xen::kGntstBadHandle);
    expect_eq("unmap at an address not mapping the grant", unmap(va_of(map_area2), m.handle), xen::kGntstGeneralError);
    // A dev_bus_addr only matters for a handle with a device mapping.
    expect_eq("unmap with a dev_bus_addr, host-only handle", unmap(va_of(map_area2), m.handle, maddr_of(granted2)),
              xen::kGntstGeneralError);
    expect_eq("PIN_L1 still refused", pin_l1(granted), -xen::kEINVAL);

    expect_eq("unmap RW", unmap(va_of(map_area), m.handle), xen::kGntstOkay);
    expect_flags("after unmap RW", v1[kRef].flags, xen::kGtfPermitAccess);
    expect_eq("unmap the same handle again", unmap(va_of(map_area), m.handle), xen::kGntstBadHandle);
    expect_eq("PIN_L1 after the unmap", pin_l1(granted), 0);

    // A pinned page table can be grant-mapped read-only, never writable.
    expect_map("map RW of a pinned L1", va_of(map_area), xen::kGnttabMapHostMap, kRef, self_id,
               xen::kGntstGeneralError);
    expect_flags("after the refused map", v1[kRef].flags, xen::kGtfPermitAccess);
    m = expect_map("map RO of a pinned L1", va_of(map_area), xen::kGnttabMapHostMap | xen::kGnttabMapReadonly, kRef,
                   self_id, xen::kGntstOkay);
    expect_flags("after map RO", v1[kRef].flags, xen::kGtfPermitAccess | xen::kGtfReading);
    expect_eq("read through the RO mapping", reinterpret_cast<volatile u64*>(map_area)[5], 0);
    expect_eq("unmap RO", unmap(va_of(map_area), m.handle), xen::kGntstOkay);
    expect_eq("UNPIN", unpin(granted), 0);

    // Read-only grants refuse writable maps.
    grant(kRef, granted, xen::kGtfPermitAccess | xen::kGtfReadonly, self_id);
    expect_map("map RW of a read-only grant", va_of(map_area), xen::kGnttabMapHostMap, kRef, self_id,
               xen::kGntstGeneralError);
    m = expect_map("map RO of a read-only grant", va_of(map_area), xen::kGnttabMapHostMap | xen::kGnttabMapReadonly,
                   kRef, self_id, xen::kGntstOkay);
    expect_eq("unmap RO of a read-only grant", unmap(va_of(map_area), m.handle), xen::kGntstOkay);
    expect_flags("after it", v1[kRef].flags, xen::kGtfPermitAccess | xen::kGtfReadonly);

    // Host plus device map: two writable references, each unmap part drops exactly one (xsa-224).
    grant(kRef, granted, xen::kGtfPermitAccess, self_id);
    m = expect_map("map host+device RW", va_of(map_area), xen::kGnttabMapHostMap | xen::kGnttabMapDeviceMap, kRef,
                   self_id, xen::kGntstOkay);
    expect_eq("unmap with a wrong dev_bus_addr", unmap(va_of(map_area), m.handle, maddr_of(granted2)),
              xen::kGntstBadDevAddr);
    expect_eq("unmap the host part", unmap(va_of(map_area), m.handle), xen::kGntstOkay);
    expect_flags("device part still mapped", v1[kRef].flags,
                 xen::kGtfPermitAccess | xen::kGtfReading | xen::kGtfWriting);
    expect_eq("PIN_L1 with the device part mapped", pin_l1(granted), -xen::kEINVAL);
    expect_eq("unmap the device part", unmap(0, m.handle, maddr_of(granted)), xen::kGntstOkay);
    expect_flags("after both parts", v1[kRef].flags, xen::kGtfPermitAccess);
    expect_eq("PIN_L1 after both parts", pin_l1(granted), 0);
    expect_eq("UNPIN", unpin(granted), 0);

    // By PTE address (contains_pte): aligned works, misaligned is refused and changes nothing
    // (xsa-227: a write straddling two L1 entries would give the second reserved bits, and the
    // read of map_area2 below would take a #PF the test has no handler for).
    const u64 pte = l1e_maddr(va_of(map_area));
    expect_map("map contains_pte misaligned", l1e_maddr(va_of(map_area2)) - 2,
               xen::kGnttabMapHostMap | xen::kGnttabMapContainsPte, kRef, self_id, xen::kGntstGeneralError);
    expect_eq("map_area2 still reads", reinterpret_cast<volatile u64*>(map_area2)[0], 0);
    m = expect_map("map contains_pte", pte, xen::kGnttabMapHostMap | xen::kGnttabMapContainsPte, kRef, self_id,
                   xen::kGntstOkay);
    reinterpret_cast<volatile u64*>(map_area)[7] = 0x5678;
    expect_eq("write through the contains_pte mapping", static_cast<long>(peek(granted, 7)), 0x5678);
    reinterpret_cast<volatile u64*>(map_area)[7] = 0;
    expect_eq("unmap contains_pte", unmap(pte, m.handle), xen::kGntstOkay);
    expect_eq("PIN_L1 after the contains_pte unmap", pin_l1(granted), 0);
    expect_eq("UNPIN", unpin(granted), 0);
    expect_eq("restore map_area", restore(map_area), 0);
}

void test_map_errors() {
    grant(kRef, granted, xen::kGtfPermitAccess, self_id);
    const u32 host = xen::kGnttabMapHostMap;
    expect_map("map with neither host nor device", va_of(map_area), 0, kRef, self_id, xen::kGntstBadGntref);
    expect_map("map from a missing domain", va_of(map_area), host, kRef, kNoSuchDomain, xen::kGntstBadDomain);
    expect_map("map from DOMID_SELF", va_of(map_area), host, kRef, xen::kDomidSelf, xen::kGntstBadDomain);
    expect_map("map ref 0xffffffff", va_of(map_area), host, 0xffffffff, self_id, xen::kGntstBadGntref);
    expect_map("map ref 1024 (past 2 frames)", va_of(map_area), host, 1024, self_id, xen::kGntstBadGntref);
    expect_map("map an invalid entry", va_of(map_area), host, kRef2, self_id, xen::kGntstGeneralError);
    expect_map("map into Xen's area", kXenArea, host, kRef, self_id, xen::kGntstGeneralError);
    expect_map("map at a non-canonical address", kNonCanonical, host, kRef, self_id, xen::kGntstGeneralError);
    expect_map("map where no L1 exists", 0x7f0000000000, host, kRef, self_id, xen::kGntstGeneralError);
    expect_flags("the entry after failed maps", v1[kRef].flags, xen::kGtfPermitAccess);

    grant(kRef2, granted, xen::kGtfPermitAccess, static_cast<u16>(self_id + 1));
    expect_map("map an entry granted to another domain", va_of(map_area), host, kRef2, self_id,
               xen::kGntstGeneralError);
    grant(kRef2, granted, xen::kGtfPermitAccess | xen::kGtfSubPage, self_id);
    expect_map("map a sub-page entry", va_of(map_area), host, kRef2, self_id, xen::kGntstGeneralError);
    grant(kRef2, granted, xen::kGtfAcceptTransfer, self_id);
    expect_map("map an accept_transfer entry", va_of(map_area), host, kRef2, self_id, xen::kGntstGeneralError);
    v1[kRef2].domid = self_id;
    v1[kRef2].frame = 0x0fffffff;  // far beyond RAM
    v1[kRef2].flags = xen::kGtfPermitAccess;
    expect_map("map a grant of a frame that is not ours", va_of(map_area), host, kRef2, self_id, xen::kGntstBadPage);
    expect_flags("that entry afterwards", v1[kRef2].flags, xen::kGtfPermitAccess);
    v1[kRef2].flags = 0;

    // Xen 4.17 runs this test as dom0, so domain 0 is ourselves there; on Isola domain 0 is a
    // domain whose grants we may not use (xsa-316).
    if (self_id != 0)
        expect_map("map from domain 0 (foreign)", va_of(map_area), host, kRef, 0, xen::kGntstGeneralError);

    xen::GnttabMapGrantRef op{va_of(map_area), host, kRef, self_id, 0, 0, 0};
    expect_eq("map_grant_ref with the ops in Xen's area",
              gnttab(xen::kGnttabOpMapGrantRef, reinterpret_cast<void*>(kXenArea), 1), -xen::kEFAULT);
    expect_eq("map_grant_ref with the ops unmapped",
              gnttab(xen::kGnttabOpMapGrantRef, reinterpret_cast<void*>(kUnmapped), 1), -xen::kEFAULT);
    expect_eq("map_grant_ref with a negative count", gnttab(xen::kGnttabOpMapGrantRef, &op, 0x80000000), -xen::kEINVAL);
    expect_eq("map_grant_ref with count 0", gnttab(xen::kGnttabOpMapGrantRef, &op, 0), 0);
    expect_eq("map_grant_ref with continuation bits", gnttab(xen::kGnttabOpMapGrantRef | 0x1000, &op, 1),
              -xen::kEINVAL);
    expect_eq("unmap_grant_ref with the ops in Xen's area",
              gnttab(xen::kGnttabOpUnmapGrantRef, reinterpret_cast<void*>(kXenArea), 1), -xen::kEFAULT);
    expect_eq("grant_table_op 13", gnttab(13, &op, 1), -xen::kENOSYS);
    expect_eq("grant_table_op dump_table", gnttab(xen::kGnttabOpDumpTable, &op, 1), -xen::kENOSYS);
    expect_flags("the entry after the bad calls", v1[kRef].flags, xen::kGtfPermitAccess);
}

// cache_flush on x86 (as Xen 4.17 answers it): argument checks, then only frames of our own;
// clean+invalidate and invalidate succeed, clean alone is -EOPNOTSUPP.
void test_cache_flush() {
    constexpr u32 kInval = xen::kGnttabCacheInval, kClean = xen::kGnttabCacheClean;
    const auto flush = [](u64 maddr, u16 offset, u16 length, u32 op) {
        xen::GnttabCacheFlush f{maddr, offset, length, op};
        return gnttab(xen::kGnttabOpCacheFlush, &f, 1);
    };
    expect_eq("cache_flush clean+invalidate", flush(maddr_of(granted), 0, 4096, kInval | kClean), 0);
    expect_eq("cache_flush invalidate", flush(maddr_of(granted), 0, 4096, kInval), 0);
    expect_eq("cache_flush clean", flush(maddr_of(granted), 0, 4096, kClean), -xen::kEOPNOTSUPP);
    expect_eq("cache_flush of shared_info, clean", flush(start_info->shared_info, 0, 4096, kClean), -xen::kEOPNOTSUPP);
    expect_eq("cache_flush length 0", flush(maddr_of(granted), 0, 0, kClean), 0);
    expect_eq("cache_flush op 0", flush(maddr_of(granted), 0, 64, 0), 0);
    expect_eq("cache_flush offset 4096", flush(maddr_of(granted), 4096, 0, kClean), -xen::kEINVAL);
    expect_eq("cache_flush offset+length > 4096", flush(maddr_of(granted), 2048, 4000, kClean), -xen::kEINVAL);
    expect_eq("cache_flush unknown op bit", flush(maddr_of(granted), 0, 4096, 0x80000002), -xen::kEINVAL);
    expect_eq("cache_flush of a low I/O frame", flush(0x1000, 0, 4096, kInval | kClean), -xen::kEPERM);
    expect_eq("cache_flush beyond RAM", flush(0xfffffff000, 0, 4096, kInval | kClean), -xen::kEINVAL);
    expect_eq("cache_flush, argument in Xen's area",
              gnttab(xen::kGnttabOpCacheFlush, reinterpret_cast<void*>(kXenArea), 1), -xen::kEFAULT);
}

void test_swap() {
    grant(kRef, granted, xen::kGtfPermitAccess, self_id);
    grant(kRef2, granted2, xen::kGtfPermitAccess | xen::kGtfReadonly, self_id);
    xen::GnttabSwapGrantRef swap{kRef, kRef2, 0x7777};
    expect_eq("swap_grant_ref", gnttab(xen::kGnttabOpSwapGrantRef, &swap, 1), 0);
    expect_eq("swap_grant_ref status", swap.status, xen::kGntstOkay);
    expect_flags("entry 8 after the swap", v1[kRef].flags, xen::kGtfPermitAccess | xen::kGtfReadonly);
    expect_eq("entry 8 frame after the swap", v1[kRef].frame, static_cast<long>(mfn_of(granted2)));
    swap = {kRef, 0xffffff, 0x7777};
    expect_eq("swap_grant_ref with a bad ref", gnttab(xen::kGnttabOpSwapGrantRef, &swap, 1), 0);
    expect_eq("swap_grant_ref with a bad ref: status", swap.status, xen::kGntstBadGntref);
    const Mapping m = expect_map("map entry 9 read-only", 0, xen::kGnttabMapDeviceMap | xen::kGnttabMapReadonly, kRef2,
                                 self_id, xen::kGntstOkay);
    swap = {kRef, kRef2, 0x7777};
    expect_eq("swap_grant_ref of a mapped entry", gnttab(xen::kGnttabOpSwapGrantRef, &swap, 1), 0);
    expect_eq("swap_grant_ref of a mapped entry: status", swap.status, xen::kGntstEagain);
    expect_eq("unmap entry 9", unmap(0, m.handle, maddr_of(granted)), xen::kGntstOkay);
    v1[kRef].flags = 0;
    v1[kRef2].flags = 0;
}

void test_v2() {
    // No version switch while an entry past the reserved ones is mapped.
    expect_eq("remap the granted page read-only", remap(granted, maddr_of(granted) | kPteRo), 0);
    grant(kRef, granted, xen::kGtfPermitAccess, self_id);
    const Mapping m =
        expect_map("map before set_version", va_of(map_area), xen::kGnttabMapHostMap, kRef, self_id, xen::kGntstOkay);
    expect_eq("set_version(2) with a mapped grant", set_version(2), -xen::kEBUSY);
    expect_eq("unmap", unmap(va_of(map_area), m.handle), xen::kGntstOkay);
    expect_eq("restore map_area", restore(map_area), 0);
    // A reserved entry may stay mapped across the switch; its flags move to the status frame.
    grant(3, granted2, xen::kGtfPermitAccess, self_id);
    const Mapping reserved = expect_map("map reserved entry 3", 0, xen::kGnttabMapDeviceMap | xen::kGnttabMapReadonly,
                                        3, self_id, xen::kGntstOkay);

    xen::GnttabGetStatusFrames gsf{1, xen::kDomidSelf, 0x7777, 0};
    u64 status_frames[2] = {};
    gsf.frame_list = va_of(status_frames);
    expect_eq("get_status_frames in v1", gnttab(xen::kGnttabOpGetStatusFrames, &gsf, 1), 0);
    expect_eq("get_status_frames in v1: status", gsf.status, xen::kGntstGeneralError);

    u32 reported = 0;
    expect_eq("set_version(2)", set_version(2, &reported), 0);
    expect_eq("set_version(2) reports", reported, 2);
    expect_eq("get_version after the switch", get_version(xen::kDomidSelf), 2);
    expect_eq("the switch cleared entry 8", v1[kRef].flags, 0);
    expect_eq("query_size keeps the frames", query_size(xen::kDomidSelf).nr_frames, 2);
    expect_flags("reserved entry 3 header in v2", v2[3].hdr.flags, xen::kGtfPermitAccess);
    expect_eq("reserved entry 3 frame in v2", static_cast<long>(v2[3].full_page.frame),
              static_cast<long>(mfn_of(granted2)));

    gsf = {1, xen::kDomidSelf, 0x7777, va_of(status_frames)};
    expect_eq("get_status_frames(1)", gnttab(xen::kGnttabOpGetStatusFrames, &gsf, 1), 0);
    expect_eq("get_status_frames(1) status", gsf.status, xen::kGntstOkay);
    gsf = {2, xen::kDomidSelf, 0x7777, va_of(status_frames)};
    expect_eq("get_status_frames(2)", gnttab(xen::kGnttabOpGetStatusFrames, &gsf, 1), 0);
    expect_eq("get_status_frames(2) status", gsf.status, xen::kGntstGeneralError);
    gsf = {1, kNoSuchDomain, 0x7777, va_of(status_frames)};
    expect_eq("get_status_frames of a missing domain", gnttab(xen::kGnttabOpGetStatusFrames, &gsf, 1), 0);
    expect_eq("get_status_frames of a missing domain: status", gsf.status, xen::kGntstBadDomain);
    expect_eq("get_status_frames with count 2", gnttab(xen::kGnttabOpGetStatusFrames, &gsf, 2), -xen::kEINVAL);

    // A v2 grant: entries are 16 bytes, reading/writing show in the status frame.
    expect_eq("map the status frame read-only", remap(status_va, (status_frames[0] << 12) | kPteRo), 0);
    const volatile u16* status = reinterpret_cast<const volatile u16*>(status_va);
    expect_flags("reserved entry 3 status in v2", status[3], xen::kGtfReading);
    expect_eq("unmap reserved entry 3", unmap(0, reserved.handle, maddr_of(granted2)), xen::kGntstOkay);
    expect_flags("reserved entry 3 status after the unmap", status[3], 0);
    v2[3].hdr.flags = 0;
    v2[kRef].full_page.frame = mfn_of(granted);
    v2[kRef].hdr.domid = self_id;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    v2[kRef].hdr.flags = xen::kGtfPermitAccess;
    expect_map("map ref 512 in v2 (2 frames: 512 entries)", va_of(map_area), xen::kGnttabMapHostMap, 512, self_id,
               xen::kGntstBadGntref);
    const Mapping m2 =
        expect_map("map a v2 grant RW", va_of(map_area), xen::kGnttabMapHostMap, kRef, self_id, xen::kGntstOkay);
    expect_flags("v2 status after map", status[kRef], xen::kGtfReading | xen::kGtfWriting);
    expect_flags("v2 header after map", v2[kRef].hdr.flags, xen::kGtfPermitAccess);
    expect_eq("PIN_L1 with a v2 RW grant mapped", pin_l1(granted), -xen::kEINVAL);
    expect_eq("unmap the v2 grant", unmap(va_of(map_area), m2.handle), xen::kGntstOkay);
    expect_flags("v2 status after unmap", status[kRef], 0);
    expect_eq("PIN_L1 after it", pin_l1(granted), 0);
    expect_eq("UNPIN", unpin(granted), 0);
    expect_eq("restore map_area", restore(map_area), 0);

    // Back to v1: refused while the status frame is mapped (xsa-255) or a reserved entry does not
    // fit v1 (a frame number of 33 bits).
    expect_eq("set_version(1) with the status frame mapped", set_version(1, &reported), -xen::kEBUSY);
    expect_eq("set_version(1) -EBUSY reports", reported, 2);
    expect_eq("unmap the status frame", remap(status_va, 0), 0);
    v2[0].full_page.frame = u64{1} << 32;
    v2[0].hdr.domid = self_id;
    v2[0].hdr.flags = xen::kGtfPermitAccess;
    expect_eq("set_version(1) with an unrepresentable reserved entry", set_version(1), -xen::kERANGE);
    v2[0].full_page.frame = mfn_of(granted);
    expect_eq("set_version(1)", set_version(1, &reported), 0);
    expect_eq("set_version(1) reports", reported, 1);
    // The reserved entry survives the switch, translated to v1.
    expect_flags("reserved entry 0 in v1", v1[0].flags, xen::kGtfPermitAccess);
    expect_eq("reserved entry 0 frame in v1", v1[0].frame, static_cast<long>(mfn_of(granted)));
    v1[0].flags = 0;
    gsf = {1, xen::kDomidSelf, 0x7777, va_of(status_frames)};
    expect_eq("get_status_frames back in v1", gnttab(xen::kGnttabOpGetStatusFrames, &gsf, 1), 0);
    expect_eq("get_status_frames back in v1: status", gsf.status, xen::kGntstGeneralError);
    expect_eq("the old status frame cannot be mapped now", remap(status_va, (status_frames[0] << 12) | kPteRo) != 0, 1);
    expect_eq("restore status_va", restore(status_va), 0);
}

// unmap_and_replace moves a PTE and its references (xsa-234): the writable mapping of `granted`
// moves from map_area to map_area2, so the page stays unpinnable; the grant of `granted` then
// finds a read-only PTE at map_area and its unmap is refused.
void test_unmap_and_replace() {
    expect_eq("remap granted read-only", remap(granted, maddr_of(granted) | kPteRo), 0);
    grant(kRef, granted, xen::kGtfPermitAccess, self_id);
    grant(kRef2, granted2, xen::kGtfPermitAccess, self_id);
    const Mapping rw =
        expect_map("map granted RW", va_of(map_area), xen::kGnttabMapHostMap, kRef, self_id, xen::kGntstOkay);
    const Mapping ro = expect_map("map granted2 RO", va_of(map_area2), xen::kGnttabMapHostMap | xen::kGnttabMapReadonly,
                                  kRef2, self_id, xen::kGntstOkay);
    xen::GnttabUnmapAndReplace bad{va_of(map_area2), va_of(map_area), 0xffffffff, 0x7777};
    expect_eq("unmap_and_replace with a bad handle", gnttab(xen::kGnttabOpUnmapAndReplace, &bad, 1), 0);
    expect_eq("unmap_and_replace with a bad handle: status", bad.status, xen::kGntstBadHandle);
    // A failed replace still takes the PTE at new_addr (Xen steals it first).
    expect_eq("status_va maps its own frame", restore(status_va), 0);
    xen::GnttabUnmapAndReplace wrong{va_of(table_va), va_of(status_va), ro.handle, 0x7777};
    expect_eq("unmap_and_replace at the wrong host_addr", gnttab(xen::kGnttabOpUnmapAndReplace, &wrong, 1), 0);
    expect_eq("unmap_and_replace at the wrong host_addr: status", wrong.status, xen::kGntstGeneralError);
    expect_eq("its new_addr PTE is gone", static_cast<long>(l1e_of(va_of(status_va))), 0);
    expect_eq("restore status_va", restore(status_va), 0);
    xen::GnttabUnmapAndReplace ur{va_of(map_area2), va_of(map_area), ro.handle, 0x7777};
    expect_eq("unmap_and_replace", gnttab(xen::kGnttabOpUnmapAndReplace, &ur, 1), 0);
    expect_eq("unmap_and_replace status", ur.status, xen::kGntstOkay);
    expect_flags("granted2's entry after it", v1[kRef2].flags, xen::kGtfPermitAccess);
    reinterpret_cast<volatile u64*>(map_area2)[3] = 0x9abc;
    expect_eq("map_area2 now writes granted", static_cast<long>(peek(granted, 3)), 0x9abc);
    reinterpret_cast<volatile u64*>(map_area2)[3] = 0;
    expect_eq("re-point map_area at granted read-only", remap(map_area, maddr_of(granted) | kPteRo), 0);
    expect_eq("unmap of the RW grant where a RO PTE is", unmap(va_of(map_area), rw.handle), xen::kGntstGeneralError);
    expect_eq("PIN_L1 of granted", pin_l1(granted), -xen::kEINVAL);
}

}  // namespace

void test_main() {
    if (!probe_domid()) return error("cannot find our domain id\n");
    print("domain id %u\n", self_id);
    test_setup_and_sizes();
    test_rw_and_ro_maps();
    test_map_errors();
    test_cache_flush();
    test_swap();
    test_v2();
    test_unmap_and_replace();  // last: it leaves a grant mapped
}

}  // namespace guest
