// SPDX-License-Identifier: MIT
// MMUEXT_SET_LDT and lazy LDT mapping (see ldt.hpp).
#include "hv/pv/ldt.hpp"

#include "hv/mm/level.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

constexpr u64 kPresent = 1;
constexpr u64 kFrameMask = 0x000ffffffffff000;

unsigned ldt_pages(const Vcpu& vcpu) { return static_cast<unsigned>((u64{vcpu.ldt_ents} * 8 + kPageSize - 1) / kPageSize); }

// The machine frame the guest's current page tables map at `va`, if a 4K page maps it.
bool guest_frame_at(Vcpu& vcpu, PageTypeEngine& engine, u64 va, Mfn& frame) {
    const u64 root = vcpu.kernel_mode ? vcpu.kernel_cr3 : vcpu.user_cr3;
    const auto l1 = engine.l1_for_va(Maddr(root).mfn(), Vaddr(va));
    if (!l1.ok()) return false;
    const u64 entry = read_frame_word(l1.value(), mm::index_of(va, mm::Level::Pt));
    if ((entry & kPresent) == 0) return false;
    frame = Maddr(entry & kFrameMask).mfn();
    return true;
}

}  // namespace

bool release_ldt_frames(Vcpu& vcpu) {
    bool any = false;
    PageTypeEngine engine = domain_engine(*vcpu.domain);
    for (u64& frame : vcpu.ldt_frames) {
        if (frame == 0) continue;
        engine.put_page_and_type(Mfn(frame));
        frame = 0;
        any = true;
    }
    return any;
}

long set_ldt(Vcpu& vcpu, u64 base, u64 entries) {
    if ((base & (kPageSize - 1)) != 0 || entries > kMaxLdtEntries) return -xen::kEINVAL;
    if (entries != 0 && !guest_range_ok(base, entries * 8)) return -xen::kEINVAL;
    if (base == vcpu.ldt_base && entries == vcpu.ldt_ents) return 0;
    release_ldt_frames(vcpu);
    vcpu.ldt_base = base;
    vcpu.ldt_ents = static_cast<u32>(entries);
    load_guest_ldt(vcpu);  // unmaps the old pages (with their invalidation) and loads LDTR
    return 0;
}

LdtFault handle_ldt_fault(Vcpu& vcpu, u64 cr2, u64& guest_cr2) {
    const u64 window = guest_ldt_window(vcpu);
    if (cr2 < window || cr2 - window >= kMaxLdtPages * kPageSize) return LdtFault::NotLdt;
    const unsigned page = static_cast<unsigned>((cr2 - window) / kPageSize);
    guest_cr2 = vcpu.ldt_base + (cr2 - window);
    if (page >= ldt_pages(vcpu) || vcpu.ldt_frames[page] != 0) return LdtFault::Bounce;
    PageTypeEngine engine = domain_engine(*vcpu.domain);
    Mfn frame;
    if (!guest_frame_at(vcpu, engine, vcpu.ldt_base + page * kPageSize, frame)) return LdtFault::Bounce;
    if (!engine.get_page_and_type(frame, PageType::SegDesc).ok()) return LdtFault::Bounce;
    vcpu.ldt_frames[page] = frame.raw();
    load_guest_ldt(vcpu);
    return LdtFault::Fixed;
}

}  // namespace hv::pv
