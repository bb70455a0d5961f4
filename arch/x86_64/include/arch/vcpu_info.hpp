// SPDX-License-Identifier: MIT
// The running vCPU's vcpu_info as the hot paths reach it: through the shared_info mapping in the
// vCPU's own per-domain area (slot 260), without a mapcache slot. Every exit to a guest asks
// whether an upcall waits, and every bounce reads and writes the upcall mask, so this stays inline.
#pragma once

#include "arch/perdomain_area.hpp"
#include "arch/va_layout.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::arch {

// `vcpu`'s vcpu_info at kSharedInfoVa, or nullptr when the loaded root's slot 260 is not its area
// (then only the mapcache reaches it: pv_vcpu.cpp).
inline xen::VcpuInfo* vcpu_info_in_window(const pv::Vcpu& vcpu) {
    if (!vcpu_area_loaded(vcpu)) [[unlikely]]
        return nullptr;
    return &reinterpret_cast<xen::SharedInfo*>(kSharedInfoVa)->vcpu_info[vcpu.id];
}

// An upcall is pending and not masked: what pv::upcall_deliverable asks. [pv-abi.md §4.8]
inline bool upcall_deliverable_in(const xen::VcpuInfo& info) {
    return __atomic_load_n(&info.evtchn_upcall_pending, __ATOMIC_SEQ_CST) != 0 &&
           __atomic_load_n(&info.evtchn_upcall_mask, __ATOMIC_SEQ_CST) == 0;
}

}  // namespace hv::arch
