// SPDX-License-Identifier: MIT
// Per-pCPU GDT, TSS and IDT. [SDM 3A §3.4.5, §7.2.3, §6.14.1; pv-abi.md §1.10]
#include "arch/descriptors.hpp"

extern "C" char hv_vector_stubs[];  // vectors.S

namespace hv::arch {
namespace {

struct [[gnu::packed]] Tss {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 iomap_base;
};
static_assert(sizeof(Tss) == 104);

struct IdtGate {
    u16 offset_low;
    u16 selector;
    u8 ist;
    u8 type_attributes;
    u16 offset_mid;
    u32 offset_high;
    u32 reserved;
};
static_assert(sizeof(IdtGate) == 16);

struct [[gnu::packed]] DescriptorPointer {
    u16 limit;
    u64 base;
};

struct alignas(64) CpuTables {
    Tss tss;
    alignas(16) IdtGate idt[256];
};

CpuTables cpu_tables[kMaxCpus];
// Only the last page (offset 0xe000, Xen's reserved page) of the early GDT is ever used.
alignas(4096) u64 early_gdt[(HV_GDT_LIMIT + 1) / 8];

constexpr u64 kCode64 = 0x00af9b000000ffff;       // 0xe008: ring 0, 64-bit code
constexpr u64 kData = 0x00cf93000000ffff;         // 0xe010: ring 0 data
constexpr u64 kGuestCode32 = 0x00cffb000000ffff;  // 0xe023: ring 3 compatibility code
constexpr u64 kGuestData = 0x00cff3000000ffff;    // 0xe02b: ring 3 flat data / stack
constexpr u64 kGuestCode64 = 0x00affb000000ffff;  // 0xe033: ring 3 64-bit code (guest kernel and user)
constexpr u8 kInterruptGate = 0x8e;              // present, DPL 0, 64-bit interrupt gate
constexpr u8 kUserInterruptGate = 0xee;          // DPL 3: INT3 and INTO from a guest arrive as #BP/#OF
constexpr unsigned kReservedBase = HV_SEL_CODE64 & ~0xfffu;  // 0xe000

unsigned slot(unsigned selector) { return (selector - kReservedBase) / 8; }

void set_tss_descriptor(u64* entry, const Tss& tss) {
    const u64 base = reinterpret_cast<u64>(&tss);
    const u64 limit = sizeof(Tss) - 1;
    entry[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (u64{0x89} << 40) | (((base >> 24) & 0xff) << 56);
    entry[1] = base >> 32;
}

void fill_reserved_page(u64* page, unsigned cpu, const Tss& tss) {
    for (unsigned i = 0; i < 512; ++i) page[i] = 0;
    page[slot(HV_SEL_CODE64)] = kCode64;
    page[slot(HV_SEL_DATA)] = kData;
    page[slot(HV_SEL_GUEST_CS32)] = kGuestCode32;
    page[slot(HV_SEL_GUEST_DS)] = kGuestData;
    page[slot(HV_SEL_GUEST_CS64)] = kGuestCode64;
    set_tss_descriptor(&page[slot(HV_SEL_TSS)], tss);
    page[slot(HV_SEL_CPU_MARKER)] = u64{cpu} | (u64{0x80} << 40);  // not present; limit = pCPU number
}

Ist ist_for(unsigned vector) {
    switch (vector) {
        case 1: return Ist::Debug;  // a guest can make #DB hit ring 0 on its own RSP (debug_entry)
        case 2: return Ist::Nmi;
        case 8: return Ist::DoubleFault;
        case 18: return Ist::MachineCheck;
        default: return Ist::None;
    }
}

void fill_idt(IdtGate* idt) {
    for (unsigned vector = 0; vector < 256; ++vector) {
        const u64 handler = reinterpret_cast<u64>(hv_vector_stubs) + 16 * vector;
        const u8 type = (vector == 3 || vector == 4) ? kUserInterruptGate : kInterruptGate;
        idt[vector] = IdtGate{static_cast<u16>(handler), HV_SEL_CODE64, static_cast<u8>(ist_for(vector)), type, static_cast<u16>(handler >> 16), static_cast<u32>(handler >> 32), 0};
    }
}

void load_tables(const DescriptorPointer& gdtr, const DescriptorPointer& idtr) {
    asm volatile(
        "lgdt %0\n\t"
        "lidt %1\n\t"
        "pushq %2\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "movl %3, %%eax\n\t"
        "movl %%eax, %%ss\n\t"
        "xorl %%eax, %%eax\n\t"
        "movl %%eax, %%ds\n\t"
        "movl %%eax, %%es\n\t"
        "movl %%eax, %%fs\n\t"
        "movl %%eax, %%gs\n\t"
        "ltr %w4"
        :
        : "m"(gdtr), "m"(idtr), "i"(HV_SEL_CODE64), "i"(HV_SEL_DATA), "r"(HV_SEL_TSS)
        : "rax", "memory");
}

}  // namespace

u64 early_gdt_base() { return reinterpret_cast<u64>(early_gdt); }

void load_ldt(u64* reserved_page, u64 base, u32 entries) {
    u64* entry = &reserved_page[slot(HV_SEL_LDT)];
    if (entries == 0) {
        entry[0] = entry[1] = 0;
        asm volatile("lldt %w0" ::"r"(0) : "memory");
        return;
    }
    const u64 limit = u64{entries} * 8 - 1;
    // Present, DPL 0, type 2 (LDT): a 16-byte system descriptor. [SDM 3A §3.5, §7.2.3]
    entry[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (u64{0x82} << 40) | (((limit >> 16) & 0xf) << 48) |
               (((base >> 24) & 0xff) << 56);
    entry[1] = base >> 32;
    asm volatile("lldt %w0" ::"r"(HV_SEL_LDT) : "memory");
}

void load_cpu_descriptors(unsigned cpu, const CpuStacks& stacks, u64 gdt_base, u64* reserved_page) {
    CpuTables& t = cpu_tables[cpu];
    t.tss = Tss{};
    t.tss.rsp[0] = stacks.primary_top;
    for (unsigned i = 0; i < kIstStacks; ++i) t.tss.ist[i] = stacks.ist_top[i];
    t.tss.iomap_base = sizeof(Tss);  // no I/O bitmap: every guest IN/OUT faults
    fill_reserved_page(reserved_page, cpu, t.tss);
    fill_idt(t.idt);
    load_tables(DescriptorPointer{HV_GDT_LIMIT, gdt_base}, DescriptorPointer{sizeof t.idt - 1, reinterpret_cast<u64>(t.idt)});
}

}  // namespace hv::arch
