// SPDX-License-Identifier: MIT
// Per-pCPU GDT, TSS and IDT. [SDM 3A §3.4.5, §7.2.3, §6.14.1]
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

struct alignas(64) CpuDescriptors {
    u64 gdt[5];  // null, code64, data, TSS (two slots)
    Tss tss;
    alignas(16) IdtGate idt[256];
};

CpuDescriptors cpu_descriptors[kMaxCpus];

constexpr u64 kCode64 = 0x00af9a000000ffff;  // present, DPL 0, long mode code
constexpr u64 kData = 0x00cf92000000ffff;    // present, DPL 0, writable data
constexpr u8 kInterruptGate = 0x8e;         // present, DPL 0, 64-bit interrupt gate

void set_tss_descriptor(u64* slot, const Tss& tss) {
    const u64 base = reinterpret_cast<u64>(&tss);
    const u64 limit = sizeof(Tss) - 1;
    slot[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (u64{0x89} << 40) | (((base >> 24) & 0xff) << 56);
    slot[1] = base >> 32;
}

Ist ist_for(unsigned vector) {
    switch (vector) {
        case 2: return Ist::Nmi;
        case 8: return Ist::DoubleFault;
        case 18: return Ist::MachineCheck;
        default: return Ist::None;
    }
}

void fill_idt(IdtGate* idt) {
    for (unsigned vector = 0; vector < 256; ++vector) {
        const u64 handler = reinterpret_cast<u64>(hv_vector_stubs) + 16 * vector;
        idt[vector] = IdtGate{static_cast<u16>(handler), HV_SEL_CODE64, static_cast<u8>(ist_for(vector)),
                              kInterruptGate, static_cast<u16>(handler >> 16), static_cast<u32>(handler >> 32), 0};
    }
}

}  // namespace

void load_cpu_descriptors(unsigned cpu, const CpuStacks& stacks) {
    CpuDescriptors& d = cpu_descriptors[cpu];
    d.gdt[0] = 0;
    d.gdt[HV_SEL_CODE64 / 8] = kCode64;
    d.gdt[HV_SEL_DATA / 8] = kData;
    d.tss = Tss{};
    d.tss.rsp[0] = stacks.primary_top;
    for (unsigned i = 0; i < 3; ++i) d.tss.ist[i] = stacks.ist_top[i];
    d.tss.iomap_base = sizeof(Tss);  // no I/O bitmap
    set_tss_descriptor(&d.gdt[HV_SEL_TSS / 8], d.tss);
    fill_idt(d.idt);

    const DescriptorPointer gdtr{sizeof d.gdt - 1, reinterpret_cast<u64>(d.gdt)};
    const DescriptorPointer idtr{sizeof d.idt - 1, reinterpret_cast<u64>(d.idt)};
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
        "ltr %w4"
        :
        : "m"(gdtr), "m"(idtr), "i"(HV_SEL_CODE64), "i"(HV_SEL_DATA), "r"(HV_SEL_TSS)
        : "rax", "memory");
}

}  // namespace hv::arch
