// SPDX-License-Identifier: MIT
// Hostile page-table operations. Each case asserts the exact value Xen 4.17 returns (the
// oracle) and that the refused operation left the old entry in place; the final result line
// proves the domain survived all of them. Covered (pv-abi.md §3.8-3.10, §4.6, §5):
//   - page-table frames can never be mapped writable (update_va_mapping, mmu_update on an L1);
//   - frames the domain does not own (the hypervisor's own L3 behind L4[256]: -EBUSY), machine
//     frames that are no RAM (-EPERM; the all-ones MFN -EINVAL), hypercall pointers into them, and
//     the hypervisor's half of the address space (M2P read-only, the rest unreadable);
//   - Xen's L4 slots 256-271 cannot be written;
//   - type rules: a writable data frame cannot become a table or be pinned (xsa-224/234 end),
//     pin twice, unpin what is not pinned, validation of a bad L1 at pin time;
//   - disallowed flag bits: PSE in an L2, G in an L3, PCD in an L4;
//   - linear (recursive) entries: read-only accepted, read-write refused (xsa-182), at L4 and L2;
//   - a fresh L3->L2->L1 chain hooked into L4[255] of the live L4 (xsa-7), used, torn down,
//     and its frames writable again afterwards;
//   - update_va_mapping of addresses with no L1 (incl. 2^63 with UVMF_INVLPG|UVMF_ALL, xsa-279);
//   - mmu_update/mmuext_op batches stop at the first failure and report `done`; the mmu_update
//     command is ptr & 7 (4-7: -ENOSYS);
//   - the iret hypercall with selectors that do not load: the guest gets #GP(selector) at the
//     frame's RIP (Xen does not crash the domain; an unreadable frame does, see crash_bad_iret).
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "hostile_mm: refused page-table updates, pins, linear maps, fresh chains, bad iret";

