// SPDX-License-Identifier: MIT
// Per-pCPU event counter storage and the inline counting the hot paths use (cpu.hpp's
// write_cr3, flush_tlb_all and invlpg); hv::count_event is the out-of-line form for generic code.
//
// The slot is found from RSP: every pCPU runs on its own 2 MiB stack window in cpu_stacks
// (primary and IST stacks alike), so the window index is the pCPU index, without CPUID or an
// APIC read. Code on any other stack (the boot stack, before the pCPU stacks exist) counts in a
// shared extra slot. The adds are atomic all the same, so a slot that is ever shared stays exact.
// Cost: about nine instructions per event, which -icount includes in every measurement.
#pragma once

#include "arch/descriptors.hpp"
#include "arch/va_layout.hpp"
#include "hv/core/counters.hpp"

namespace hv::arch {

struct alignas(64) EventSlot {  // one cache line per pCPU
    u64 count[kEventCount];
};
static_assert(sizeof(EventSlot) == 64);
static_assert(kCpuStackWindow == u64{1} << 21, "event_slot_index shifts by the window size");

inline constexpr unsigned kSharedEventSlot = kMaxCpus;
extern EventSlot event_slots[kMaxCpus + 1];

inline unsigned event_slot_index() {
    u64 rsp;
    asm("movq %%rsp, %0" : "=r"(rsp));
    const u64 window = (rsp - kCpuStacksBase) >> 21;  // wraps (huge) below the base
    return window < kMaxCpus ? static_cast<unsigned>(window) : kSharedEventSlot;
}

inline void count_event_inline(Event event, u64 n = 1) {
    u64* counter = &event_slots[event_slot_index()].count[static_cast<unsigned>(event)];
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

}  // namespace hv::arch
