// SPDX-License-Identifier: MIT
// Host fakes for the platform side of a running vCPU (hv/pv/guest_mode.hpp).
#pragma once

#include "hv/core/types.hpp"

namespace hv::test {

struct FakeVcpuPlatform {
    u8 upcall_mask = 1;
    u64 cr2 = 0;
    unsigned mode_switches = 0;
    u64 fs_base = 0, gs_base_kernel = 0, gs_base_user = 0;  // as the guest's modes see them
    u16 user_gs_selector = 0;
    bool hardware_ts = false;
    unsigned debug_register_syncs = 0;  // sync_hardware_debug_registers calls
    bool work_pending = false;          // what hypervisor_work_pending answers
    unsigned preempt_checks = 0;        // hypervisor_work_pending calls
    u64 max_pfn = 0;  // shared_info.arch.max_pfn
};

FakeVcpuPlatform& fake_vcpu_platform();

}  // namespace hv::test
