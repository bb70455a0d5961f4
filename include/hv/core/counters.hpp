// SPDX-License-Identifier: MIT
// Hypervisor event counters: how often the hypervisor did something whose cost on hardware is
// far above its instruction count (CR3 loads, TLB flushes, IPIs, root-table resyncs, stack
// zeroing). QEMU's -icount sees only instructions, so `isola bench` adds these events times
// published costs to model cycles (docs/bench/README.md). The totals over all pCPUs are printed
// once at the end of a run:
//
//     isola: events cr3_loads=N tlb_flushes=N invlpgs=N ipis=N resyncs=N bytes_zeroed=N cr3_noflush=N
//
// Counting is per pCPU (no shared cache line on the hot paths); the image implements storage in
// arch/x86_64/src/counters.cpp, the host unit tests in tests/support/host_counters.cpp.
#pragma once

#include "hv/core/types.hpp"

namespace hv {

enum class Event : u8 {
    Cr3Load,      // a MOV to CR3 (arch::write_cr3)
    TlbFlush,     // a full TLB flush, global entries included (arch::flush_tlb_all)
    Invlpg,       // a single-page invalidation (arch::invlpg)
    Ipi,          // an inter-processor interrupt sent (arch::lapic_send_ipi)
    RootResync,   // a per-vCPU root table brought back in line with the guest's L4 (ASI)
    BytesZeroed,  // bytes of hypervisor stack zeroed (ASI); counted with n = bytes
    Cr3NoFlush,   // of the CR3 loads, those that kept the new PCID's TLB entries (arch/pcid.hpp)
};
inline constexpr unsigned kEventCount = 7;

// Adds `n` to this pCPU's count of `event`. Callable from any context, fault paths included.
void count_event(Event event, u64 n = 1);
// The sum of `event` over every pCPU.
u64 event_total(Event event);

// The name of `event` in the report line ("cr3_loads", "tlb_flushes", ...).
const char* event_name(Event event);
// Writes the report line for `totals` (indexed by Event, without the trailing newline) into
// `buffer`; returns its length (truncated to capacity - 1, always NUL-terminated).
usize format_event_line(char* buffer, usize capacity, const u64 (&totals)[kEventCount]);
// Prints the report line with the current totals.
void print_event_totals();

}  // namespace hv
