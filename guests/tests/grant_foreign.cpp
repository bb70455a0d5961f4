// SPDX-License-Identifier: MIT
// Grant mappings between two domains (Isola only: the Xen oracle runner boots a single dom0, so
// there is no second domain to grant to; the single-domain cases are grant_basic's, on both).
// Command line: "peer=<domid> mapper=0" (the granter) or "peer=<domid> mapper=1".
//
// The granter shares one page RW (ref 8) and one read-only (ref 10) with the mapper, and one to
// a domain that does not exist (ref 9). Protocol over the RW page, words:
//   [0] the granter's magic (written before the grant)   [1] the mapper's reply
//   [2] the granter's "checked" (the mapper may unmap now)
// Mapper: retries the map until the grant exists, checks [0] (also through GNTTABOP_copy, and a
// copy into the read-only grant fails), writes [1], waits for [2], and
// tries the hostile cases (entry for another domain, read-only grant mapped RW, ref out of range,
// missing domain, unmap at the wrong address, unmap twice). Granter: sees [1], and while the page
// is mapped finds GTF_reading|GTF_writing set, cannot end access (the cmpxchg of the flags fails),
// set_version is -EBUSY and swap_grant_ref eagain; after the unmap it ends access. The mapper
// keeps the read-only mapping until it ends, so the audit sees a granted frame. [pv-abi.md §3.14]
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "grant_foreign: one domain maps another's grants";

