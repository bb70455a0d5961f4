// SPDX-License-Identifier: MIT
// MMUEXT_CLEAR_PAGE and MMUEXT_COPY_PAGE (Xen's "highmem assist"), with Xen 4.17's rules as the
// oracle (pv-abi.md §3.9):
//   - both work on whole frames of our own: clear zeroes, copy duplicates;
//   - the destination must be able to take the writable type: a live L4 or a pinned L1 is
//     -EINVAL and stays untouched; the source may be any frame of ours (a page table included);
//   - frames that are not ours (the hypervisor's L3 behind L4[256]) and MFNs that are no RAM are
//     -EINVAL both ways, and nothing of a refused source reaches the destination;
//   - a batch stops at the first refusal and `done` counts what ran;
//   - XENFEAT_highmem_assist is advertised.
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "page_ops: MMUEXT_CLEAR_PAGE and MMUEXT_COPY_PAGE, hostile frames included";

namespace {

constexpr u64 kP = 1, kRw = 2, kA = 0x20, kD = 0x40;
constexpr u64 kAddrMask = 0x000ffffffffff000;
constexpr u64 kHugeMfn = 0xfffffffffull;  // 2^36 - 1: far above any RAM of the test machine

enum Page : unsigned { kSource, kTarget, kTarget2, kPinned, kPageCount };
alignas(4096) u64 pages[kPageCount][512];

u64 va_of(const void* p) { return reinterpret_cast<u64>(p); }
u64 mfn_of(const void* p) { return pfn_to_mfn(va_of(p) >> 12); }

long ext_batch(const xen::MmuextOp* ops, unsigned count, u32* done) {
    return hypercall(xen::kMmuextOp, va_of(ops), count, va_of(done), xen::kDomidSelf);
}
long ext(const xen::MmuextOp& op) { return ext_batch(&op, 1, nullptr); }
xen::MmuextOp clear_op(u64 mfn) { return {xen::kMmuextClearPage, 0, mfn, 0}; }
xen::MmuextOp copy_op(u64 to, u64 from) { return {xen::kMmuextCopyPage, 0, to, from}; }
long clear(u64 mfn) { return ext(clear_op(mfn)); }
long copy(u64 to, u64 from) { return ext(copy_op(to, from)); }

void fill(Page p, u64 seed) {
    for (unsigned i = 0; i < 512; ++i) pages[p][i] = seed * 0x9e3779b97f4a7c15ull + i;
}
// The index of the first word where `a` and `b` differ, or 512.
unsigned first_difference(const u64* a, const u64* b) {
    unsigned i = 0;
    while (i < 512 && a[i] == b[i]) ++i;
    return i;
}
void expect_same(const char* what, const u64* a, const u64* b) {
    const unsigned i = first_difference(a, b);
    if (i < 512) fail("%s: word %u is 0x%lx, expected 0x%lx\n", what, i, a[i], b[i]);
}
void expect_filled(const char* what, Page p, u64 seed) {
    for (unsigned i = 0; i < 512; ++i)
        if (pages[p][i] != seed * 0x9e3779b97f4a7c15ull + i) return fail("%s: word %u changed\n", what, i);
}
void expect_zero(const char* what, const u64* a) {
    for (unsigned i = 0; i < 512; ++i)
        if (a[i] != 0) return fail("%s: word %u is 0x%lx\n", what, i, a[i]);
}

long remap(Page p, u64 flags) {
    return hypercall(xen::kUpdateVaMapping, va_of(pages[p]), (mfn_of(pages[p]) << 12) | flags, xen::kUvmfInvlpg);
}

void own_frames() {
    fill(kSource, 1);
    fill(kTarget, 2);
    expect_eq("COPY_PAGE source -> target", copy(mfn_of(pages[kTarget]), mfn_of(pages[kSource])), 0);
    expect_same("target after COPY_PAGE", pages[kTarget], pages[kSource]);
    expect_eq("CLEAR_PAGE target", clear(mfn_of(pages[kTarget])), 0);
    expect_zero("target after CLEAR_PAGE", pages[kTarget]);
    expect_filled("source after both", kSource, 1);
    expect_eq("COPY_PAGE onto itself", copy(mfn_of(pages[kSource]), mfn_of(pages[kSource])), 0);
    expect_filled("source after copying onto itself", kSource, 1);
}

void page_tables(const u64* l4) {
    const u64 l4_mfn = mfn_of(l4), l4_entry0 = l4[0];
    expect_eq("CLEAR_PAGE live L4", clear(l4_mfn), -xen::kEINVAL);
    expect_eq("COPY_PAGE onto live L4", copy(l4_mfn, mfn_of(pages[kSource])), -xen::kEINVAL);
    if (l4[0] != l4_entry0) fail("L4[0] changed: 0x%lx\n", l4[0]);
    expect_eq("COPY_PAGE from live L4", copy(mfn_of(pages[kTarget]), l4_mfn), 0);
    expect_same("copy of the L4", pages[kTarget], l4);

    // A pinned L1 (mapped read-only while it is one) is a source only; unpinned it is data again.
    const u64 pinned = mfn_of(pages[kPinned]);
    expect_eq("remap pinned page RO", remap(kPinned, kP | kA | kD), 0);
    expect_eq("PIN_L1_TABLE", ext({xen::kMmuextPinL1Table, 0, pinned, 0}), 0);
    expect_eq("CLEAR_PAGE pinned L1", clear(pinned), -xen::kEINVAL);
    expect_eq("COPY_PAGE onto pinned L1", copy(pinned, mfn_of(pages[kSource])), -xen::kEINVAL);
    expect_zero("pinned L1 untouched", pages[kPinned]);
    expect_eq("COPY_PAGE from pinned L1", copy(mfn_of(pages[kTarget]), pinned), 0);
    expect_zero("copy of the pinned L1", pages[kTarget]);
    expect_eq("UNPIN_TABLE", ext({xen::kMmuextUnpinTable, 0, pinned, 0}), 0);
    expect_eq("CLEAR_PAGE unpinned (read-only mapped) frame", clear(pinned), 0);
    expect_eq("remap unpinned page RW", remap(kPinned, kP | kRw | kA | kD), 0);
}

void foreign_frames(const u64* l4) {
    if ((l4[256] & kP) == 0) return fail("L4[256] (M2P) not present: 0x%lx\n", l4[256]);
    const u64 xen_l3 = (l4[256] & kAddrMask) >> 12;  // the hypervisor's L3 behind the RO M2P
    fill(kTarget2, 3);
    expect_eq("CLEAR_PAGE hypervisor frame", clear(xen_l3), -xen::kEINVAL);
    expect_eq("COPY_PAGE from hypervisor frame", copy(mfn_of(pages[kTarget2]), xen_l3), -xen::kEINVAL);
    expect_eq("COPY_PAGE onto hypervisor frame", copy(xen_l3, mfn_of(pages[kSource])), -xen::kEINVAL);
    expect_eq("CLEAR_PAGE MFN 2^36-1", clear(kHugeMfn), -xen::kEINVAL);
    expect_eq("COPY_PAGE from MFN 2^36-1", copy(mfn_of(pages[kTarget2]), kHugeMfn), -xen::kEINVAL);
    expect_eq("COPY_PAGE onto MFN 2^36-1", copy(kHugeMfn, mfn_of(pages[kSource])), -xen::kEINVAL);
    expect_eq("CLEAR_PAGE MFN ~0", clear(~u64{0}), -xen::kEINVAL);
    expect_eq("COPY_PAGE from MFN ~0", copy(mfn_of(pages[kTarget2]), ~u64{0}), -xen::kEINVAL);
    expect_filled("target after the refused copies", kTarget2, 3);
}

void batch(const u64* l4) {
    fill(kSource, 4);
    fill(kTarget, 5);
    fill(kTarget2, 6);
    const xen::MmuextOp ops[] = {copy_op(mfn_of(pages[kTarget]), mfn_of(pages[kSource])),
                                 clear_op(mfn_of(pages[kSource])), clear_op(mfn_of(l4)),
                                 clear_op(mfn_of(pages[kTarget2]))};
    u32 done = 0xffff;
    expect_eq("batch with a refused third op", ext_batch(ops, 4, &done), -xen::kEINVAL);
    expect_eq("batch done", done, 2);
    expect_filled("target after the batch", kTarget, 4);
    expect_zero("source after the batch", pages[kSource]);
    expect_filled("the op after the refusal did not run", kTarget2, 6);
}

void feature_bit() {
    xen::XenFeatureInfo features{0, 0};
    expect_eq("get_features 0", hypercall(xen::kXenVersion, xen::kXenVersionGetFeatures, va_of(&features)), 0);
    if ((features.submap & (1u << xen::kXenFeatHighmemAssist)) == 0) fail("XENFEAT_highmem_assist missing\n");
}

}  // namespace

void test_main() {
    const u64* l4 = reinterpret_cast<const u64*>(start_info->pt_base);
    for (auto& p : pages) p[0] = 0;  // resident
    own_frames();
    page_tables(l4);
    foreign_frames(l4);
    batch(l4);
    feature_bit();
}

}  // namespace guest
