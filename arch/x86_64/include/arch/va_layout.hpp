// SPDX-License-Identifier: MIT
// The hypervisor's virtual layout: the one table every other file takes addresses from.
//
// Xen's 64-bit PV contract gives the hypervisor L4 slots 256-271 and the guest everything else.
// Slot roles follow Xen so the ASI design maps one to one. The isolation class says who may
// see a region: every root (Global), only the root running on that pCPU (PerCpu), the roots
// of one domain (PerDomain), or only one vCPU's root (PerVcpu).
//
//   L4 slot  start               size  region       class      contents
//   256      ffff800000000000    512G  ro_m2p       Global     guest-visible read-only M2P
//   257      ffff808000000000    512G  (gap)                   reserved (Xen: PCI mmconfig)
//   258      ffff810000000000    512G  linear_pt    PerVcpu    self-map of the loaded root
//   259      ffff818000000000    512G  (gap)                   reserved (Xen: shadow linear)
//   260      ffff820000000000    512G  perdomain    PerDomain  per-vCPU GDT/LDT windows, shared_info, per-vCPU state and mapcache (below)
//   261      ffff828000000000    256G  m2p          Global     read-write M2P
//            ffff82c000000000     64G  vmap         Global     MMIO mappings (LAPIC, ...)
//            ffff82d000000000      1G  cpu_stacks   PerCpu     per-pCPU stacks and IST stacks, guarded
//            ffff82d040000000    512M  cpu_gdt      PerCpu     per-pCPU GDT windows (Xen reserved page 14)
//            ffff82d060000000    512M  mapcache     PerCpu     per-pCPU map_domain_page slots
//            ffff82d080000000      1G  image        Global     hypervisor text, data, bss
//            ffff82d0c0000000     61G  (gap)
//            ffff82e000000000    128G  frametable   Global     per-frame descriptors
//   262-271  ffff830000000000      5T  directmap    Global     sparse: only hypervisor-pool frames
#pragma once

#include "arch/boot_constants.h"
#include "hv/core/types.hpp"

