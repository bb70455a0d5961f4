// SPDX-License-Identifier: MIT
// set_gdt and update_descriptor: a read-only page becomes the guest GDT, a flat 64-bit DPL-3
// code segment is written into it and used with a far return (as XTF's xsa-296 does), and the
// refusals Xen makes (writable frame, too many entries, system descriptors, page-table frames,
// misaligned slots). LAR/LSL on an unused selector fail as on hardware. [pv-abi.md §3.5, §3.6]
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "gdt: set_gdt, update_descriptor, far return through a guest selector, LAR/LSL";

namespace {

alignas(4096) u64 gdt_page[512];
alignas(4096) u64 spare_page[512];

constexpr u64 kFlatCode64Dpl3 = 0x00affb000000ffff;
constexpr u64 kTss64 = 0x0000890000000067;  // a 64-bit TSS descriptor: system type 9, refused
constexpr u64 kPteRo = 0x61;                // A|D|P: read-only, as XTF remaps its gdt page
constexpr u64 kPteRw = 0x63;

u64 maddr_of(const void* va) { return pfn_to_mfn(reinterpret_cast<u64>(va) >> 12) << 12; }

long remap(const void* va, u64 flags) {
    return hypercall(xen::kUpdateVaMapping, reinterpret_cast<u64>(va), maddr_of(va) | flags, xen::kUvmfInvlpg);
}

long set_gdt(const void* page, u64 entries) {
    u64 frames[1] = {maddr_of(page) >> 12};
    return hypercall(xen::kSetGdt, reinterpret_cast<u64>(frames), entries);
}

// Far-returns to `selector` and straight back to the flat kernel CS; returns the CS seen there.
u64 run_with_cs(u64 selector) {
    u64 seen = 0;
    asm volatile(
        "pushq %[sel]\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1: movq %%cs, %[seen]\n\t"
        "pushq %[flat]\n\t"
        "leaq 2f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "2:"
        : [seen] "=&r"(seen)
        : [sel] "r"(selector), [flat] "i"(u64{xen::kFlatRing3Cs64})
        : "rax", "memory");
    return seen;
}

bool lar_succeeds(u64 selector) {
    u64 rights = 0;
    bool ok = false;
    asm volatile("larq %[sel], %[rights]\n\tsetz %[ok]" : [rights] "=r"(rights), [ok] "=qm"(ok) : [sel] "r"(selector));
    return ok;
}

bool lsl_succeeds(u64 selector) {
    u64 limit = 0;
    bool ok = false;
    asm volatile("lslq %[sel], %[limit]\n\tsetz %[ok]" : [limit] "=r"(limit), [ok] "=qm"(ok) : [sel] "r"(selector));
    return ok;
}

}  // namespace

void test_main() {
    gdt_page[0] = 0;  // touch it so it is resident and zero
    expect_eq("set_gdt with a writably mapped frame", set_gdt(gdt_page, 15), -xen::kEINVAL);
    expect_eq("remap the GDT page read-only", remap(gdt_page, kPteRo), 0);
    expect_eq("set_gdt with 7169 entries", set_gdt(gdt_page, 7169), -xen::kEINVAL);
    expect_eq("set_gdt, 1 frame, 15 entries", set_gdt(gdt_page, 15), 0);
    expect_eq("the GDT page cannot be mapped writable now", remap(gdt_page, kPteRw), -xen::kEBUSY);

    const u64 slot9 = maddr_of(gdt_page) + 9 * 8;
    expect_eq("update_descriptor misaligned", hypercall(xen::kUpdateDescriptor, slot9 + 4, kFlatCode64Dpl3),
              -xen::kEINVAL);
    expect_eq("update_descriptor with a TSS descriptor", hypercall(xen::kUpdateDescriptor, slot9, kTss64),
              -xen::kEINVAL);
    expect_eq("update_descriptor into the L4", hypercall(xen::kUpdateDescriptor, pfn_to_mfn(start_info->pt_base >> 12) << 12,
                                                          kFlatCode64Dpl3),
              -xen::kEINVAL);
    expect_eq("update_descriptor entry 9", hypercall(xen::kUpdateDescriptor, slot9, kFlatCode64Dpl3), 0);
    if (gdt_page[9] != kFlatCode64Dpl3) fail("GDT entry 9 reads 0x%lx after update_descriptor\n", gdt_page[9]);
    const u64 seen = run_with_cs(0x4b);
    if (seen != 0x4b) fail("far return to 0x4b ran with CS 0x%lx\n", seen);

    // A plain data page takes descriptors too (writable type), and reads them back.
    expect_eq("update_descriptor into a data page",
              hypercall(xen::kUpdateDescriptor, maddr_of(spare_page) + 8, kFlatCode64Dpl3), 0);
    if (spare_page[1] != kFlatCode64Dpl3) fail("data page entry reads 0x%lx\n", spare_page[1]);

    if (lar_succeeds(0x5b)) fail("LAR on an empty GDT slot succeeded\n");
    if (lsl_succeeds(0x5b)) fail("LSL on an empty GDT slot succeeded\n");
    if (!lar_succeeds(0x4b)) fail("LAR on the installed code segment failed\n");

    // Dropping the GDT returns the page to no type: it can be mapped writable again.
    expect_eq("set_gdt with no frames", hypercall(xen::kSetGdt, 0, 0), 0);
    expect_eq("remap the old GDT page writable", remap(gdt_page, kPteRw), 0);
}

}  // namespace guest