namespace {

// PTE bits.
constexpr u64 kP = 1, kRw = 2, kUs = 4, kPwt = 8, kPcd = 0x10, kA = 0x20, kD = 0x40, kPse = 0x80, kG = 0x100;
constexpr u64 kNx = 1ull << 63;
constexpr u64 kAddrMask = 0x000ffffffffff000;
constexpr u64 kLeafRo = kP | kA | kD;        // 0x61, as XTF remaps
constexpr u64 kLeafRw = kP | kRw | kA | kD;  // 0x63
constexpr u64 kTable = kP | kRw | kUs | kA | kD;  // 0x67, as the builder writes non-leaf entries
constexpr u64 kLinearRo = kP | kUs | kA;      // read-only recursive entry

// Free L4 slots of the bootstrap L4 (the initial mapping uses slot 0 only).
constexpr unsigned kSlotChain = 255;   // xsa-7 style fresh chain
constexpr unsigned kSlotLinear = 254;  // xsa-182 style self map
constexpr unsigned kSlotScratch = 253;
constexpr unsigned kSlotScratch2 = 252;

constexpr u64 kUnmapped = 0x40000000;  // 1 GiB: L3[1] is empty
constexpr u64 kHugeMfn = 0xfffffffffull;  // 2^36 - 1: 64 TiB, far above any RAM of the test machine

const u64* const m2p = reinterpret_cast<const u64*>(xen::kMachToPhysVirtStart);

// Spare frames of our own, mapped RW in the image; some become tables.
enum Page : unsigned {
    kData, kData2, kData3, kWindow, kZero, kZero2, kZero3, kZero4, kBadL1, kChainL3, kChainL2, kChainL1, kPageCount
};
alignas(4096) u64 pages[kPageCount][512];

u64 va_of(const void* p) { return reinterpret_cast<u64>(p); }
u64 mfn_of(const void* p) { return pfn_to_mfn(va_of(p) >> 12); }
u64 maddr_of(const void* p) { return mfn_of(p) << 12; }
u64* page(Page p) { return pages[p]; }
// The initial mapping is VA = PFN << 12, so a frame of ours in it is found through the M2P.
u64* va_of_mfn(u64 mfn) { return reinterpret_cast<u64*>(m2p[mfn] << 12); }
u64* table_of(u64 entry) { return va_of_mfn((entry & kAddrMask) >> 12); }

u64* l4;      // bootstrap L4 (read-only mapping)
u64 l4_maddr;
u64* l3;      // L3 for 0-512 GiB
u64* l2;      // L2 for 0-1 GiB

// The L1 entry mapping `va` (inside the first GiB): its machine address and its current value.
u64 pte_maddr(u64 va) { return maddr_of(table_of(l2[(va >> 21) & 511])) + ((va >> 12) & 511) * 8; }
u64 pte_of(u64 va) { return table_of(l2[(va >> 21) & 511])[(va >> 12) & 511]; }

long uvm(u64 va, u64 pte, u64 flags = xen::kUvmfInvlpg) { return hypercall(xen::kUpdateVaMapping, va, pte, flags); }
long remap(Page p, u64 flags) { return uvm(va_of(page(p)), maddr_of(page(p)) | flags); }
long mmu(u64 ptr, u64 val) {
    xen::MmuUpdate update{ptr, val};
    return hypercall(xen::kMmuUpdate, reinterpret_cast<u64>(&update), 1, 0, xen::kDomidSelf);
}
long ext(xen::MmuextCmd cmd, u64 arg1) {
    xen::MmuextOp op{cmd, 0, arg1, 0};
    return hypercall(xen::kMmuextOp, reinterpret_cast<u64>(&op), 1, 0, xen::kDomidSelf);
}
u64 l4_slot(unsigned slot) { return l4_maddr + slot * 8; }

void check(const char* what, long got, long expected) {
    if (got == expected) return print("  ok %-66s %ld\n", what, got);
    fail("%s: got %ld, expected %ld\n", what, got, expected);
}
void check_hex(const char* what, u64 got, u64 expected) {
    if (got != expected) fail("%s: 0x%lx, expected 0x%lx\n", what, got, expected);
}

// Reads/writes that may fault: returns true on #PF (recorded by the runtime's extable).
bool read_faults(u64 va, u64* value) {
    clear_last_exception();
    u64 v = 0;
    asm volatile("1: movq (%[va]), %[v]\n2:\n" GUEST_EXTABLE(1b, 2b) : [v] "+r"(v) : [va] "r"(va) : "memory");
    *value = v;
    return last_exception.seen;
}
bool write_faults(u64 va, u64 value) {
    clear_last_exception();
    asm volatile("1: movq %[v], (%[va])\n2:\n" GUEST_EXTABLE(1b, 2b) : : [v] "r"(value), [va] "r"(va) : "memory");
    return last_exception.seen;
}
void expect_pf(const char* what, bool faulted) {
    if (!faulted) return fail("%s: no fault\n", what);
    if (last_exception.frame.vector != 14) fail("%s: vector %lu, expected #PF\n", what, last_exception.frame.vector);
}

// ---- 1. Page-table frames never writable ----
void pt_frames_not_writable() {
    print("page-table frames cannot be mapped writable\n");
    const u64 pt = start_info->pt_base;
    for (u64 i = 0; i < start_info->nr_pt_frames; ++i) {
        const u64 va = pt + i * 4096;
        const u64 before = pte_of(va);
        check("update_va_mapping bootstrap table frame RW", uvm(va, (pte_of(va) & kAddrMask) | kLeafRw), -xen::kEBUSY);
        check_hex("bootstrap table PTE after refused RW", pte_of(va), before);
    }
    // mmu_update on an L1 entry: the window page would map the live L4 / an L1 writable.
    const u64 window = va_of(page(kWindow));
    const u64 window_pte = pte_of(window);
    check("mmu_update L1 entry -> live L4 RW", mmu(pte_maddr(window), l4_maddr | kLeafRw), -xen::kEBUSY);
    check("mmu_update L1 entry -> bootstrap L1 RW",
          mmu(pte_maddr(window), (l2[0] & kAddrMask) | kLeafRw), -xen::kEBUSY);
    check_hex("window PTE after refused mmu_update", pte_of(window), window_pte);
    // Read-only is fine, and shows the L4.
    check("mmu_update L1 entry -> live L4 RO", mmu(pte_maddr(window), l4_maddr | kLeafRo), 0);
    check("MMUEXT_INVLPG_LOCAL window", ext(xen::kMmuextInvlpgLocal, window), 0);
    check_hex("L4[0] read through the RO window", page(kWindow)[0], l4[0]);
    check("window back to its own frame", remap(kWindow, kLeafRw), 0);
}

// ---- 2. Frames the domain does not own ----
void foreign_frames() {
    print("frames the domain does not own\n");
    const u64 window = va_of(page(kWindow));
    const u64 window_pte = pte_of(window);
    const u64 xen_l3 = (l4[256] & kAddrMask) >> 12;  // the hypervisor's L3 behind the RO M2P
    if ((l4[256] & kP) == 0) return fail("L4[256] (M2P) not present: 0x%lx\n", l4[256]);
    check("update_va_mapping RO -> hypervisor frame (L4[256]'s L3)", uvm(window, (xen_l3 << 12) | kLeafRo), -xen::kEBUSY);
    check("update_va_mapping RW -> hypervisor frame (L4[256]'s L3)", uvm(window, (xen_l3 << 12) | kLeafRw), -xen::kEBUSY);
    check("mmu_update L1 entry -> hypervisor frame", mmu(pte_maddr(window), (xen_l3 << 12) | kLeafRo), -xen::kEBUSY);
    check("mmu_update with ptr in a hypervisor frame", mmu(xen_l3 << 12, 0), -xen::kEINVAL);
    check("mmu_update with ptr at a huge MFN", mmu(kHugeMfn << 12, 0), -xen::kEINVAL);
    check("PIN_L1_TABLE hypervisor frame", ext(xen::kMmuextPinL1Table, xen_l3), -xen::kEINVAL);
    check("PIN_L3_TABLE hypervisor frame", ext(xen::kMmuextPinL3Table, xen_l3), -xen::kEINVAL);
    check("UNPIN_TABLE hypervisor frame", ext(xen::kMmuextUnpinTable, xen_l3), -xen::kEINVAL);
    check("PIN_L1_TABLE huge MFN", ext(xen::kMmuextPinL1Table, kHugeMfn), -xen::kEINVAL);
    // Machine frames that are not RAM: no I/O-memory permission for these (even Xen's dom0 has
    // none for the local APIC page or beyond its physical address width). The all-ones frame
    // number is Xen's "invalid MFN" and gets -EINVAL instead.
    check("update_va_mapping RO -> MFN 2^36-1", uvm(window, (kHugeMfn << 12) | kLeafRo), -xen::kEPERM);
    check("update_va_mapping RO -> MFN 2^40-1 (all ones)", uvm(window, kAddrMask | kLeafRo), -xen::kEINVAL);
    check("update_va_mapping RO -> local APIC MFN 0xfee00", uvm(window, (0xfee00ull << 12) | kLeafRo), -xen::kEPERM);
    check("MACHPHYS_UPDATE of a hypervisor frame", mmu((xen_l3 << 12) | xen::kMmuMachphysUpdate, 5), -xen::kEINVAL);
    check_hex("window PTE after refused mappings", pte_of(window), window_pte);

    // The hypervisor's half of the address space: the M2P reads but never writes, the rest of
    // slots 256-271 neither.
    u64 value = 0;
    if (read_faults(xen::kMachToPhysVirtStart, &value)) fail("reading the M2P faulted\n");
    expect_pf("write to the M2P", write_faults(xen::kMachToPhysVirtStart, value));
    static constexpr u64 kXenAreas[] = {0xffff808000000000, 0xffff810000000000, 0xffff818000000000,
                                        0xffff820000000000, 0xffff828000000000, 0xffff830000000000,
                                        0xffff838000000000, 0xffff878000000000};
    for (u64 va : kXenAreas) {
        if (!read_faults(va, &value)) fail("reading hypervisor VA 0x%lx did not fault\n", va);
        else if (last_exception.frame.vector != 14 && last_exception.frame.vector != 13)
            fail("reading hypervisor VA 0x%lx: vector %lu\n", va, last_exception.frame.vector);
    }
    print("  ok M2P read-only; slots 257-271 unreadable\n");
}

// ---- 3. Xen's L4 slots ----
void xen_slots() {
    print("L4 slots 256-271 cannot be written\n");
    for (unsigned slot = 256; slot < 272; ++slot) {
        const u64 before = l4[slot];
        if (mmu(l4_slot(slot), before) != -xen::kEINVAL)
            fail("mmu_update L4[%u] (same value 0x%lx) not refused with -EINVAL\n", slot, before);
        if (before == 0) {
            const long rc = mmu(l4_slot(slot), 0);
            if (rc != -xen::kEINVAL) fail("mmu_update L4[%u] = 0 gave %ld\n", slot, rc);
        }
        check_hex("Xen L4 slot after refused write", l4[slot], before);
    }
    print("  ok mmu_update L4[256..271] all -EINVAL\n");
}

// ---- 4. Types, pins ----
void types_and_pins() {
    print("page types and pins\n");
    const u64 data = mfn_of(page(kData));
    check("mmu_update L4 entry -> writable data frame", mmu(l4_slot(kSlotScratch), (data << 12) | kTable), -xen::kEINVAL);
    check_hex("L4 scratch slot after refused write", l4[kSlotScratch], 0);
    check("mmu_update L3 entry -> writable data frame", mmu(maddr_of(l3) + 8 * 1, (data << 12) | kTable), -xen::kEINVAL);
    check("mmu_update L2 entry -> writable data frame", mmu(maddr_of(l2) + 8 * 3, (data << 12) | kTable), -xen::kEINVAL);
    check("PIN_L1_TABLE data frame mapped writable", ext(xen::kMmuextPinL1Table, data), -xen::kEINVAL);
    check("PIN_L2_TABLE data frame mapped writable", ext(xen::kMmuextPinL2Table, data), -xen::kEINVAL);
    check("PIN_L4_TABLE data frame mapped writable", ext(xen::kMmuextPinL4Table, data), -xen::kEINVAL);
    check("UNPIN_TABLE never pinned data frame", ext(xen::kMmuextUnpinTable, data), -xen::kEINVAL);
    check("NEW_USER_BASEPTR data frame mapped writable", ext(xen::kMmuextNewUserBaseptr, data), -xen::kEINVAL);

    const u64 zero = mfn_of(page(kZero));
    check("remap zero page RO", remap(kZero, kLeafRo), 0);
    check("PIN_L1_TABLE zero page", ext(xen::kMmuextPinL1Table, zero), 0);
    check("PIN_L1_TABLE zero page again", ext(xen::kMmuextPinL1Table, zero), -xen::kEINVAL);
    check("PIN_L2_TABLE pinned L1", ext(xen::kMmuextPinL2Table, zero), -xen::kEINVAL);
    check("remap pinned L1 RW", remap(kZero, kLeafRw), -xen::kEBUSY);
    check("UNPIN_TABLE pinned L1", ext(xen::kMmuextUnpinTable, zero), 0);
    check("UNPIN_TABLE again", ext(xen::kMmuextUnpinTable, zero), -xen::kEINVAL);
    check("PIN_L2_TABLE the same (now untyped) frame", ext(xen::kMmuextPinL2Table, zero), 0);
    check("UNPIN_TABLE pinned L2", ext(xen::kMmuextUnpinTable, zero), 0);
    check("remap unpinned zero page RW", remap(kZero, kLeafRw), 0);
    page(kZero)[7] = 0x1234;  // writable again
    page(kZero)[7] = 0;

    // Validation at pin time: an L1 whose entry maps the live L4 writable.
    page(kBadL1)[5] = l4_maddr | kLeafRw;
    check("remap bad L1 RO", remap(kBadL1, kLeafRo), 0);
    check("PIN_L1_TABLE L1 mapping the L4 RW", ext(xen::kMmuextPinL1Table, mfn_of(page(kBadL1))), -xen::kEBUSY);
    check("remap bad L1 RW again", remap(kBadL1, kLeafRw), 0);
    page(kBadL1)[5] = 0;
}

// ---- 5. Disallowed flag bits above L1 ----
void reserved_bits() {
    print("disallowed flag bits\n");
    check("remap zero page 2 RO", remap(kZero2, kLeafRo), 0);
    check("remap zero page 3 RO", remap(kZero3, kLeafRo), 0);
    const u64 z2 = maddr_of(page(kZero2)), z3 = maddr_of(page(kZero3));
    check("L2 entry with PSE", mmu(maddr_of(l2) + 8 * 3, z2 | kTable | kPse), -xen::kEINVAL);
    check("L2 entry with PCD", mmu(maddr_of(l2) + 8 * 3, z2 | kTable | kPcd), -xen::kEINVAL);
    check("L3 entry with G", mmu(maddr_of(l3) + 8 * 1, z2 | kTable | kG), -xen::kEINVAL);
    check("L3 entry with PSE (1 GiB page)", mmu(maddr_of(l3) + 8 * 1, z2 | kTable | kPse), -xen::kEINVAL);
    check("L4 entry with PWT", mmu(l4_slot(kSlotScratch), z3 | kTable | kPwt), -xen::kEINVAL);
    check("L4 entry with PSE", mmu(l4_slot(kSlotScratch), z3 | kTable | kPse), -xen::kEINVAL);
    check_hex("L2[3] after refused writes", l2[3], 0);
    check_hex("L3[1] after refused writes", l3[1], 0);
    check_hex("L4 scratch slot after refused writes", l4[kSlotScratch], 0);
    // Allowed: an L2 entry with NX and AVAIL bits, then removed.
    check("L2 entry with NX and AVAIL bits", mmu(maddr_of(l2) + 8 * 3, z2 | kTable | kNx | 0xe00), 0);
    check("L2 entry removed", mmu(maddr_of(l2) + 8 * 3, 0), 0);
    check("remap zero page 2 RW", remap(kZero2, kLeafRw), 0);
    check("remap zero page 3 RW", remap(kZero3, kLeafRw), 0);
}

// ---- 6. Linear page tables ----
void linear_tables() {
    print("linear (recursive) entries\n");
    constexpr u64 s = kSlotLinear;
    const u64 linear_l4 = (s << 39) | (s << 30) | (s << 21) | (s << 12);
    check("L4 self-map read-only", mmu(l4_slot(s), l4_maddr | kLinearRo), 0);
    u64 value = 0;
    if (read_faults(linear_l4, &value)) fail("reading the L4 through its self-map faulted\n");
    check_hex("L4[0] through the self-map", value, l4[0]);
    if (read_faults(linear_l4 + s * 8, &value)) fail("reading L4[254] through the self-map faulted\n");
    check_hex("L4[254] through the self-map", value & kAddrMask, l4_maddr);
    expect_pf("write through the read-only self-map", write_faults(linear_l4 + 8 * kSlotScratch, 0x1067));
    check("L4 self-map made RW", mmu(l4_slot(s), l4_maddr | kLinearRo | kRw), -xen::kEINVAL);
    check_hex("L4 self-map still read-only", l4[s] & kRw, 0);
    check("new RW self-map in another slot", mmu(l4_slot(kSlotScratch2), l4_maddr | kTable), -xen::kEINVAL);
    check_hex("other slot after refused RW self-map", l4[kSlotScratch2], 0);
    check("L4 self-map removed", mmu(l4_slot(s), 0), 0);
    expect_pf("read through the removed self-map", read_faults(linear_l4, &value));

    // An L2 pointing at itself read-only: its entries' tables appear as pages at VA 5*2 MiB.
    const u64 linear_l1 = 5ull << 21;
    check("L2 self-map read-only", mmu(maddr_of(l2) + 8 * 5, maddr_of(l2) | kLinearRo), 0);
    if (read_faults(linear_l1, &value)) fail("reading the first L1 through the L2 self-map faulted\n");
    check_hex("L1[0x100] through the L2 self-map", *reinterpret_cast<volatile u64*>(linear_l1 + 0x100 * 8),
              table_of(l2[0])[0x100]);
    check("L2 self-map made RW", mmu(maddr_of(l2) + 8 * 5, maddr_of(l2) | kLinearRo | kRw), -xen::kEINVAL);
    check("L2 self-map removed", mmu(maddr_of(l2) + 8 * 5, 0), 0);
    expect_pf("read through the removed L2 self-map", read_faults(linear_l1, &value));
}

// ---- 7. A fresh chain in L4[255] (xsa-7 style) ----
void fresh_chain() {
    print("fresh L3->L2->L1 chain in L4[255]\n");
    u64* c3 = page(kChainL3);
    u64* c2 = page(kChainL2);
    u64* c1 = page(kChainL1);
    c1[0] = maddr_of(page(kData)) | kLeafRw;
    c1[1] = maddr_of(page(kData2)) | kLeafRo;
    c2[0] = maddr_of(c1) | kTable;
    c3[0] = maddr_of(c2) | kTable;
    page(kData)[0] = 0x1111;
    page(kData2)[0] = 0x2222;
    page(kData3)[0] = 0x3333;
    const u64 base = u64{kSlotChain} << 39;

    check("hook a chain of writable frames", mmu(l4_slot(kSlotChain), maddr_of(c3) | kTable), -xen::kEINVAL);
    check("remap chain L3 RO", remap(kChainL3, kLeafRo), 0);
    check("hook with L2 still writable", mmu(l4_slot(kSlotChain), maddr_of(c3) | kTable), -xen::kEINVAL);
    check("remap chain L2 RO", remap(kChainL2, kLeafRo), 0);
    check("remap chain L1 RO", remap(kChainL1, kLeafRo), 0);
    check("PIN_L3_TABLE chain", ext(xen::kMmuextPinL3Table, mfn_of(c3)), 0);
    check("remap chain L1 RW while pinned", remap(kChainL1, kLeafRw), -xen::kEBUSY);
    check("hook chain into L4[255]", mmu(l4_slot(kSlotChain), maddr_of(c3) | kTable), 0);

    u64 value = 0;
    if (read_faults(base, &value)) return fail("reading through the new chain faulted\n");
    check_hex("data through the chain", value, 0x1111);
    if (write_faults(base + 8, 0xabcd)) fail("writing through the new chain faulted\n");
    check_hex("write through the chain seen in the image", page(kData)[1], 0xabcd);
    if (read_faults(base + 4096, &value)) fail("reading data2 through the chain faulted\n");
    check_hex("data2 through the chain", value, 0x2222);
    expect_pf("write through the RO chain entry", write_faults(base + 4096, 1));

    // update_va_mapping walks the new tables; mmu_update writes the chain L1 directly.
    check("update_va_mapping through the chain", uvm(base + 4096, maddr_of(page(kData3)) | kLeafRw), 0);
    if (read_faults(base + 4096, &value)) fail("reading data3 through the chain faulted\n");
    check_hex("data3 through the chain", value, 0x3333);
    check("mmu_update chain L1[2]", mmu(maddr_of(c1) + 2 * 8, maddr_of(page(kData2)) | kLeafRo), 0);
    if (read_faults(base + 2 * 4096, &value)) fail("reading data2 at chain page 2 faulted\n");
    check_hex("data2 at chain page 2", value, 0x2222);
    check("chain L1 maps the chain L1 RW", mmu(maddr_of(c1) + 3 * 8, maddr_of(c1) | kLeafRw), -xen::kEBUSY);
    check("chain L1 maps the live L4 RW", uvm(base + 3 * 4096, l4_maddr | kLeafRw), -xen::kEBUSY);
    check("UNPIN chain L2 (not pinned)", ext(xen::kMmuextUnpinTable, mfn_of(c2)), -xen::kEINVAL);

    check("unhook L4[255]", mmu(l4_slot(kSlotChain), 0), 0);
    expect_pf("read through the unhooked chain", read_faults(base, &value));
    check("remap chain L2 RW while L3 pinned", remap(kChainL2, kLeafRw), -xen::kEBUSY);
    check("UNPIN_TABLE chain L3", ext(xen::kMmuextUnpinTable, mfn_of(c3)), 0);
    check("remap chain L1 RW", remap(kChainL1, kLeafRw), 0);
    check("remap chain L2 RW", remap(kChainL2, kLeafRw), 0);
    check("remap chain L3 RW", remap(kChainL3, kLeafRw), 0);
    c1[0] = c1[1] = c1[2] = c1[3] = 0;
    c2[0] = c3[0] = 0;
    // The data frames lost their chain mappings: PIN as L1 works only once they are RO everywhere.
    check("PIN_L1_TABLE data3 (still mapped RW in the image)", ext(xen::kMmuextPinL1Table, mfn_of(page(kData3))),
          -xen::kEINVAL);
}

// ---- 8. update_va_mapping and batches ----
void va_and_batches() {
    print("update_va_mapping without an L1, batches\n");
    check("update_va_mapping va 2^63, INVLPG|ALL", uvm(1ull << 63, 0, xen::kUvmfInvlpg | xen::kUvmfAll), -xen::kEINVAL);
    check("update_va_mapping va 1 GiB (no L2)", uvm(kUnmapped, 0), -xen::kEINVAL);
    check("update_va_mapping va 6 MiB (no L1)", uvm(6ull << 20, 0), -xen::kEINVAL);
    check("update_va_mapping va 0xffff880000000000 (no L3)", uvm(0xffff880000000000, 0), -xen::kEINVAL);
    check("update_va_mapping va 0x800000000000", uvm(0x800000000000, 0), -xen::kEINVAL);

    // mmu_update into a plain data page is a plain store.
    check("mmu_update into a data page", mmu(maddr_of(page(kData)) + 16, 0x5a5a), 0);
    check_hex("data page after mmu_update", page(kData)[2], 0x5a5a);
    // The command is ptr & 7 (an entry is 8 bytes), so 4-7 are unknown commands, not misaligned updates.
    check("mmu_update command 4 (ptr & 7)", mmu(maddr_of(page(kData)) + 16 + 4, 0), -xen::kENOSYS);
    check_hex("data page after the unknown command", page(kData)[2], 0x5a5a);
    check("MACHPHYS_UPDATE own frame, same pfn",
          mmu(maddr_of(page(kData)) | xen::kMmuMachphysUpdate, va_of(page(kData)) >> 12), 0);

    // Stops at the first failure: op 0 applies, op 1 is refused, op 2 never runs.
    const u64 window = va_of(page(kWindow));
    const xen::MmuUpdate batch[3] = {{maddr_of(page(kData)) + 24, 0x77},
                                     {pte_maddr(window), l4_maddr | kLeafRw},
                                     {maddr_of(page(kData)) + 32, 0x88}};
    unsigned done = 0xdead;
    check("mmu_update batch, second op bad",
          hypercall(xen::kMmuUpdate, reinterpret_cast<u64>(batch), 3, reinterpret_cast<u64>(&done), xen::kDomidSelf),
          -xen::kEBUSY);
    check("  done", done, 1);
    check_hex("batch op 0 applied", page(kData)[3], 0x77);
    check_hex("batch op 2 not applied", page(kData)[4], 0);

    check("remap zero4 RO", remap(kZero4, kLeafRo), 0);
    const xen::MmuextOp ops[3] = {{xen::kMmuextPinL1Table, 0, mfn_of(page(kZero4)), 0},
                                  {xen::kMmuextPinL1Table, 0, mfn_of(page(kZero4)), 0},
                                  {xen::kMmuextUnpinTable, 0, mfn_of(page(kZero4)), 0}};
    done = 0;
    check("mmuext_op batch pin, pin, unpin",
          hypercall(xen::kMmuextOp, reinterpret_cast<u64>(ops), 3, reinterpret_cast<u64>(&done), xen::kDomidSelf),
          -xen::kEINVAL);
    check("  done", done, 1);
    check("remap zero4 RW while pinned", remap(kZero4, kLeafRw), -xen::kEBUSY);
    check("UNPIN zero4", ext(xen::kMmuextUnpinTable, mfn_of(page(kZero4))), 0);
    check("remap zero4 RW", remap(kZero4, kLeafRw), 0);
    check("mmuext_op unknown command 14", ext(static_cast<xen::MmuextCmd>(14), 0), -xen::kENOSYS);
    check("mmuext_op MARK_SUPER", ext(xen::kMmuextMarkSuper, mfn_of(page(kData))), -xen::kEOPNOTSUPP);
}

// ---- 9. iret with selectors that do not load ----
u64 iret_resume, iret_target;
bool iret_hook(ExceptionFrame& frame) {
    if (frame.vector != 13 || (frame.rip != iret_resume && frame.rip != iret_target)) return false;
    last_exception.seen = true;
    last_exception.frame = frame;
    frame.cs = kKernelCs;
    frame.ss = xen::kFlatRing3Ss64;
    frame.rip = iret_resume;
    return true;
}

// The iret hypercall to `rip` (0: the label after it) in kernel mode with the given CS and SS.
void iret_with(u64 cs, u64 ss, u64 rip) {
    u64 label;
    asm volatile("leaq 1f(%%rip), %0" : "=r"(label));
    iret_resume = label;
    iret_target = rip != 0 ? rip : label;
    clear_last_exception();
    asm volatile("movq %%rsp, %%rbx\n\t"
                 "pushq %[ss]\n\t"
                 "pushq %%rbx\n\t"
                 "pushfq\n\t"
                 "pushq %[cs]\n\t"
                 "pushq %[rip]\n\t"
                 "pushq $0\n\t"
                 "jmp hypercall_page + %c[nr] * 32\n"
                 "1:\n\t"
                 "movq %%rbx, %%rsp"
                 :
                 : [ss] "r"(ss), [cs] "r"(cs), [rip] "r"(rip != 0 ? rip : label), [nr] "i"(xen::kIret)
                 : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
}

void bad_iret(const char* what, u64 cs, u64 ss, u64 rip, u64 error_code, u64 frame_cs, u64 frame_ss) {
    iret_with(cs, ss, rip);
    const ExceptionFrame& f = last_exception.frame;
    if (!last_exception.seen) return fail("%s: no #GP\n", what);
    if (f.error_code != error_code || (f.cs & 0xffff) != frame_cs || f.ss != frame_ss)
        return fail("%s: #GP(0x%lx) cs 0x%lx ss 0x%lx, expected #GP(0x%lx) cs 0x%lx ss 0x%lx\n", what, f.error_code,
                    f.cs & 0xffff, f.ss, error_code, frame_cs, frame_ss);
    print("  ok %-66s #GP(0x%lx)\n", what, f.error_code);
}

void iret_selectors() {
    print("iret with selectors that do not load: #GP to the guest\n");
    const ExceptionHook previous = set_exception_hook(iret_hook);
    bad_iret("iret CS 0x1234 (no such descriptor)", 0x1234, xen::kFlatRing3Ss64, 0, 0x1234, 0x1234, xen::kFlatRing3Ss64);
    bad_iret("iret SS 0x1234", kKernelCs, 0x1234, 0, 0x1234, kKernelCs, 0x1237);
    bad_iret("iret CS 0 (null)", 0, xen::kFlatRing3Ss64, 0, 0, 0, xen::kFlatRing3Ss64);
    bad_iret("iret CS = the flat data selector", 0xe028, xen::kFlatRing3Ss64, 0, 0xe028, 0xe028, xen::kFlatRing3Ss64);
    bad_iret("iret SS = the flat code selector", kKernelCs, xen::kFlatRing3Cs64, 0, 0xe030, kKernelCs, xen::kFlatRing3Cs64);
    bad_iret("iret SS 0 (null)", kKernelCs, 0, 0, 0, kKernelCs, 3);
    bad_iret("iret RIP 0x800000000000 (non-canonical)", kKernelCs, xen::kFlatRing3Ss64, 0x800000000000, 0, kKernelCs,
             xen::kFlatRing3Ss64);
    set_exception_hook(previous);
}

}  // namespace

void test_main() {
    if (!setup_traps()) return;
    l4 = reinterpret_cast<u64*>(start_info->pt_base);
    l4_maddr = maddr_of(l4);
    l3 = table_of(l4[0]);
    l2 = table_of(l3[0]);
    print("L4 mfn 0x%lx, %lu table frames, nr_pages %lu, L4[256] 0x%lx\n", l4_maddr >> 12, start_info->nr_pt_frames,
          start_info->nr_pages, l4[256]);
    if (l2[2] != 0 || l3[1] != 0 || l4[kSlotChain] != 0 || l4[kSlotLinear] != 0 || l4[kSlotScratch] != 0 ||
        l4[kSlotScratch2] != 0 || l2[5] != 0)
        return error("unexpected initial layout: L2[2] 0x%lx L3[1] 0x%lx\n", l2[2], l3[1]);
    for (auto& p : pages) p[0] = 0;  // resident and zero

    pt_frames_not_writable();
    foreign_frames();
    xen_slots();
    types_and_pins();
    reserved_bits();
    linear_tables();
    fresh_chain();
    va_and_batches();
    iret_selectors();
}

}  // namespace guest
