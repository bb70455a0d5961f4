// SPDX-License-Identifier: MIT
// Domain private state in the image: its frames, and the view's two ways to reach them
// (hv/pv/domain_private.hpp, arch/domain_private_area.hpp).
#include "arch/domain_private_area.hpp"

#include <new>

#include "arch/mapcache.hpp"
#include "arch/memory.hpp"
#include "arch/perdomain_area.hpp"
#include "arch/va_layout.hpp"
#include "hv/core/check.hpp"
#include "hv/mm/frame_table.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/domain_private.hpp"

extern "C" void* memset(void*, int, hv::usize);

namespace hv::arch {

static_assert(pv::kDomainPrivatePageSize == kPageSize);
static_assert(sizeof(MappedFrame) <= 32 && alignof(MappedFrame) <= 8, "fits DomainPrivateView::mapping_");

Result<void, const char*> domain_private_create(pv::Domain& domain) {
    const mm::FrameUse use{mm::FrameOwner::Hypervisor, mm::FrameClass::PerDomain, domain.id};
    for (Mfn& frame : domain.private_frames) {
        const Optional<Mfn> allocated = frame_allocator().alloc(mm::Pool::Domain, use);
        if (!allocated) return Error{"not enough memory for the domain's private state"};
        const MappedFrame page = map_domain_page(allocated.value());
        memset(page.bytes(), 0, kPageSize);  // a fresh port table, console line and buffer
        frame = allocated.value();
    }
    return {};
}

void domain_private_release(pv::Domain& domain) {
    for (Mfn& frame : domain.private_frames) {
        if (frame.raw() != 0) frame_allocator().free(frame);
        frame = Mfn();
    }
}

}  // namespace hv::arch

namespace hv::pv {

// The usual case, a hypercall of the domain: its slot-260 area is the loaded one, and the whole
// area shows at its window. Otherwise the view maps pages one at a time, when asked for.
u8* domain_private_window(const Domain& domain) {
    return arch::domain_area_loaded(domain) ? reinterpret_cast<u8*>(arch::domain_private_va()) : nullptr;
}

u8* domain_private_window(const Vcpu& running) {
    if (arch::vcpu_area_loaded(running)) return reinterpret_cast<u8*>(arch::domain_private_va());
    return domain_private_window(*running.domain);
}

void DomainPrivateView::unmap_page() {
    std::launder(reinterpret_cast<arch::MappedFrame*>(mapping_))->~MappedFrame();
    mapped_page_ = -1;
}

void* DomainPrivateView::map_page_of(usize offset) {
    const unsigned page = static_cast<unsigned>(offset / kDomainPrivatePageSize);
    HV_CHECK(page < kDomainPrivatePages && domain_.private_frames[page].raw() != 0);
    if (mapped_page_ != static_cast<int>(page)) {
        if (mapped_page_ >= 0) unmap_page();
        new (mapping_) arch::MappedFrame(arch::map_domain_page(domain_.private_frames[page]));
        mapped_page_ = static_cast<int>(page);
    }
    return std::launder(reinterpret_cast<arch::MappedFrame*>(mapping_))->bytes() + offset % kDomainPrivatePageSize;
}

}  // namespace hv::pv
