// SPDX-License-Identifier: MIT
// The hypervisor's own memory: pools, frame table, the idle root page table, hypervisor frames.
#pragma once

#include "arch/descriptors.hpp"
#include "arch/pte.hpp"
#include "hv/boot/multiboot.hpp"
#include "hv/core/addr.hpp"
#include "hv/core/result.hpp"
#include "hv/mm/frame_table.hpp"
#include "hv/mm/page_table.hpp"

namespace hv::arch {

// Page-table environment of the image: tables live in the hypervisor pool and are reached through
// the directmap (through the boot alias of the first GiB until the final tables are live).
struct HvPagingEnv {
    u64* table(Mfn mfn);
    Optional<Mfn> alloc_table();
    void free_table(Mfn mfn);
    void invalidate(Vaddr va, mm::Level level);
};
using HvPageTable = mm::PageTable<X86PteFormat, HvPagingEnv>;

struct MemorySummary {
    mm::Range hypervisor_pool;
    u64 domain_pool_bytes;
    u64 frame_count;
    u64 frame_table_bytes;
    Mfn idle_root;
    Mfn zero_frame;            // all zeros, mapped read-only wherever "nothing" must be readable
    Mfn stack_l1[kMaxCpus];
    Mfn gdt_reserved[kMaxCpus];  // each pCPU's reserved GDT page (Xen's page 14)    // the L1 mapping each pCPU's stack window (zero_stack.cpp)
    Mfn cpu_idle_root[kMaxCpus];   // asi.hpp: the root each pCPU runs on with no vCPU loaded
    u64 cpu_slot_entry[kMaxCpus];  // asi.hpp: slot 261 of every root loaded on that pCPU
};

// Builds the frame table, both pools and the idle root table, then switches to it.
// Boot stops with a message (returned) when memory is too small or too fragmented.
Result<void, const char*> memory_init(const boot::BootInfo& boot, u64 hypervisor_pool_bytes, unsigned cpu_count);
const MemorySummary& memory_summary();
// Records which guest pfn a machine frame backs (~0: none) in the M2P guests read at slot 256.
inline constexpr u64 kM2pInvalid = ~u64{0};
void set_m2p(Mfn mfn, u64 pfn);
mm::FrameAllocator& frame_allocator();
HvPagingEnv& paging_env();

// Maps device memory (uncached, not executable) in the vmap region; returns its VA.
// Boot stops if the vmap region or the pool is exhausted: both are sized for far more.
u64 map_mmio(Maddr maddr, u64 size_bytes);
// Maps machine memory that is not in the directmap (boot modules) at fresh vmap VAs, and back.
// Global mappings: only for data every root may see (never guest frames; those use the mapcache).
u64 vmap(Maddr maddr, u64 size_bytes, mm::Attrs attrs);
void vunmap(u64 va, u64 size_bytes);

// The hypervisor's pointer to a hypervisor-pool frame (directmap).
void* hv_frame_pointer(Mfn mfn);

}  // namespace hv::arch