namespace {

using i16 = std::int16_t;

constexpr u64 kPteRw = 0x63;  // A|D|RW|P
constexpr u32 kRefRw = 8, kRefOther = 9, kRefRo = 10, kRefSpare = 11;
constexpr u16 kNoSuchDomain = 7;  // boots have at most 2 domains here
constexpr u64 kMagic = 0x6772616e74666f72;
constexpr u64 kReply = 0x7265706c79;
constexpr u64 kWaitRounds = 2'000'000;  // yields while waiting for the peer

alignas(4096) u8 table_va[4096];    // the granter's grant table frame
alignas(4096) u64 shared_rw[512];   // granter: the RW-granted page
alignas(4096) u64 shared_ro[512];   // granter: the read-only-granted page
alignas(4096) u64 spare[512];       // granter: the page granted to nobody that exists
alignas(4096) u8 map_area[4096];    // mapper: where the RW grant is mapped
alignas(4096) u8 map_area_ro[4096]; // mapper: where the read-only grant is mapped (kept)
alignas(4096) u64 copied[512];      // mapper: GNTTABOP_copy's destination

volatile xen::GrantEntryV1* const v1 = reinterpret_cast<volatile xen::GrantEntryV1*>(table_va);

u64 va_of(const volatile void* p) { return reinterpret_cast<u64>(p); }
u64 mfn_of(const volatile void* p) { return pfn_to_mfn(va_of(p) >> 12); }
volatile u64& word(void* page, unsigned index) { return reinterpret_cast<volatile u64*>(page)[index]; }

long gnttab(unsigned cmd, const void* ops, u64 count) {
    return hypercall(xen::kGrantTableOp, cmd, reinterpret_cast<u64>(ops), count);
}
void yield() { hypercall(xen::kSchedOp, xen::kSchedOpYield, 0); }

// Spins (yielding) until `done` holds; false after kWaitRounds.
template <class Done>
bool wait_for(Done done) {
    for (u64 round = 0; round < kWaitRounds; ++round) {
        if (done()) return true;
        yield();
    }
    return false;
}

struct Mapping {
    i16 status;
    u32 handle;
};

Mapping map(const volatile void* at, u32 flags, u32 ref, u16 dom) {
    xen::GnttabMapGrantRef op{va_of(at), flags, ref, dom, 0x7777, 0xdeadbeef, 0};
    const long rc = gnttab(xen::kGnttabOpMapGrantRef, &op, 1);
    if (rc != 0) fail("map_grant_ref hypercall: %ld\n", rc);
    return {op.status, op.handle};
}

i16 unmap(const volatile void* at, u32 handle) {
    xen::GnttabUnmapGrantRef op{va_of(at), 0, handle, 0x7777};
    const long rc = gnttab(xen::kGnttabOpUnmapGrantRef, &op, 1);
    if (rc != 0) fail("unmap_grant_ref hypercall: %ld\n", rc);
    return op.status;
}

void grant(u32 ref, const volatile void* page, u16 flags, u16 domid) {
    v1[ref].domid = domid;
    v1[ref].frame = static_cast<u32>(mfn_of(page));
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    v1[ref].flags = flags;
}

// The guest's end of foreign access (Linux's gnttab_end_foreign_access_ref): the flags go from
// exactly `flags` to 0, which fails while the mapper has reading/writing set.
bool end_access(u32 ref, u16 flags) {
    u16 expected = flags;
    return __atomic_compare_exchange_n(&v1[ref].flags, &expected, u16{0}, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

void run_granter(u16 peer) {
    u64 frames[1] = {};
    xen::GnttabSetupTable setup{xen::kDomidSelf, 1, 0x7777, va_of(frames)};
    if (gnttab(xen::kGnttabOpSetupTable, &setup, 1) != 0 || setup.status != xen::kGntstOkay)
        return fail("setup_table: status %d\n", setup.status);
    expect_eq("map the grant table frame",
              hypercall(xen::kUpdateVaMapping, va_of(table_va), (frames[0] << 12) | kPteRw, xen::kUvmfInvlpg), 0);
    word(shared_rw, 0) = kMagic;
    word(shared_ro, 0) = kMagic + 1;
    grant(kRefOther, spare, xen::kGtfPermitAccess, kNoSuchDomain);
    grant(kRefRo, shared_ro, xen::kGtfPermitAccess | xen::kGtfReadonly, peer);
    grant(kRefRw, shared_rw, xen::kGtfPermitAccess, peer);
    print("granted refs %u (rw), %u (ro) to d%u\n", kRefRw, kRefRo, peer);
    if (!wait_for([] { return word(shared_rw, 1) == kReply; })) return fail("no reply from the mapper\n");

    const u16 mapped = xen::kGtfPermitAccess | xen::kGtfReading | xen::kGtfWriting;
    expect_eq("entry flags while mapped", v1[kRefRw].flags, mapped);
    if (end_access(kRefRw, xen::kGtfPermitAccess)) fail("ended access to a mapped grant\n");
    xen::GnttabSetVersion version{2};
    expect_eq("set_version(2) while mapped", gnttab(xen::kGnttabOpSetVersion, &version, 1), -xen::kEBUSY);
    grant(kRefSpare, spare, xen::kGtfPermitAccess, peer);
    xen::GnttabSwapGrantRef swap{kRefRw, kRefSpare, 0x7777};
    expect_eq("swap_grant_ref hypercall", gnttab(xen::kGnttabOpSwapGrantRef, &swap, 1), 0);
    expect_eq("swap_grant_ref of a mapped entry", swap.status, xen::kGntstEagain);
    word(shared_rw, 2) = 1;  // checked: the mapper may unmap

    if (!wait_for([] { return (v1[kRefRw].flags & (xen::kGtfReading | xen::kGtfWriting)) == 0; }))
        return fail("the mapper never unmapped ref %u\n", kRefRw);
    if (!end_access(kRefRw, xen::kGtfPermitAccess)) fail("could not end access after the unmap\n");
    expect_eq("read-only grant still mapped", v1[kRefRo].flags,
              xen::kGtfPermitAccess | xen::kGtfReadonly | xen::kGtfReading);
    print("the mapper unmapped ref %u, access ended\n", kRefRw);
}

void run_mapper(u16 peer) {
    Mapping m{xen::kGntstGeneralError, 0};
    const bool granted = wait_for([&] {
        m = map(map_area, xen::kGnttabMapHostMap, kRefRw, peer);
        return m.status == xen::kGntstOkay;
    });
    if (!granted) return fail("map of d%u's ref %u: status %d\n", peer, kRefRw, m.status);
    volatile u64* page = reinterpret_cast<volatile u64*>(map_area);
    expect_eq("the granter's magic", static_cast<long>(page[0] == kMagic), 1);
    // GNTTABOP_copy of the same word from the grant into a page of ours, and a refused one.
    xen::GnttabCopy copy{};
    copy.source.u.ref = kRefRw;
    copy.source.domid = peer;
    copy.dest.u.gmfn = mfn_of(copied);
    copy.dest.domid = xen::kDomidSelf;
    copy.dest.offset = 16;
    copy.len = 8;
    copy.flags = 1;  // GNTCOPY_source_gref
    expect_eq("copy hypercall", gnttab(xen::kGnttabOpCopy, &copy, 1), 0);
    expect_eq("copy status", copy.status, xen::kGntstOkay);
    expect_eq("copied magic", static_cast<long>(word(copied, 2) == kMagic), 1);
    copy.dest.u.ref = kRefRo;  // into the read-only grant
    copy.dest.domid = peer;
    copy.dest.offset = 0;
    copy.flags = 3;
    expect_eq("copy into a read-only grant", gnttab(xen::kGnttabOpCopy, &copy, 1), 0);
    expect_eq("copy into a read-only grant: status", copy.status, xen::kGntstGeneralError);
    page[1] = kReply;

    expect_eq("ref for another domain", map(map_area_ro, xen::kGnttabMapHostMap, kRefOther, peer).status,
              xen::kGntstGeneralError);
    expect_eq("read-only grant mapped RW", map(map_area_ro, xen::kGnttabMapHostMap, kRefRo, peer).status,
              xen::kGntstGeneralError);
    expect_eq("ref out of range", map(map_area_ro, xen::kGnttabMapHostMap, 5000, peer).status, xen::kGntstBadGntref);
    expect_eq("missing domain", map(map_area_ro, xen::kGnttabMapHostMap, kRefRw, kNoSuchDomain).status,
              xen::kGntstBadDomain);
    const Mapping ro = map(map_area_ro, xen::kGnttabMapHostMap | xen::kGnttabMapReadonly, kRefRo, peer);
    expect_eq("read-only map", ro.status, xen::kGntstOkay);
    expect_eq("read-only page content",
              static_cast<long>(*reinterpret_cast<volatile u64*>(map_area_ro) == kMagic + 1), 1);

    if (!wait_for([&] { return page[2] == 1; })) return fail("the granter never checked\n");
    expect_eq("unmap at the wrong address", unmap(map_area_ro, m.handle), xen::kGntstGeneralError);
    expect_eq("unmap", unmap(map_area, m.handle), xen::kGntstOkay);
    expect_eq("unmap twice", unmap(map_area, m.handle), xen::kGntstBadHandle);
    // Our own page back under map_area (the unmap left its PTE empty).
    expect_eq("restore map_area",
              hypercall(xen::kUpdateVaMapping, va_of(map_area), (mfn_of(map_area) << 12) | kPteRw, xen::kUvmfInvlpg), 0);
    print("mapped d%u's grants, read and wrote; the read-only one stays mapped\n", peer);
}

}  // namespace

void test_main() {
    const unsigned peer = cmdline_option("peer", 0xffff);
    const unsigned mapper = cmdline_option("mapper", 2);
    if (peer == 0xffff || mapper > 1) return error("need 'peer=<domid> mapper=<0|1>', got '%s'\n", start_info->cmd_line);
    if (mapper != 0)
        run_mapper(static_cast<u16>(peer));
    else
        run_granter(static_cast<u16>(peer));
}

}  // namespace guest
