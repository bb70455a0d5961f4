// SPDX-License-Identifier: MIT
// Host fakes for hv/pv/guest_mode.hpp: one shared vcpu_info, mode switches counted.
#include "support/fake_guest_mode.hpp"

#include "hv/pv/domain.hpp"
#include "hv/pv/guest_mode.hpp"

namespace hv::test {
FakeVcpuPlatform& fake_vcpu_platform() {
    static FakeVcpuPlatform platform;
    return platform;
}
}  // namespace hv::test

namespace hv::pv {

void switch_guest_mode(Vcpu& vcpu, bool to_kernel) {
    if (vcpu.kernel_mode == to_kernel) return;
    vcpu.kernel_mode = to_kernel;
    ++test::fake_vcpu_platform().mode_switches;
}
u8 read_upcall_mask(Vcpu&) { return test::fake_vcpu_platform().upcall_mask; }
void write_upcall_mask(Vcpu&, u8 mask) { test::fake_vcpu_platform().upcall_mask = mask; }
void write_guest_cr2(Vcpu&, u64 cr2) { test::fake_vcpu_platform().cr2 = cr2; }

}  // namespace hv::pv
