// SPDX-License-Identifier: MIT
// Host fakes for the platform side of a running vCPU (hv/pv/guest_mode.hpp).
#pragma once

#include "hv/core/types.hpp"

namespace hv::test {

struct FakeVcpuPlatform {
    u8 upcall_mask = 1;
    u64 cr2 = 0;
    unsigned mode_switches = 0;
};

FakeVcpuPlatform& fake_vcpu_platform();

}  // namespace hv::test
