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

u64* stack_pte(unsigned cpu, u64 va) {
    return &paging_env().table(memory_summary().stack_l1[cpu])[mm::index_of(va, mm::Level::Pt)];
}

// Zeroes the page at `va` through the mapcache if its PTE says it was written, then marks it
// clean; the INVLPG makes the CPU set the dirty bit again on the next write.
u64 zero_if_dirty(unsigned cpu, u64 va) {
    u64* pte = stack_pte(cpu, va);
    const u64 entry = __atomic_load_n(pte, __ATOMIC_RELAXED);
    if ((entry & X86PteFormat::kD) == 0) return 0;
    {
        const MappedFrame page = map_domain_page(X86PteFormat::address(mm::Level::Pt, entry).mfn());
        memset(page.bytes(), 0, kPageSize);
    }
    __atomic_store_n(pte, entry & ~X86PteFormat::kD, __ATOMIC_RELAXED);
    invalidate_page(va);  // in every PCID that may cache it, or a stale D=1 entry hides a write
    return kPageSize;
}

u64 current_rsp() {
    u64 rsp;
    asm volatile("movq %%rsp, %0" : "=r"(rsp));
    return rsp;
}

}  // namespace

u64 zero_dead_stack_pages(unsigned cpu) {
    const u64 live_page = align_down(current_rsp(), kPageSize);
    u64 zeroed = 0;
    for (u64 va = cpu_primary_stack_base(cpu); va < live_page; va += kPageSize) zeroed += zero_if_dirty(cpu, va);
    // IST 0 (NMI), 2 (#MC) and 3 (#DB: a guest's #DB frame and RAX/RCX pass through it); IST 1
    // (#DF) only ever ends the run.
    zeroed += zero_if_dirty(cpu, cpu_ist_stack_base(cpu, 0));
    zeroed += zero_if_dirty(cpu, cpu_ist_stack_base(cpu, 2));
    zeroed += zero_if_dirty(cpu, cpu_ist_stack_base(cpu, 3));
    count_event(Event::BytesZeroed, zeroed);
    return live_page;
}

}  // namespace hv::arch
