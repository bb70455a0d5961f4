// SPDX-License-Identifier: MIT
// MMUEXT_SET_LDT and lazy LDT mapping (see ldt.hpp).
#include "hv/pv/ldt.hpp"

#include "hv/core/addr.hpp"
#include "hv/mm/level.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

constexpr u64 kPresent = 1;
constexpr u64 kFrameMask = 0x000ffffffffff000;

constexpr u64 kPfUser = 1u << 2, kPfReserved = 1u << 3;  // [SDM 3A §4.7]
constexpr u64 kSelectorTi = 4;                            // table indicator: LDT

unsigned ldt_pages(const Vcpu& vcpu) { return static_cast<unsigned>((u64{vcpu.ldt_ents} * 8 + kPageSize - 1) / kPageSize); }

// The machine frame the guest's kernel page tables map at `va`, if a 4K page maps it. The kernel's
// tables even in user mode: LDT pages are kernel memory that the user tables need not map (Xen
// reads them through guest_get_eff_kern_l1e()).
bool guest_frame_at(Vcpu& vcpu, PageTypeEngine& engine, u64 va, Mfn& frame) {
    const auto l1 = engine.l1_for_va(Maddr(vcpu.kernel_cr3).mfn(), Vaddr(va));
    if (!l1.ok()) return false;
    const u64 entry = read_frame_word(l1.value(), mm::index_of(va, mm::Level::Pt));
    if ((entry & kPresent) == 0) return false;
    frame = Maddr(entry & kFrameMask).mfn();
    return true;
}

}  // namespace

bool release_ldt_frames(Vcpu& vcpu) {
    u64 any = 0;
    for (const u64 frame : vcpu.ldt_frames) any |= frame;
    if (any == 0) return false;  // the usual case: no descriptor of the old LDT was ever read
    PageTypeEngine engine = domain_engine(*vcpu.domain);
    for (u64& frame : vcpu.ldt_frames) {
        if (frame == 0) continue;
        engine.put_page_and_type(Mfn(frame));
        frame = 0;
    }
    return true;
}

long set_ldt(Vcpu& vcpu, u64 base, u64 arg2) {
    // nr_ents is a 32-bit member of the op's arg2 union. [Xen ABI xen/include/public/xen.h]
    const u64 entries = static_cast<u32>(arg2);
    if (entries == 0) base = 0;  // no entries: the base is not looked at
    if ((base & (kPageSize - 1)) != 0 || !guest_range_ok(base, 1) || entries > kMaxLdtEntries) return -xen::kEINVAL;
    if (base == vcpu.ldt_base && entries == vcpu.ldt_ents) return 0;
    const bool had_pages = release_ldt_frames(vcpu);
    vcpu.ldt_base = base;
    vcpu.ldt_ents = static_cast<u32>(entries);
    // The window maps exactly the pages in ldt_frames (every change of them remaps it), so with
    // none before and none now only LDTR changes; else the old pages go, with their invalidation.
    if (had_pages) load_guest_ldt(vcpu);
    else load_guest_ldtr(vcpu);
    return 0;
}

LdtFault handle_ldt_fault(Vcpu& vcpu, u64 cr2, u64 error_code) {
    const u64 window = guest_ldt_window(vcpu);
    if (cr2 < window || cr2 - window >= kMaxLdtPages * kPageSize) return {LdtFaultKind::NotLdt, 0};
    // A guest instruction touching the window is a user access (CPL 3); descriptor reads are not.
    if ((error_code & (kPfUser | kPfReserved)) != 0) return {LdtFaultKind::NotLdt, 0};
    const u64 offset = cr2 - window;
    const u64 linear = vcpu.ldt_base + offset;
    // SET_LDT checked only the base: a descriptor past the end of canonical space is #GP(selector).
    if (!is_canonical(linear)) return {LdtFaultKind::GeneralProtection, (offset & ~u64{7}) | kSelectorTi};
    const unsigned page = static_cast<unsigned>(offset / kPageSize);
    if (page >= ldt_pages(vcpu) || vcpu.ldt_frames[page] != 0) return {LdtFaultKind::PageFault, linear};
    PageTypeEngine engine = domain_engine(*vcpu.domain);
    Mfn frame;
    if (!guest_frame_at(vcpu, engine, vcpu.ldt_base + page * kPageSize, frame)) return {LdtFaultKind::PageFault, linear};
    if (!engine.get_page_and_type(frame, PageType::SegDesc).ok()) return {LdtFaultKind::PageFault, linear};
    vcpu.ldt_frames[page] = frame.raw();
    load_guest_ldt(vcpu);
    return {LdtFaultKind::Fixed, 0};
}

}  // namespace hv::pv