namespace hv::arch {

enum class IsolationClass : u8 { Global, PerCpu, PerDomain, PerVcpu, Gap };

struct Region {
    const char* name;
    u64 start;
    u64 size;
    IsolationClass isolation;
    const char* contents;
};

inline constexpr u64 kL4SlotSize = u64{1} << 39;
inline constexpr unsigned kHypervisorFirstSlot = 256;
inline constexpr unsigned kHypervisorLastSlot = 271;

constexpr u64 l4_slot_base(unsigned slot) {
    const u64 va = u64{slot} << 39;
    return slot >= 256 ? (va | 0xffff000000000000) : va;
}
constexpr unsigned l4_slot_of(u64 va) { return static_cast<unsigned>((va >> 39) & 511); }

// The table itself: ascending, gaps included, covering slots 256-271 exactly.
inline constexpr Region kLayout[] = {
    {"ro_m2p", 0xffff800000000000, 512 * GiB, IsolationClass::Global, "guest-visible read-only M2P"},
    {"(gap)", 0xffff808000000000, 512 * GiB, IsolationClass::Gap, "reserved (Xen: PCI mmconfig)"},
    {"linear_pt", 0xffff810000000000, 512 * GiB, IsolationClass::PerVcpu, "self-map of the loaded root"},
    {"(gap)", 0xffff818000000000, 512 * GiB, IsolationClass::Gap, "reserved (Xen: shadow linear)"},
    {"perdomain", 0xffff820000000000, 512 * GiB, IsolationClass::PerDomain, "per-vCPU GDT/LDT windows, shared_info, state, mapcache"},
    {"m2p", 0xffff828000000000, 256 * GiB, IsolationClass::Global, "read-write M2P"},
    {"vmap", 0xffff82c000000000, 64 * GiB, IsolationClass::Global, "MMIO mappings (LAPIC, ...)"},
    {"cpu_stacks", 0xffff82d000000000, 1 * GiB, IsolationClass::PerCpu, "per-pCPU stacks, IST stacks, guards"},
    {"cpu_gdt", 0xffff82d040000000, 512 * MiB, IsolationClass::PerCpu, "per-pCPU GDT (Xen reserved page 14)"},
    {"mapcache", 0xffff82d060000000, 512 * MiB, IsolationClass::PerCpu, "per-pCPU map_domain_page slots"},
    {"image", 0xffff82d080000000, 1 * GiB, IsolationClass::Global, "hypervisor text, data, bss"},
    {"(gap)", 0xffff82d0c0000000, 61 * GiB, IsolationClass::Gap, "unused"},
    {"frametable", 0xffff82e000000000, 128 * GiB, IsolationClass::Global, "per-frame descriptors"},
    {"directmap", 0xffff830000000000, 5 * TiB, IsolationClass::Global, "sparse: hypervisor-pool frames only"},
};

// Named bases, read from the table so there is exactly one source of truth.
constexpr const Region& region(const char* name) {
    for (const Region& r : kLayout) {
        const char* a = r.name;
        const char* b = name;
        while (*a != 0 && *a == *b) {
            ++a;
            ++b;
        }
        if (*a == 0 && *b == 0) return r;
    }
    return kLayout[1];  // unreachable for valid names; static_asserts below pin every name used
}

inline constexpr u64 kRoM2pBase = region("ro_m2p").start;
inline constexpr u64 kLinearPtBase = region("linear_pt").start;
inline constexpr u64 kPerdomainBase = region("perdomain").start;
inline constexpr u64 kM2pBase = region("m2p").start;
inline constexpr u64 kVmapBase = region("vmap").start;
inline constexpr u64 kCpuStacksBase = region("cpu_stacks").start;
inline constexpr u64 kCpuGdtBase = region("cpu_gdt").start;
inline constexpr u64 kMapcacheBase = region("mapcache").start;
inline constexpr u64 kImageBase = region("image").start;
inline constexpr u64 kFrameTableBase = region("frametable").start;
inline constexpr u64 kDirectmapBase = region("directmap").start;
inline constexpr u64 kDirectmapSize = region("directmap").size;

// Every per-pCPU window (stacks, GDT, mapcache) is 2 MiB aligned, so each pCPU's window has an L1
// table of its own: a per-pCPU L2 (asi cpu-stack) then maps exactly one pCPU's windows by
// pointing at that L1, and the global L2 (asi off) points at all of them. [docs/asi.md]
inline constexpr u64 kCpuWindowStride = 2 * MiB;
inline constexpr unsigned kMaxCpuWindows = 8;  // = kMaxCpus (cpu.hpp)

// Per-pCPU stack window inside cpu_stacks:
// [guard][stack 16K][guard][NMI][guard][#DF][guard][#MC][guard][#DB].
inline constexpr u64 kPrimaryStackSize = 16 * KiB;
inline constexpr u64 kIstStackSize = 4 * KiB;
inline constexpr unsigned kIstCount = 4;  // IST1 NMI, IST2 #DF, IST3 #MC, IST4 #DB
inline constexpr u64 kCpuStackWindow = kCpuWindowStride;

constexpr u64 cpu_primary_stack_base(unsigned cpu) { return kCpuStacksBase + cpu * kCpuStackWindow + kPageSize; }
constexpr u64 cpu_ist_stack_base(unsigned cpu, unsigned ist_index) {
    return cpu_primary_stack_base(cpu) + kPrimaryStackSize + kPageSize + ist_index * (kIstStackSize + kPageSize);
}

// Per-pCPU GDT window, the pCPU's own GDT while no vCPU's window is loaded: pages 0-13 show one
// all-zero page (guests' GDT frames live in their vCPU windows in slot 260), page 14 is Xen's
// reserved page with the hypervisor's and the flat ring-3 descriptors, page 15 an unmapped guard.
// [pv-abi.md §1.10]
inline constexpr u64 kGdtWindowSize = 16 * kPageSize;
inline constexpr unsigned kGdtReservedPage = 14;
constexpr u64 cpu_gdt_base(unsigned cpu) { return kCpuGdtBase + cpu * kCpuWindowStride; }

// Per-pCPU mapcache window: kMapcacheSlots pages, all inside one L1 table.
inline constexpr unsigned kMapcacheSlots = 64;
inline constexpr u64 kMapcacheWindow = kCpuWindowStride;
constexpr u64 mapcache_slot_va(unsigned cpu, unsigned slot) { return kMapcacheBase + cpu * kMapcacheWindow + slot * kPageSize; }

// ---- Sub-areas of the per-domain slot 260 (perdomain_area.hpp), one GiB (one L3 entry) each, so
// the perdomain API's "never cross 1 GiB" rule keeps every operation inside one of them. With
// asi vcpu-pt each vCPU has its own L3 here and maps only its own window; without, one L3 per
// domain holds every vCPU's window.
//
//   GiB  start               sub-area      class      contents
//   0    ffff820000000000    gdt_ldt       PerVcpu    vCPU v: GDT (16 pages) at + v*128K, LDT (16 pages) 64K above
//   1    ffff820040000000    shared_info   PerDomain  the domain's shared_info page (running vCPU's vcpu_info)
//   2    ffff820080000000    pt_window     PerVcpu    vCPU v: 16 lazily kept guest frames at + v*64K
//   3    ffff8200c0000000    vcpu_private  PerVcpu    vCPU v: its saved guest CPU state (1 page) at + v*8K
//   4    ffff820100000000    mapcache      PerVcpu    vCPU v: its map_domain_page slots (64 pages) at + v*256K
//   5    ffff820140000000    domain_private PerDomain the domain's private state (13 pages; domain_private.hpp)
//   6-   ffff820180000000    (free)
inline constexpr Region kPerdomainAreas[] = {
    {"gdt_ldt", kPerdomainBase, 1 * GiB, IsolationClass::PerVcpu, "per-vCPU GDT and LDT windows"},
    {"shared_info", kPerdomainBase + 1 * GiB, 1 * GiB, IsolationClass::PerDomain, "the domain's shared_info"},
    {"pt_window", kPerdomainBase + 2 * GiB, 1 * GiB, IsolationClass::PerVcpu, "per-vCPU page-table word window"},
    {"vcpu_private", kPerdomainBase + 3 * GiB, 1 * GiB, IsolationClass::PerVcpu, "per-vCPU saved guest CPU state"},
    {"mapcache", kPerdomainBase + 4 * GiB, 1 * GiB, IsolationClass::PerVcpu, "per-vCPU map_domain_page slots"},
    {"domain_private", kPerdomainBase + 5 * GiB, 1 * GiB, IsolationClass::PerDomain, "the domain's private state"},
};
inline constexpr u64 kVcpuGdtLdtWindow = 128 * KiB;
inline constexpr u64 kSharedInfoVa = kPerdomainAreas[1].start;
constexpr u64 vcpu_gdt_va(unsigned vcpu_id) { return kPerdomainAreas[0].start + vcpu_id * kVcpuGdtLdtWindow; }
constexpr u64 vcpu_ldt_va(unsigned vcpu_id) { return vcpu_gdt_va(vcpu_id) + kVcpuGdtLdtWindow / 2; }
// The vCPU's page-table word window (vcpu_pt_window.hpp): kPtWindowSlots pages.
inline constexpr unsigned kPtWindowSlots = 16;  // = pv::kPtWindowPages
constexpr u64 vcpu_pt_window_va(unsigned vcpu_id) {
    return kPerdomainAreas[2].start + u64{vcpu_id} * kPtWindowSlots * kPageSize;
}
// vCPU v's private-state page (pv::VcpuPrivate): one page, then an unmapped guard page, so an
// overrun faults instead of reaching the next vCPU's state (mapped there without vcpu-pt).
inline constexpr u64 kVcpuPrivateStride = 2 * kPageSize;
constexpr u64 vcpu_private_va(unsigned vcpu_id) { return kPerdomainAreas[3].start + vcpu_id * kVcpuPrivateStride; }
// vCPU v's mapcache (asi vcpu-pt only; mapcache.hpp): kMapcacheSlots pages, the same count as a
// pCPU's window. Every vCPU's slots fit one 2 MiB L1 of its L3.
inline constexpr u64 kVcpuMapcacheStride = kMapcacheSlots * kPageSize;
constexpr u64 vcpu_mapcache_slot_va(unsigned vcpu_id, unsigned slot) {
    return kPerdomainAreas[4].start + vcpu_id * kVcpuMapcacheStride + slot * kPageSize;
}

// The domain's private area (pv::DomainPrivate): its pages in order, then unmapped space. The
// same VA in every root of the domain (each vCPU's own L3 with vcpu-pt maps the same frames).
constexpr u64 domain_private_va() { return kPerdomainAreas[5].start; }

namespace layout_checks {
constexpr bool contiguous_and_covering() {
    u64 expect = l4_slot_base(kHypervisorFirstSlot);
    for (const Region& r : kLayout) {
        if (r.start != expect) return false;
        expect += r.size;
    }
    return expect == l4_slot_base(kHypervisorLastSlot) + kL4SlotSize;
}
static_assert(contiguous_and_covering(), "layout rows must tile slots 256-271 exactly");
static_assert(l4_slot_of(kPerdomainBase) == 260 && l4_slot_of(kLinearPtBase) == 258);
static_assert(l4_slot_of(kImageBase) == 261 && l4_slot_of(kDirectmapBase) == 262);
static_assert(kImageBase % GiB == 0, "the boot tables alias the first GiB at the image base");
static_assert(cpu_ist_stack_base(0, kIstCount) <= kCpuStacksBase + kCpuStackWindow);
// vectors.S finds the primary stack top from the #DB IST stack by these two (debug_entry).
static_assert(HV_CPU_STACK_WINDOW == kCpuStackWindow && kCpuStacksBase % kCpuStackWindow == 0);
static_assert(HV_PRIMARY_STACK_TOP_OFFSET == cpu_primary_stack_base(0) + kPrimaryStackSize - kCpuStacksBase);
// The per-pCPU regions each sit under one L3 entry of slot 261, which a per-pCPU L3 replaces.
static_assert(kCpuStacksBase % GiB == 0 && region("cpu_stacks").size == GiB);
static_assert(kCpuGdtBase % GiB == 0 && kMapcacheBase == kCpuGdtBase + 512 * MiB && region("mapcache").size == 512 * MiB);
static_assert(kMaxCpuWindows * kCpuWindowStride <= 512 * MiB);
static_assert(kPerdomainAreas[0].start % GiB == 0 && kPerdomainAreas[1].start % GiB == 0);
static_assert(kPerdomainAreas[2].start % GiB == 0 && (kPtWindowSlots & (kPtWindowSlots - 1)) == 0);
static_assert(kPerdomainAreas[3].start % GiB == 0 && kPerdomainAreas[4].start % GiB == 0);
static_assert(kPerdomainAreas[5].start % GiB == 0);
static_assert(8 * kVcpuMapcacheStride <= 2 * MiB, "kMaxVcpus vCPUs' mapcache slots share one L1");
static_assert(vcpu_gdt_va(0) == 0xffff820000000000, "Xen's address: a PV guest's SGDT shows it");
}  // namespace layout_checks

}  // namespace hv::arch
