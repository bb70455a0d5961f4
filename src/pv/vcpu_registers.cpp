// SPDX-License-Identifier: MIT
// Virtual CR0.TS, debug registers and I/O privilege of a PV vCPU. [pv-abi.md §3.22, §4.9]
#include "hv/pv/vcpu_registers.hpp"

#include "hv/pv/domain.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/vcpu_private.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

// DR6: bit 12 reads as 0; bits 4-11 and 16-31 read as 1. [SDM 3B §18.2.3; Xen asm/debugreg.h]
constexpr u64 kDr6ReservedZero = 0x1000, kDr6ReservedOne = 0xffff0ff0;
// DR7: bits 11, 12, 14 and 15 read as 0; bit 10 reads as 1. [SDM 3B §18.2.4]
constexpr u64 kDr7ReservedZero = 0xd800, kDr7ReservedOne = 0x400;
constexpr u64 kDr7GeneralDetect = 1u << 13;
constexpr u64 kDr7EnableBits = 0xff;  // L0, G0 ... L3, G3
constexpr unsigned kDr7ControlShift = 16, kDr7ControlSize = 4;
constexpr u64 kDr7RwIo = 2;  // R/W field 10b: an I/O breakpoint, needs CR4.DE

// What a PV guest may put in DR0-3: lower-half addresses and the guest part of the upper half.
bool guest_address(u64 value) { return value < (u64{1} << 47) || value >= xen::kHypervisorVirtEnd; }

long set_dr7(Vcpu& vcpu, u64 value) {
    if ((value >> 32) != 0) return -xen::kEINVAL;
    value = (value & ~kDr7ReservedZero) | kDr7ReservedOne;
    if ((value & kDr7GeneralDetect) != 0) return -xen::kEPERM;
    // An I/O breakpoint counts only once enabled; with CR4.DE always clear it is refused.
    if ((value & kDr7EnableBits) != 0)
        for (unsigned shift = kDr7ControlShift; shift < 32; shift += kDr7ControlSize)
            if (((value >> shift) & 3) == kDr7RwIo) return -xen::kEPERM;
    vcpu_private(vcpu)->dr7 = value & ~kDr7ReservedOne;
    sync_hardware_debug_registers(vcpu);
    return 0;
}

}  // namespace

void set_virtual_ts(Vcpu& vcpu, bool set) {
    vcpu.cr0_ts = set;
    write_hardware_ts(vcpu, set);
}

long set_debug_register(Vcpu& vcpu, u32 reg, u64 value) {
    switch (reg) {
        case 0: case 1: case 2: case 3:
            if (!guest_address(value)) return -xen::kEPERM;
            vcpu_private(vcpu)->dr[reg] = value;
            sync_hardware_debug_registers(vcpu);
            return 0;
        case 4:  // DR4/DR5 alias DR6/DR7 while CR4.DE is clear
        case 6:
            if ((value >> 32) != 0) return -xen::kEINVAL;
            vcpu_private(vcpu)->dr6 = value & ~(kDr6ReservedZero | kDr6ReservedOne);
            return 0;
        case 5:
        case 7: return set_dr7(vcpu, value);
        default: return -xen::kENODEV;
    }
}

Optional<u64> get_debug_register(Vcpu& vcpu, u32 reg) {
    const VcpuPrivateView state = vcpu_private(vcpu);
    switch (reg) {
        case 0: case 1: case 2: case 3: return state->dr[reg];
        case 4:
        case 6: return state->dr6 | kDr6ReservedOne;
        case 5:
        case 7: return state->dr7 | kDr7ReservedOne;
        default: return {};
    }
}

bool debug_registers_active(Vcpu& vcpu) { return (vcpu_private(vcpu)->dr7 & kDr7EnableBits) != 0; }

void merge_debug_status(Vcpu& vcpu, u64 hardware_dr6) {
    // The bits outside the always-one/always-zero sets are active-high status bits.
    vcpu_private(vcpu)->dr6 |= hardware_dr6 & ~(kDr6ReservedZero | kDr6ReservedOne) & 0xffffffff;
}

bool vm_assist_enabled(const Domain& domain, unsigned type) {
    return type < 64 && ((domain.vm_assist >> type) & 1) != 0;
}

bool io_privileged(const Vcpu& vcpu) {
    const unsigned kernel_cpl = vm_assist_enabled(*vcpu.domain, xen::kVmAsstTypeArchitecturalIopl) ? 0 : 1;
    return vcpu.iopl >= (vcpu.kernel_mode ? kernel_cpl : 3);
}

}  // namespace hv::pv
