// SPDX-License-Identifier: MIT
// Privileged x86-64 instructions as inline functions (image only; never included by host tests).
#pragma once

#include "arch/event_count.hpp"
#include "hv/core/types.hpp"

namespace hv::arch {

inline void outb(u16 port, u8 value) { asm volatile("outb %0, %1" ::"a"(value), "Nd"(port)); }
inline void outl(u16 port, u32 value) { asm volatile("outl %0, %1" ::"a"(value), "Nd"(port)); }
inline u8 inb(u16 port) {
    u8 value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

inline u64 rdmsr(u32 msr) {
    u32 low, high;
    asm volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(msr));
    return (u64{high} << 32) | low;
}
inline void wrmsr(u32 msr, u64 value) {
    asm volatile("wrmsr" ::"c"(msr), "a"(static_cast<u32>(value)), "d"(static_cast<u32>(value >> 32)));
}

#define HV_READ_CR(n)                                  \
    inline u64 read_cr##n() {                          \
        u64 value;                                     \
        asm volatile("mov %%cr" #n ", %0" : "=r"(value)); \
        return value;                                  \
    }
HV_READ_CR(0)
HV_READ_CR(2)
HV_READ_CR(3)
HV_READ_CR(4)
#undef HV_READ_CR

inline void write_cr3(u64 value) {
    asm volatile("mov %0, %%cr3" ::"r"(value) : "memory");
    count_event_inline(Event::Cr3Load);
}
inline void write_cr4(u64 value) { asm volatile("mov %0, %%cr4" ::"r"(value) : "memory"); }

struct CpuidResult {
    u32 eax, ebx, ecx, edx;
};
inline CpuidResult cpuid(u32 leaf, u32 subleaf = 0) {
    CpuidResult r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

inline u64 rdtsc() {
    u32 low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (u64{high} << 32) | low;
}

inline void halt_forever() {
    for (;;) asm volatile("cli; hlt");
}
inline void pause() { asm volatile("pause"); }
// Flushes every TLB entry of this pCPU, global ones included, by toggling CR4.PGE.
// [SDM 3A §4.10.4.1]
inline void flush_tlb_all() {
    const u64 cr4 = read_cr4();
    write_cr4(cr4 & ~(u64{1} << 7));
    write_cr4(cr4);
    count_event_inline(Event::TlbFlush);
}
inline void invlpg(u64 va) {
    asm volatile("invlpg (%0)" ::"r"(va) : "memory");
    count_event_inline(Event::Invlpg);
}

inline constexpr u32 kMsrEfer = 0xC0000080;
inline constexpr u32 kMsrApicBase = 0x1B;

}  // namespace hv::arch

// The link-time address of a symbol that lives outside RIP-relative reach of the image (the
// low-linked .boot section, linker-script constants). A movabs relocation works at any distance.
#define HV_ABSOLUTE_ADDRESS(symbol)                          \
    ({                                                       \
        ::hv::u64 hv_absolute_value_;                        \
        asm("movabsq $" #symbol ", %0" : "=r"(hv_absolute_value_)); \
        hv_absolute_value_;                                  \
    })
