// SPDX-License-Identifier: MIT
// The page-table word window (see vcpu_pt_window.hpp). pt_window_init is in perdomain_area.cpp,
// with the other users of the per-domain API.
#include "arch/vcpu_pt_window.hpp"

#include "arch/cpu.hpp"
#include "arch/mapcache.hpp"
#include "arch/memory.hpp"
#include "arch/pcid.hpp"
#include "arch/perdomain_area.hpp"
#include "arch/pte.hpp"
#include "arch/sched.hpp"
#include "arch/smp.hpp"
#include "arch/va_layout.hpp"
#include "hv/mm/level.hpp"
#include "hv/pv/domain.hpp"

namespace hv::arch {
namespace {

static_assert(kPtWindowSlots == pv::kPtWindowPages);
static_assert(vcpu_pt_window_va(pv::kMaxVcpus) - vcpu_pt_window_va(0) <= (u64{1} << 21), "all windows share one L1");

bool domain_owns(const pv::Domain& domain, Mfn mfn) {
    const mm::FrameAllocator& frames = frame_allocator();
    if (mfn.raw() >= frames.frame_count()) return false;
    const mm::FrameInfo& info = frames.info(mfn);
    return info.owner == mm::FrameOwner::Domain && info.frame_class == mm::FrameClass::Guest &&
           info.class_id == domain.id;
}

// Where word `index` of `mfn` shows in the window of the vCPU loaded here, mapping the frame into
// its page first if needed; nullptr when the window cannot be used (no vCPU, its area not the
// loaded one, or not a frame of its domain).
u64* window_word(Mfn mfn, unsigned index) {
    pv::Vcpu* vcpu = loaded_vcpu(current_cpu_index());
    if (vcpu == nullptr || vcpu->pt_window_l1 == 0 || !vcpu_area_loaded(*vcpu)) return nullptr;
    const unsigned page = static_cast<unsigned>(mfn.raw() & (kPtWindowSlots - 1));
    const u64 va = vcpu_pt_window_va(vcpu->id) + page * kPageSize;
    u64& shown = vcpu->pt_window_mfn[page];
    if (shown != mfn.raw()) {
        if (!domain_owns(*vcpu->domain, mfn)) return nullptr;
        u64* const l1 = static_cast<u64*>(hv_frame_pointer(Maddr(vcpu->pt_window_l1).mfn()));
        const bool replacing = shown != pv::kNoFrame;
        __atomic_store_n(&l1[mm::index_of(va, mm::Level::Pt)],
                         X86PteFormat::make_leaf(mm::Level::Pt, mfn.maddr(), mm::Attrs{.write = true}),
                         __ATOMIC_RELEASE);
        if (replacing) invalidate_page(va);  // the old frame's translation may be cached, under either PCID
        shown = mfn.raw();
    }
    return reinterpret_cast<u64*>(va) + index;
}

}  // namespace

u64 read_guest_table_word(Mfn mfn, unsigned index) {
    if (const u64* word = window_word(mfn, index)) return __atomic_load_n(word, __ATOMIC_RELAXED);
    const MappedFrame page = map_domain_page(mfn);
    return __atomic_load_n(&page.as<u64>()[index], __ATOMIC_RELAXED);
}

void write_guest_table_word(Mfn mfn, unsigned index, u64 value) {
    if (u64* word = window_word(mfn, index)) {
        __atomic_store_n(word, value, __ATOMIC_RELEASE);
        return;
    }
    const MappedFrame page = map_domain_page(mfn);
    __atomic_store_n(&page.as<u64>()[index], value, __ATOMIC_RELEASE);
}

}  // namespace hv::arch
