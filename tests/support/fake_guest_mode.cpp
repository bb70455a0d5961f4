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

namespace {
u64& fake_base(SegmentBase which) {
    test::FakeVcpuPlatform& p = test::fake_vcpu_platform();
    return which == SegmentBase::Fs ? p.fs_base : which == SegmentBase::GsKernel ? p.gs_base_kernel : p.gs_base_user;
}
}  // namespace
void write_segment_base(Vcpu&, SegmentBase which, u64 base) { fake_base(which) = base; }
u64 read_segment_base(Vcpu&, SegmentBase which) { return fake_base(which); }
// The fake has no descriptor tables: a selector "loads" with base 0, like Xen's flat ones.
void load_user_gs_selector(Vcpu&, u16 selector) {
    test::fake_vcpu_platform().user_gs_selector = selector;
    test::fake_vcpu_platform().gs_base_user = 0;
}
void write_hardware_ts(Vcpu&, bool set) { test::fake_vcpu_platform().hardware_ts = set; }
u32 cpu_mxcsr_mask() { return 0xffff; }  // a CPU with DAZ
bool hypervisor_work_pending(Vcpu&) {
    auto& platform = test::fake_vcpu_platform();
    ++platform.preempt_checks;
    return platform.work_pending;
}
void sync_hardware_debug_registers(Vcpu&) { ++test::fake_vcpu_platform().debug_register_syncs; }
u64 read_guest_max_pfn(Vcpu&) { return test::fake_vcpu_platform().max_pfn; }

}  // namespace hv::pv

#include "hv/pv/emulate.hpp"

namespace hv::pv {
// A fixed fake host: leaf 1 reports VMX and x2APIC so the policy's filtering shows.
CpuidLeaf host_cpuid(u32 leaf, u32) {
    if (leaf == 1) return {0x000806f8, 0x00010800, (1u << 5) | (1u << 21) | 1u, 0x078bfbff};
    if (leaf == 7) return {0, 0x1 | (1u << 7), 0, 0};
    return {leaf, 0, 0, 0};
}
}  // namespace hv::pv
