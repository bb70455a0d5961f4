// SPDX-License-Identifier: MIT
// MMUEXT_SET_LDT and the guest LDT, checked against Xen 4.17 (the oracle). [pv-abi.md §3.5, §3.8,
// §4.5, §5.1; asi-reference.md §8.5 properties 34-36]
//   1. SET_LDT argument checks (Xen checks only the base, and only when there are entries; the
//      entry count is 32 bits).
//   2. A working LDT on a read-only page: selector loads, reads through a based segment, LAR/LSL,
//      a far return to an LDT code segment; the descriptors are adjusted in memory when the page is
//      typed on first use (DPL raised to 3, a call gate's DPL forced to 0, so a far call through
//      it is #GP(gate): Xen does not emulate call gates for a 64-bit PV guest).
//   3. Type references: an LDT page in use cannot be mapped writable; SET_LDT releases every
//      lazily mapped page (sparse too); set_gdt releases the old GDT frames.
//   4. LAR/LSL on unused GDT selectors between the guest GDT and Xen's reserved page, and beyond
//      the GDT limit: ZF clear, no fault.
//   5. LDT pages that cannot be typed (a bad descriptor, a writable mapping, nothing mapped, a
//      non-canonical part): SET_LDT succeeds, the use faults exactly as on Xen. A guest read of
//      the hypervisor's LDT window is a plain #PF at that address.
//   6. SET_LDT back to no entries, or too few: the selector load is #GP(selector).
//   7. The lazy mapping from user mode looks at the kernel's page tables, as Xen does.
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "ldt: MMUEXT_SET_LDT, lazy LDT mapping, descriptor checks, type references";

