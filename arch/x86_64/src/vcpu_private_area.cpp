// SPDX-License-Identifier: MIT
// vCPU private state in the image: its frame, and the accessor's two ways to reach it
// (hv/pv/vcpu_private.hpp, arch/vcpu_private_area.hpp).
#include "arch/vcpu_private_area.hpp"

#include <new>

#include "arch/mapcache.hpp"
#include "arch/memory.hpp"
#include "arch/perdomain_area.hpp"
#include "arch/va_layout.hpp"
#include "hv/core/check.hpp"
#include "hv/mm/frame_table.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/vcpu_private.hpp"

extern "C" void* memset(void*, int, hv::usize);

namespace hv::arch {
namespace {

static_assert(sizeof(MappedFrame) <= 32 && alignof(MappedFrame) <= 8, "fits VcpuPrivateView::mapping_");

// Same id layout as the shadow roots (asi_roots.cpp) and the audit (audit::pervcpu_class_id).
u32 vcpu_class_id(const pv::Vcpu& vcpu) { return (u32{vcpu.domain->id} << 16) | vcpu.id; }

}  // namespace

Result<void, const char*> vcpu_private_create(pv::Vcpu& vcpu) {
    const mm::FrameUse use{mm::FrameOwner::Hypervisor, mm::FrameClass::PerVcpu, vcpu_class_id(vcpu)};
    const Optional<Mfn> frame = frame_allocator().alloc(mm::Pool::Domain, use);
    if (!frame) return Error{"not enough memory for the vCPU's private state"};
    const MappedFrame page = map_domain_page(frame.value());
    memset(page.bytes(), 0, kPageSize);  // a reused frame must not show an earlier owner's state
    vcpu.private_frame = frame.value();
    return {};
}

void vcpu_private_release(pv::Vcpu& vcpu) {
    if (vcpu.private_frame.raw() == 0) return;
    frame_allocator().free(vcpu.private_frame);
    vcpu.private_frame = Mfn();
}

}  // namespace hv::arch

namespace hv::pv {

// The fast case: the vCPU's slot-260 area is the loaded one (it runs here, or, without vcpu-pt,
// a vCPU of its domain does), so its page shows at its own window address. Otherwise one
// mapcache slot, held in the view until it ends.
VcpuPrivateView::VcpuPrivateView(Vcpu& vcpu) : vcpu_(vcpu) {
    if (arch::area_loaded(vcpu.perdomain_l3)) {  // = vcpu_area_loaded, inline: every switch asks
        state_ = reinterpret_cast<VcpuPrivate*>(arch::vcpu_private_va(vcpu.id));
        return;
    }
    HV_CHECK(vcpu.private_frame.raw() != 0);
    auto* mapping = new (mapping_) arch::MappedFrame(arch::map_domain_page(vcpu.private_frame));
    state_ = mapping->as<VcpuPrivate>();
    mapped_ = true;
}

VcpuPrivateView::~VcpuPrivateView() {
    if (mapped_) {
        std::launder(reinterpret_cast<arch::MappedFrame*>(mapping_))->~MappedFrame();
        return;
    }
    // A window view must end before the root that showed it is switched away.
    HV_DEBUG_ASSERT(arch::area_loaded(vcpu_.perdomain_l3));
}

}  // namespace hv::pv
