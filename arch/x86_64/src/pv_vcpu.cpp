// SPDX-License-Identifier: MIT
// Platform side of a running PV vCPU: mode switches and its vcpu_info in shared_info.
#include "arch/cpu.hpp"
#include "arch/mapcache.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

// shared_info is a guest frame: reached through the mapcache, never the directmap.
template <class Fn>
void with_vcpu_info(Vcpu& vcpu, Fn&& fn) {
    const arch::MappedFrame page = arch::map_domain_page(vcpu.domain->shared_info);
    fn(page.as<xen::SharedInfo>()->vcpu_info[vcpu.id]);
}

}  // namespace

void switch_guest_mode(Vcpu& vcpu, bool to_kernel) {
    if (vcpu.kernel_mode == to_kernel) return;
    vcpu.kernel_mode = to_kernel;
    arch::write_cr3(to_kernel ? vcpu.kernel_cr3 : vcpu.user_cr3);
    // The guest kernel and user GS bases trade places, as SWAPGS would for a native kernel.
    asm volatile("swapgs" ::: "memory");
}

u8 read_upcall_mask(Vcpu& vcpu) {
    u8 mask = 1;
    with_vcpu_info(vcpu, [&](xen::VcpuInfo& info) { mask = info.evtchn_upcall_mask; });
    return mask;
}

void write_upcall_mask(Vcpu& vcpu, u8 mask) {
    with_vcpu_info(vcpu, [&](xen::VcpuInfo& info) { info.evtchn_upcall_mask = mask; });
}

void write_guest_cr2(Vcpu& vcpu, u64 cr2) {
    with_vcpu_info(vcpu, [&](xen::VcpuInfo& info) { info.cr2 = cr2; });
}

}  // namespace hv::pv
