// SPDX-License-Identifier: MIT
// Local APIC access. Every pCPU sees its own LAPIC at the same machine address, so one global
// uncached mapping serves all of them.
#include "arch/lapic.hpp"

#include "arch/cpu.hpp"
#include "arch/event_count.hpp"
#include "arch/memory.hpp"

namespace hv::arch {
namespace {

constexpr u32 kEoi = 0xb0, kSpuriousVector = 0xf0, kIcrLow = 0x300, kIcrHigh = 0x310;
constexpr u32 kSoftwareEnable = 1u << 8, kIcrPending = 1u << 12, kFixedAssert = 0x00004000;
constexpr u32 kLvtTimer = 0x320, kTimerInitial = 0x380, kTimerCurrent = 0x390, kTimerDivide = 0x3e0;
constexpr u32 kLvtMasked = 1u << 16, kLvtPeriodic = 1u << 17, kDivideBy16 = 0x3;
u64 lapic_va;

void write(u32 offset, u32 value) { *reinterpret_cast<volatile u32*>(lapic_va + offset) = value; }
u32 read(u32 offset) { return *reinterpret_cast<volatile u32*>(lapic_va + offset); }

}  // namespace

void lapic_map(Maddr lapic_maddr) {
    if (lapic_va == 0) lapic_va = map_mmio(lapic_maddr, kPageSize);
}

void lapic_enable() { write(kSpuriousVector, kSoftwareEnable | kVectorSpurious); }

void lapic_eoi() { write(kEoi, 0); }

void lapic_send_ipi(u8 apic_id, u32 command) {
    write(kIcrHigh, u32{apic_id} << 24);
    write(kIcrLow, command);
    for (u64 spin = 0; spin < 1'000'000 && (read(kIcrLow) & kIcrPending) != 0; ++spin) pause();
    count_event_inline(Event::Ipi);
}

void lapic_send_fixed_ipi(u8 apic_id, u8 vector) { lapic_send_ipi(apic_id, kFixedAssert | vector); }

void lapic_timer_oneshot_max() {
    write(kTimerDivide, kDivideBy16);
    write(kLvtTimer, kLvtMasked);
    write(kTimerInitial, 0xffffffff);
}

u32 lapic_timer_current() { return read(kTimerCurrent); }

bool lapic_interrupt_pending() {
    // IRR: 8 registers of 32 vectors, 16 bytes apart; the first holds the exceptions (never set).
    constexpr u32 kIrr = 0x200, kIrrStride = 0x10;
    for (u32 word = 1; word < 8; ++word)
        if (read(kIrr + word * kIrrStride) != 0) return true;
    return false;
}

void lapic_timer_periodic(u8 vector, u32 count) {
    write(kTimerDivide, kDivideBy16);
    write(kLvtTimer, kLvtPeriodic | vector);
    write(kTimerInitial, count == 0 ? 1 : count);
}

}  // namespace hv::arch
