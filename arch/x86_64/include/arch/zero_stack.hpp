// SPDX-License-Identifier: MIT
// asi zero-stack: on a full context switch, nothing the previous vCPU left on this pCPU's stacks
// survives into the next one.
//
// "Only what was used" is tracked by the hardware: every stack page's PTE has its dirty bit
// cleared (and its TLB entry invalidated) when the page is zeroed, so the next switch zeroes
// exactly the pages written since. Pages wholly below the live part of the primary stack, and
// used IST pages (NMI, #MC, #DB), are zeroed here through the mapcache, which leaves the stack PTE
// clean; the live part itself ([page of the current RSP, the guest frame)) is dead once the
// guest is entered, so enter_guest_zeroing clears it with a forward rep stosq after moving RSP
// to the guest frame. The #DF IST page is never touched: a #DF ends the run.
#pragma once

#include "arch/trap_frame.hpp"
#include "hv/core/types.hpp"

namespace hv::arch {

// Zeroes the dirty stack pages of this pCPU below the page holding the current RSP, and the
// dirty NMI/#MC/#DB IST pages; returns the lowest address enter_guest_zeroing must clear from.
// Both parts count as Event::BytesZeroed.
u64 zero_dead_stack_pages(unsigned cpu);

}  // namespace hv::arch

extern "C" [[noreturn]] void enter_guest_zeroing(hv::arch::TrapFrame* frame_at_stack_top, hv::u64 zero_from);