namespace {

constexpr u64 kLeafRo = 0x61;  // A|D|P
constexpr u64 kLeafRw = 0x63;  // A|D|RW|P
constexpr u64 kTable = 0x67;   // A|D|US|RW|P, as the builder writes non-leaf entries
constexpr u64 kNone = ~u64{0};  // "don't check" for fault fields
constexpr u64 kVecGp = 13, kVecPf = 14;
constexpr u64 kPfUser = 4;

// Descriptors. [SDM 3A §3.4.5, §5.8.3.1]
constexpr u64 kFlatDataNotAccessed = 0x00cff2000000ffff;  // ring 3, flat, RW data, A clear
constexpr u64 kFlatData = 0x00cff3000000ffff;
constexpr u64 kFlatCode64 = 0x00affb000000ffff;
constexpr u64 kDpl0Data = 0x00cf93000000ffff;  // Xen raises the DPL to 3
constexpr u64 kTss64 = 0x0000890000000067;     // system type 9: refused
constexpr u64 kAccessRightsMask = 0x00f0ff00;  // what LAR returns in 64-bit mode [SDM 2A LAR]

// A byte-granular ring-3 RW data segment at a 32-bit `base`, limit 0xfff.
constexpr u64 based_data(u64 base) {
    return 0xfff | (base & 0xffffff) << 16 | u64{0xf3} << 40 | u64{0x4} << 52 | (base >> 24 & 0xff) << 56;
}
// The low half of a 64-bit call gate to `selector`:0 with `dpl`; the high half is 0.
constexpr u64 call_gate(u64 selector, u64 dpl) { return selector << 16 | (0x8c | dpl << 5) << 40; }

// LDT selectors: index << 3 | TI | RPL 3.
constexpr u16 ldt_sel(unsigned index) { return static_cast<u16>(index << 3 | 7); }

alignas(4096) u64 ldt_page[512];      // the working LDT (checks 2, 3)
alignas(4096) u64 ldt_other[512];     // a second LDT (check 3)
alignas(4096) u64 sparse[3][512];     // a 3-page LDT: pages 0 and 2 used, page 1 stays writable
alignas(4096) u64 bad_page[512];      // check 5
alignas(4096) u64 gdt_a[512];
alignas(4096) u64 gdt_b[512];
alignas(4096) u64 user_ldt[512];      // check 7: mapped only through the kernel's slot kSlotUserLdt
alignas(4096) u64 chain[3][512];      // L3, L2, L1 for that slot
alignas(4096) u64 user_l4[512];       // user root without that slot
u64 based_target = 0x1122334455667788;  // read through an LDT segment based here

constexpr unsigned kSlotUserLdt = 255;
constexpr u64 kUserLdtVa = u64{kSlotUserLdt} << 39;

volatile xen::SharedInfo* shared;

u64 va_of(const void* p) { return reinterpret_cast<u64>(p); }
u64 mfn_of(const void* p) { return pfn_to_mfn(va_of(p) >> 12); }
u64 maddr_of(const void* p) { return mfn_of(p) << 12; }

long remap(const void* p, u64 flags) {
    return hypercall(xen::kUpdateVaMapping, va_of(p), maddr_of(p) | flags, xen::kUvmfInvlpg);
}
long mmuext(u32 cmd, u64 arg1, u64 arg2) {
    xen::MmuextOp op{cmd, 0, arg1, arg2};
    return hypercall(xen::kMmuextOp, reinterpret_cast<u64>(&op), 1, 0, xen::kDomidSelf);
}
long set_ldt(u64 base, u64 entries) { return mmuext(xen::kMmuextSetLdt, base, entries); }
long set_gdt(const u64* mfns, u64 entries) { return hypercall(xen::kSetGdt, va_of(mfns), entries); }
long mmu_update(u64 ptr, u64 val) {
    xen::MmuUpdate update{ptr, val};
    return hypercall(xen::kMmuUpdate, reinterpret_cast<u64>(&update), 1, 0, xen::kDomidSelf);
}

void check(const char* what, long got, long expected) {
    if (got == expected) return print("  ok   %-62s %ld\n", what, got);
    fail("%s: got %ld, expected %ld\n", what, got, expected);
}
void check_hex(const char* what, u64 got, u64 expected) {
    if (got == expected) return print("  ok   %-62s 0x%lx\n", what, got);
    fail("%s: got 0x%lx, expected 0x%lx\n", what, got, expected);
}

void arm_fault_record() {
    clear_last_exception();
    if (shared != nullptr) shared->vcpu_info[0].cr2 = 0;
}

// The fault recorded since arm_fault_record(): none, or vector/error code/cr2 as expected.
void check_no_fault(const char* what) {
    if (!last_exception.seen) return print("  ok   %-62s no fault\n", what);
    const ExceptionFrame& f = last_exception.frame;
    fail("%s: unexpected %s error code 0x%lx\n", what, vector_name(f.vector), f.error_code);
}
void check_fault(const char* what, u64 vector, u64 error_code, u64 cr2 = kNone) {
    if (!last_exception.seen) return fail("%s: no fault, expected %s\n", what, vector_name(vector));
    const ExceptionFrame& f = last_exception.frame;
    const u64 seen_cr2 = shared != nullptr ? shared->vcpu_info[0].cr2 : 0;
    const bool ok = f.vector == vector && f.error_code == error_code && (cr2 == kNone || seen_cr2 == cr2);
    if (ok && cr2 == kNone) return print("  ok   %-62s %s(0x%lx)\n", what, vector_name(vector), error_code);
    if (ok) return print("  ok   %-62s %s(0x%lx) cr2 0x%lx\n", what, vector_name(vector), error_code, cr2);
    fail("%s: %s(0x%lx) cr2 0x%lx, expected %s(0x%lx) cr2 0x%lx\n", what, vector_name(f.vector), f.error_code,
         seen_cr2, vector_name(vector), error_code, cr2);
}

// Loads `selector` into %fs and reads 8 bytes at %fs:offset, then loads the null selector.
// A fault on the load skips the read (the fault is in last_exception).
u64 load_fs_and_read(u16 selector, u64 offset) {
    arm_fault_record();
    u64 value = 0;
    asm volatile("1: movw %w[sel], %%fs\n\tmovq %%fs:(%[off]), %[v]\n2:\n\tmovw %w[null], %%fs\n" GUEST_EXTABLE(1b, 2b)
                 : [v] "+r"(value)
                 : [sel] "r"(selector), [off] "r"(offset), [null] "r"(0)
                 : "memory");
    return value;
}
// Loads `selector` into %es and returns what %es reads back, then loads the null selector.
u64 load_es(u16 selector) {
    arm_fault_record();
    u64 seen = 0;
    asm volatile("1: movw %w[sel], %%es\n\tmovq %%es, %[seen]\n2:\n\tmovw %w[null], %%es\n" GUEST_EXTABLE(1b, 2b)
                 : [seen] "+r"(seen)
                 : [sel] "r"(selector), [null] "r"(0)
                 : "memory");
    return seen;
}

struct Query {
    bool zf;
    u64 value;
};
// LAR or LSL on `selector`; a fault is left in last_exception (zf false then).
Query lar(u16 selector) {
    arm_fault_record();
    Query q{false, 0};
    asm volatile("1: larq %q[sel], %[v]\n\tsetz %[zf]\n2:\n" GUEST_EXTABLE(1b, 2b)
                 : [v] "+r"(q.value), [zf] "+q"(q.zf)
                 : [sel] "r"(u64{selector})
                 : "cc", "memory");
    return q;
}
Query lsl(u16 selector) {
    arm_fault_record();
    Query q{false, 0};
    asm volatile("1: lslq %q[sel], %[v]\n\tsetz %[zf]\n2:\n" GUEST_EXTABLE(1b, 2b)
                 : [v] "+r"(q.value), [zf] "+q"(q.zf)
                 : [sel] "r"(u64{selector})
                 : "cc", "memory");
    return q;
}
// LAR and LSL both give ZF = 0 without a fault.
void check_lar_lsl_refused(const char* what, u16 selector) {
    const Query a = lar(selector);
    const bool lar_faulted = last_exception.seen;
    const Query l = lsl(selector);
    const bool lsl_faulted = last_exception.seen;
    if (!a.zf && !l.zf && !lar_faulted && !lsl_faulted) return print("  ok   %-54s 0x%04x ZF=0\n", what, selector);
    fail("%s 0x%04x: LAR ZF=%d%s, LSL ZF=%d%s\n", what, selector, a.zf, lar_faulted ? " (fault)" : "", l.zf,
         lsl_faulted ? " (fault)" : "");
}
void check_lar_lsl(const char* what, u16 selector, u64 rights, u64 limit) {
    const Query a = lar(selector);
    if (!a.zf || last_exception.seen) return fail("%s: LAR 0x%04x failed\n", what, selector);
    const Query l = lsl(selector);
    if (!l.zf || last_exception.seen) return fail("%s: LSL 0x%04x failed\n", what, selector);
    if ((a.value & kAccessRightsMask) == rights && l.value == limit)
        return print("  ok   %-44s 0x%04x rights 0x%lx limit 0x%lx\n", what, selector, rights, limit);
    fail("%s 0x%04x: rights 0x%lx limit 0x%lx, expected 0x%lx 0x%lx\n", what, selector, a.value & kAccessRightsMask,
         l.value, rights, limit);
}

// Far-returns to `selector` and straight back to the flat kernel CS; returns the CS seen there.
u64 run_with_cs(u64 selector) {
    u64 seen = 0;
    asm volatile(
        "pushq %[sel]\n\tleaq 1f(%%rip), %%rax\n\tpushq %%rax\n\tlretq\n"
        "1: movq %%cs, %[seen]\n\tpushq %[flat]\n\tleaq 2f(%%rip), %%rax\n\tpushq %%rax\n\tlretq\n2:"
        : [seen] "=&r"(seen)
        : [sel] "r"(selector), [flat] "i"(u64{xen::kFlatRing3Cs64})
        : "rax", "memory");
    return seen;
}

// A far call to `selector`:0 (m16:32); a fault is left in last_exception.
void far_call_faults(u16 selector) {
    struct [[gnu::packed]] {
        u32 offset;
        u16 selector;
    } target{0, selector};
    arm_fault_record();
    asm volatile("1: lcall *(%[p])\n2:\n" GUEST_EXTABLE(1b, 2b) : : [p] "r"(&target) : "memory");
}

// ---- 1. Argument checks ----
void argument_checks() {
    print("1. SET_LDT argument checks\n");
    const u64 base = va_of(ldt_page);
    check("SET_LDT base misaligned by 8", set_ldt(base + 8, 1), -xen::kEINVAL);
    check("SET_LDT 8193 entries", set_ldt(base, 8193), -xen::kEINVAL);
    check("SET_LDT base 0xffff800000000000 (hypervisor)", set_ldt(xen::kHypervisorVirtStart, 1), -xen::kEINVAL);
    check("SET_LDT base 0xffff87fffffff000 (hypervisor)", set_ldt(xen::kHypervisorVirtEnd - 4096, 1), -xen::kEINVAL);
    check("SET_LDT base 0x0000800000000000 (non-canonical)", set_ldt(u64{1} << 47, 1), -xen::kEINVAL);
    check("SET_LDT base 0x8000000000000000 (non-canonical)", set_ldt(u64{1} << 63, 1), -xen::kEINVAL);
    check("SET_LDT(0, 0)", set_ldt(0, 0), 0);
    // Xen looks at the base only when there are entries, and at nothing past the base.
    check("SET_LDT misaligned base with 0 entries", set_ldt(base + 8, 0), 0);
    check("SET_LDT non-canonical base with 0 entries", set_ldt(u64{1} << 47, 0), 0);
    check("SET_LDT 8192 entries", set_ldt(base, 8192), 0);
    check("SET_LDT 0x7ffffffff000, 8192 entries (ends non-canonical)", set_ldt((u64{1} << 47) - 4096, 8192), 0);
    check("SET_LDT base 0xffff880000000000 (guest upper half)", set_ldt(xen::kHypervisorVirtEnd, 2), 0);
    // nr_ents is a 32-bit field of the op: the upper half of arg2 is not part of it.
    check("SET_LDT nr_ents 1 with bits 32-63 of arg2 set", set_ldt(base, (u64{1} << 32) | 1), 0);
    check("SET_LDT(0, 0)", set_ldt(0, 0), 0);
}

// ---- 2. A working LDT ----
void working_ldt() {
    print("2. a working LDT on a read-only page\n");
    ldt_page[1] = kFlatDataNotAccessed;
    ldt_page[2] = based_data(va_of(&based_target));
    ldt_page[3] = kFlatCode64;
    ldt_page[4] = kDpl0Data;
    ldt_page[6] = call_gate(xen::kFlatRing3Cs64, 3);  // entries 6-7: a valid 64-bit call gate
    ldt_page[7] = 0;
    check("remap the LDT page read-only", remap(ldt_page, kLeafRo), 0);
    check("SET_LDT(ldt_page, 8)", set_ldt(va_of(ldt_page), 8), 0);

    const u64 es = load_es(ldt_sel(1));
    check_no_fault("load 0x000f into %es");
    check_hex("%es reads back", es, ldt_sel(1));
    const u64 flat = load_fs_and_read(ldt_sel(1), va_of(&based_target));
    check_no_fault("load 0x000f into %fs, read through it");
    check_hex("read through %fs:0x000f", flat, based_target);
    const u64 based = load_fs_and_read(ldt_sel(2), 0);
    check_no_fault("load 0x0017 (based segment) into %fs, read %fs:0");
    check_hex("read through %fs:0x0017 at offset 0", based, based_target);
    check_hex("the CPU set the accessed bit of entry 1", ldt_page[1], kFlatData);

    check_lar_lsl("LAR/LSL on the flat data segment", ldt_sel(1), 0x00c0f300, 0xffffffff);
    check_lar_lsl("LAR/LSL on the based data segment", ldt_sel(2), 0x0040f300, 0xfff);
    check_lar_lsl("LAR/LSL on the code segment", ldt_sel(3), 0x00a0fb00, 0xffffffff);
    check_lar_lsl_refused("LAR/LSL on an LDT selector beyond 8 entries", ldt_sel(8));
    check_lar_lsl_refused("LAR/LSL on the last LDT slot of the page", ldt_sel(511));
    check_lar_lsl_refused("LAR/LSL on an empty slot (entry 5)", ldt_sel(5));
    check_hex("far return to LDT code 0x001f runs with CS", run_with_cs(ldt_sel(3)), ldt_sel(3));

    // Typing the page adjusted its descriptors in place, as Xen's descriptor check does.
    check_hex("DPL-0 data entry 4 now reads DPL 3", ldt_page[4], kFlatData);
    check_hex("call gate entry 6: DPL 0, target RPL = old DPL 3", ldt_page[6], call_gate(xen::kFlatRing3Cs64, 0));
    load_fs_and_read(ldt_sel(4), 0);
    check_no_fault("load the adjusted entry 4 into %fs");
    check_lar_lsl_refused("LAR/LSL on the call gate (DPL 0 now)", ldt_sel(6));
    far_call_faults(ldt_sel(6));
    check_fault("far call through the call gate (not emulated for 64-bit PV)", kVecGp, 0x0034);
}

// ---- 3. Type references come back ----
void references() {
    print("3. type references of LDT and GDT frames\n");
    check("LDT page in use: remap writable", remap(ldt_page, kLeafRw), -xen::kEBUSY);
    check("SET_LDT with the same base and size again", set_ldt(va_of(ldt_page), 8), 0);
    check("same LDT again: remap writable", remap(ldt_page, kLeafRw), -xen::kEBUSY);
    ldt_other[1] = kFlatData;
    check("remap a second LDT page read-only", remap(ldt_other, kLeafRo), 0);
    check("SET_LDT(ldt_other, 2)", set_ldt(va_of(ldt_other), 2), 0);
    check("old LDT page after SET_LDT elsewhere: remap writable", remap(ldt_page, kLeafRw), 0);
    load_es(ldt_sel(1));
    check_no_fault("load 0x000f from the second LDT");
    check("second LDT page in use: remap writable", remap(ldt_other, kLeafRw), -xen::kEBUSY);
    check("SET_LDT(0, 0)", set_ldt(0, 0), 0);
    check("second LDT page after SET_LDT(0, 0): remap writable", remap(ldt_other, kLeafRw), 0);

    // Sparse: a 3-page LDT whose pages 0 and 2 are used; page 1 stays writable and unusable.
    sparse[0][1] = kFlatData;
    sparse[1][1] = kFlatData;
    sparse[2][1] = kFlatData;
    check("remap sparse page 0 read-only", remap(sparse[0], kLeafRo), 0);
    check("remap sparse page 2 read-only", remap(sparse[2], kLeafRo), 0);
    check("SET_LDT(sparse, 1536)", set_ldt(va_of(sparse), 1536), 0);
    load_es(ldt_sel(1));
    check_no_fault("load a selector of page 0 (0x000f)");
    load_es(ldt_sel(1024 + 1));
    check_no_fault("load a selector of page 2 (0x200f)");
    load_es(ldt_sel(512 + 1));
    check_fault("load a selector of the writable page 1 (0x100f)", kVecPf, 0, va_of(sparse[1]) + 8);
    check("sparse page 0 in use: remap writable", remap(sparse[0], kLeafRw), -xen::kEBUSY);
    check("sparse page 2 in use: remap writable", remap(sparse[2], kLeafRw), -xen::kEBUSY);
    check("SET_LDT(0, 0)", set_ldt(0, 0), 0);
    check("sparse page 0 after SET_LDT(0, 0): remap writable", remap(sparse[0], kLeafRw), 0);
    check("sparse page 2 after SET_LDT(0, 0): remap writable", remap(sparse[2], kLeafRw), 0);

    // GDT frames (property 34): a new set_gdt drops the old frames' references.
    const u64 frames_a[1] = {mfn_of(gdt_a)};
    const u64 frames_b[1] = {mfn_of(gdt_b)};
    const u64 frames_ab[2] = {mfn_of(gdt_a), mfn_of(gdt_b)};
    check("remap GDT frame A read-only", remap(gdt_a, kLeafRo), 0);
    check("remap GDT frame B read-only", remap(gdt_b, kLeafRo), 0);
    check("set_gdt([A], 512)", set_gdt(frames_a, 512), 0);
    check("GDT frame A in use: remap writable", remap(gdt_a, kLeafRw), -xen::kEBUSY);
    check("set_gdt([B], 512)", set_gdt(frames_b, 512), 0);
    check("old GDT frame A: remap writable", remap(gdt_a, kLeafRw), 0);
    check("GDT frame B in use: remap writable", remap(gdt_b, kLeafRw), -xen::kEBUSY);
    check("remap GDT frame A read-only", remap(gdt_a, kLeafRo), 0);
    check("set_gdt([A, B], 1024)", set_gdt(frames_ab, 1024), 0);
    check("set_gdt([B], 512)", set_gdt(frames_b, 512), 0);
    check("frame A after set_gdt([B]): remap writable", remap(gdt_a, kLeafRw), 0);
    check("GDT frame B still in use", remap(gdt_b, kLeafRw), -xen::kEBUSY);
    check("set_gdt(none)", set_gdt(nullptr, 0), 0);
    check("frame B after set_gdt(none): remap writable", remap(gdt_b, kLeafRw), 0);
}

// ---- 4. Unused GDT selectors ----
void unused_gdt_selectors() {
    print("4. LAR/LSL on unused GDT selectors (1-frame guest GDT)\n");
    const u64 frames_a[1] = {mfn_of(gdt_a)};
    for (u64& d : gdt_a) d = 0;
    gdt_a[1] = kFlatData;
    check("remap GDT frame A read-only", remap(gdt_a, kLeafRo), 0);
    check("set_gdt([A], 512)", set_gdt(frames_a, 512), 0);
    check_lar_lsl("LAR/LSL on guest GDT entry 1", 0x000b, 0x00c0f300, 0xffffffff);
    check_lar_lsl_refused("empty entry in the guest frame", 0x0ffb);
    static constexpr u16 kUnused[] = {0x1000, 0x1003, 0x1ffb, 0x2003, 0x7ffb, 0xd003, 0xdffb};
    for (u16 selector : kUnused) check_lar_lsl_refused("between the guest GDT and 0xe000", selector);
    static constexpr u16 kBeyond[] = {0xf003, 0xf80b, 0xfffb};
    for (u16 selector : kBeyond) check_lar_lsl_refused("beyond the GDT limit", selector);
    check_lar_lsl_refused("Xen's ring-0 code 0xe008 (DPL 0)", 0xe008);
    check_lar_lsl("LAR/LSL on FLAT_RING3_DS 0xe02b", 0xe02b, 0x00c0f300, 0xffffffff);
    check_lar_lsl("LAR/LSL on FLAT_RING3_CS64 0xe033", 0xe033, 0x00a0fb00, 0xffffffff);
    load_es(0x1003);
    check_fault("load %es with the unused GDT selector 0x1003", kVecGp, 0x1000);
    check("set_gdt(none)", set_gdt(nullptr, 0), 0);
    check_lar_lsl_refused("no guest GDT at all", 0x000b);
    check("frame A after set_gdt(none): remap writable", remap(gdt_a, kLeafRw), 0);
}

// ---- 5. Pages that cannot become LDT pages ----
u16 user_selector;
long user_load_es() {
    long faulted = 1;
    asm volatile("1: movw %w[sel], %%es\n\txorl %k[f], %k[f]\n2:\n\tmovw %w[null], %%es\n" GUEST_EXTABLE(1b, 2b)
                 : [f] "+r"(faulted)
                 : [sel] "r"(user_selector), [null] "r"(0)
                 : "memory");
    return faulted;
}

// With `bad_page[slot] = descriptor`, using a good selector of the page faults: #PF at the LDT's
// linear address. Afterwards the page is clean, read-only and the LDT is none.
void bad_descriptor(const char* what, unsigned slot, u64 descriptor, u64 high) {
    for (u64& d : bad_page) d = 0;
    bad_page[1] = kFlatData;
    bad_page[slot] = descriptor;
    bad_page[slot + 1] = high;
    print("  %s in entry %u\n", what, slot);
    check("  remap the page read-only", remap(bad_page, kLeafRo), 0);
    check("  SET_LDT(bad_page, 512)", set_ldt(va_of(bad_page), 512), 0);
    load_es(ldt_sel(1));
    check_fault("  kernel: load 0x000f", kVecPf, 0, va_of(bad_page) + 8);
    lar(ldt_sel(1));
    check_fault("  kernel: LAR 0x000f", kVecPf, 0, va_of(bad_page) + 8);
    arm_fault_record();
    user_selector = ldt_sel(1);
    check("  user: load 0x000f faults", exec_user(user_load_es), 1);
    check_fault("  user: load 0x000f", kVecPf, kPfUser, va_of(bad_page) + 8);
    check("  the page took no type: remap writable", remap(bad_page, kLeafRw), 0);
    check("  SET_LDT(0, 0)", set_ldt(0, 0), 0);
}

// The hypervisor shows the LDT to the CPU 64 KiB above the GDT base SGDT reports (Xen's per-vCPU
// GDT/LDT area; Isola's per-pCPU window). Reads 8 bytes there; a fault is in last_exception.
u64 ldt_window() {
    struct [[gnu::packed]] {
        u16 limit;
        u64 base;
    } gdtr{};
    asm volatile("sgdt %0" : "=m"(gdtr));
    return gdtr.base + 0x10000;
}
void read_faults(u64 va) {
    arm_fault_record();
    u64 value = 0;
    asm volatile("1: movq (%[va]), %[v]\n2:\n" GUEST_EXTABLE(1b, 2b) : [v] "+r"(value) : [va] "r"(va) : "memory");
}

// A guest instruction reading the LDT window is no descriptor access (the CPU reports it as a
// user access): an ordinary #PF at the address read, and the LDT page takes no type from it.
void window_reads() {
    const u64 window = ldt_window();
    for (u64& d : bad_page) d = 0;
    bad_page[1] = kFlatData;
    check("remap the page read-only", remap(bad_page, kLeafRo), 0);
    check("SET_LDT(bad_page, 2)", set_ldt(va_of(bad_page), 2), 0);
    read_faults(window + 8);
    check_fault("read the LDT window + 8 (LDT not used yet)", kVecPf, 0, window + 8);
    check("the read took no type: remap writable", remap(bad_page, kLeafRw), 0);
    check("remap the page read-only", remap(bad_page, kLeafRo), 0);
    load_es(ldt_sel(1));
    check_no_fault("load 0x000f");
    read_faults(window + 8);
    check_fault("read the LDT window + 8 (page mapped there now)", kVecPf, 1, window + 8);
    check("SET_LDT(0, 0)", set_ldt(0, 0), 0);
    check("remap the page writable", remap(bad_page, kLeafRw), 0);
}

void unusable_pages() {
    print("5. LDT pages that cannot be used\n");
    bad_descriptor("call gate to Xen's ring-0 code 0xe008", 2, call_gate(0xe008, 3), 0);
    bad_descriptor("64-bit TSS descriptor", 4, kTss64, 0);
    bad_descriptor("LDT descriptor", 4, 0x0000820000000fff, 0);

    // The same page, clean, works once it is no longer mapped writable.
    for (u64& d : bad_page) d = 0;
    bad_page[1] = kFlatData;
    check("SET_LDT(bad_page, 2) while it is mapped writable", set_ldt(va_of(bad_page), 2), 0);
    load_es(ldt_sel(1));
    check_fault("load 0x000f from a writable page", kVecPf, 0, va_of(bad_page) + 8);
    check("remap the page read-only", remap(bad_page, kLeafRo), 0);
    load_es(ldt_sel(1));
    check_no_fault("load 0x000f, page now read-only");
    check("SET_LDT(0, 0)", set_ldt(0, 0), 0);
    check("remap the page writable", remap(bad_page, kLeafRw), 0);

    window_reads();

    // Nothing mapped at the LDT address.
    constexpr u64 kUpper = xen::kHypervisorVirtEnd;
    check("SET_LDT(0xffff880000000000, 2), nothing mapped", set_ldt(kUpper, 2), 0);
    load_es(ldt_sel(1));
    check_fault("load 0x000f", kVecPf, 0, kUpper + 8);
    // An LDT whose second page would be non-canonical: that part is #GP(selector), not #PF.
    constexpr u64 kTop = (u64{1} << 47) - 4096;
    check("SET_LDT(0x7ffffffff000, 8192)", set_ldt(kTop, 8192), 0);
    load_es(ldt_sel(1));
    check_fault("load 0x000f (canonical, unmapped)", kVecPf, 0, kTop + 8);
    load_es(ldt_sel(512 + 1));
    check_fault("load 0x100f (non-canonical)", kVecGp, 0x100c);
    check("SET_LDT(0, 0)", set_ldt(0, 0), 0);
}

// ---- 6. No LDT, or too small ----
void no_ldt() {
    print("6. SET_LDT back to no entries\n");
    check("remap the LDT page read-only", remap(ldt_page, kLeafRo), 0);
    check("SET_LDT(ldt_page, 8)", set_ldt(va_of(ldt_page), 8), 0);
    load_es(ldt_sel(1));
    check_no_fault("load 0x000f");
    check("SET_LDT(0, 0)", set_ldt(0, 0), 0);
    load_es(ldt_sel(1));
    check_fault("load %es with 0x000f, no LDT", kVecGp, 0x000c);
    load_fs_and_read(ldt_sel(1), 0);
    check_fault("load %fs with 0x000f, no LDT", kVecGp, 0x000c);
    check_lar_lsl_refused("LAR/LSL with no LDT", ldt_sel(1));
    check("SET_LDT(ldt_page, 1)", set_ldt(va_of(ldt_page), 1), 0);
    load_es(ldt_sel(1));
    check_fault("load 0x000f, LDT of 1 entry", kVecGp, 0x000c);
    check_lar_lsl_refused("LAR/LSL, LDT of 1 entry", ldt_sel(1));
    check("SET_LDT(0, 0)", set_ldt(0, 0), 0);
    check("remap the LDT page writable", remap(ldt_page, kLeafRw), 0);
}

// ---- 7. User mode: the kernel's page tables map the LDT ----
long noop() { return 0; }

void user_mode_mapping() {
    print("7. lazy mapping from user mode uses the kernel page tables\n");
    u64* l4 = reinterpret_cast<u64*>(start_info->pt_base);
    const u64 l4_mfn = mfn_of(l4);
    if (l4[kSlotUserLdt] != 0) return error("L4 slot %u is in use\n", kSlotUserLdt);
    if (exec_user(noop) != 0) return;  // the runtime's user root: the kernel L4
    for (unsigned slot = 0; slot < 512; ++slot) user_l4[slot] = (slot >= 256 && slot < 272) ? 0 : l4[slot];
    user_ldt[1] = kFlatData;
    chain[2][0] = maddr_of(user_ldt) | kLeafRo;
    chain[1][0] = maddr_of(chain[2]) | kTable;
    chain[0][0] = maddr_of(chain[1]) | kTable;
    const u64* const frames[] = {user_ldt, chain[0], chain[1], chain[2], user_l4};
    for (const u64* frame : frames) check("remap user_ldt / chain / user_l4 read-only", remap(frame, kLeafRo), 0);
    check("hook the chain into kernel L4[255]", mmu_update((l4_mfn << 12) + kSlotUserLdt * 8, maddr_of(chain[0]) | kTable), 0);
    check("NEW_USER_BASEPTR: an L4 without slot 255", mmuext(xen::kMmuextNewUserBaseptr, mfn_of(user_l4), 0), 0);
    check("SET_LDT(L4[255] base 0x7f8000000000, 2)", set_ldt(kUserLdtVa, 2), 0);
    arm_fault_record();
    user_selector = ldt_sel(1);
    check("user: load 0x000f (first use of the LDT page)", exec_user(user_load_es), 0);
    check_no_fault("user: load 0x000f");
    check("user_ldt in use: remap writable", remap(user_ldt, kLeafRw), -xen::kEBUSY);
    check("NEW_USER_BASEPTR: the kernel L4 again", mmuext(xen::kMmuextNewUserBaseptr, l4_mfn, 0), 0);
    check("SET_LDT(0, 0)", set_ldt(0, 0), 0);
    check("unhook kernel L4[255]", mmu_update((l4_mfn << 12) + kSlotUserLdt * 8, 0), 0);
    for (const u64* frame : frames) check("remap user_ldt / chain / user_l4 writable", remap(frame, kLeafRw), 0);
}

}  // namespace

void test_main() {
    if (!setup_traps()) return;
    shared = map_shared_info();
    if (shared == nullptr) return;
    u64* const pages[] = {ldt_page, ldt_other, sparse[0], sparse[1], sparse[2], bad_page, gdt_a,
                          gdt_b,    user_ldt,  chain[0],  chain[1],  chain[2],  user_l4};
    for (u64* p : pages)
        for (unsigned i = 0; i < 512; ++i) p[i] = 0;  // resident and zero
    argument_checks();
    working_ldt();
    references();
    unused_gdt_selectors();
    unusable_pages();
    no_ldt();
    user_mode_mapping();
}

}  // namespace guest
