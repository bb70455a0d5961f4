// SPDX-License-Identifier: MIT
// Stack zeroing on full context switches (see zero_stack.hpp).
#include "arch/zero_stack.hpp"

#include "arch/cpu.hpp"
#include "arch/descriptors.hpp"
#include "arch/mapcache.hpp"
#include "arch/memory.hpp"
#include "arch/pcid.hpp"
#include "arch/pte.hpp"
#include "arch/va_layout.hpp"
#include "hv/core/counters.hpp"

extern "C" void* memset(void*, int, hv::usize);

namespace hv::arch {
namespace {

// Zeroes the page at `va` through the mapcache, then marks its PTE clean; the INVLPG makes the
// CPU set the dirty bit again on the next write.
[[gnu::noinline]] u64 zero_page(u64* pte, u64 entry, u64 va) {
    {
        const MappedFrame page = map_domain_page(X86PteFormat::address(mm::Level::Pt, entry).mfn());
        memset(page.bytes(), 0, kPageSize);
    }
    __atomic_store_n(pte, entry & ~X86PteFormat::kD, __ATOMIC_RELAXED);
    invalidate_page(va);  // in every PCID that may cache it, or a stale D=1 entry hides a write
    return kPageSize;
}

// The page at `va` (its PTE in the pCPU's stack L1 `l1`) if its PTE says it was written. The
// test is inline: on most switches no page but the live one was written.
inline u64 zero_if_dirty(u64* l1, u64 va) {
    u64* pte = &l1[mm::index_of(va, mm::Level::Pt)];
    const u64 entry = __atomic_load_n(pte, __ATOMIC_RELAXED);
    if ((entry & X86PteFormat::kD) == 0) [[likely]]
        return 0;
    return zero_page(pte, entry, va);
}

u64 current_rsp() {
    u64 rsp;
    asm volatile("movq %%rsp, %0" : "=r"(rsp));
    return rsp;
}

}  // namespace

u64 zero_dead_stack_pages(unsigned cpu) {
    const u64 live_page = align_down(current_rsp(), kPageSize);
    u64* const l1 = paging_env().table(memory_summary().stack_l1[cpu]);  // every stack page's PTE
    u64 zeroed = 0;
    for (u64 va = cpu_primary_stack_base(cpu); va < live_page; va += kPageSize) zeroed += zero_if_dirty(l1, va);
    // IST 0 (NMI), 2 (#MC) and 3 (#DB: a guest's #DB frame and RAX/RCX pass through it); IST 1
    // (#DF) only ever ends the run.
    zeroed += zero_if_dirty(l1, cpu_ist_stack_base(cpu, 0));
    zeroed += zero_if_dirty(l1, cpu_ist_stack_base(cpu, 2));
    zeroed += zero_if_dirty(l1, cpu_ist_stack_base(cpu, 3));
    if (zeroed != 0) count_event(Event::BytesZeroed, zeroed);
    return live_page;
}

}  // namespace hv::arch
