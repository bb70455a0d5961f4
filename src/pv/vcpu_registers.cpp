// SPDX-License-Identifier: MIT
// Virtual CR0.TS, debug registers and I/O privilege of a PV vCPU. [pv-abi.md §3.22, §4.9]
#include "hv/pv/vcpu_registers.hpp"

#include "hv/pv/domain.hpp"
#include "hv/pv/emulate.hpp"
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

// R/W and LEN of breakpoint `slot` in DR7.
u64 dr7_control(u64 dr7, unsigned slot) { return (dr7 >> (kDr7ControlShift + slot * kDr7ControlSize)) & 0xf; }

long set_dr7(Vcpu& vcpu, u64 value) {
    if ((value >> 32) != 0) return -xen::kEINVAL;
    value = (value & ~kDr7ReservedZero) | kDr7ReservedOne;
    if ((value & kDr7GeneralDetect) != 0) return -xen::kEPERM;
    // An I/O breakpoint counts only once enabled, and needs the virtual CR4.DE. Its enable bits
    // stay out of the hardware DR7: the hypervisor matches it on emulated port I/O, as Xen does.
    u64 io_enable = 0;
    if ((value & kDr7EnableBits) != 0)
        for (unsigned slot = 0; slot < 4; ++slot)
            if ((dr7_control(value, slot) & 3) == kDr7RwIo) {
                if (!vcpu.cr4_de) return -xen::kEPERM;
                io_enable |= value & (u64{3} << (2 * slot));
            }
    const VcpuPrivateView state = vcpu_private(vcpu);
    state->dr7_io = io_enable;
    state->dr7 = value & ~(kDr7ReservedOne | io_enable);
    sync_hardware_debug_registers(vcpu);
    return 0;
}

}  // namespace

void set_virtual_de(Vcpu& vcpu, u64 cr4) {
    constexpr u64 kCr4De = 1u << 3;
    constexpr u32 kCpuidEdxDe = 1u << 2;  // leaf 1
    vcpu.cr4_de = (cr4 & kCr4De) != 0 && (guest_cpuid(1, 0).edx & kCpuidEdxDe) != 0;
}

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
        case 4:  // DR4/DR5 alias DR6/DR7 while CR4.DE is clear, else they do not exist
            if (vcpu.cr4_de) return -xen::kENODEV;
            [[fallthrough]];
        case 6:
            if ((value >> 32) != 0) return -xen::kEINVAL;
            vcpu_private(vcpu)->dr6 = value & ~(kDr6ReservedZero | kDr6ReservedOne);
            return 0;
        case 5:
            if (vcpu.cr4_de) return -xen::kENODEV;
            [[fallthrough]];
        case 7: return set_dr7(vcpu, value);
        default: return -xen::kENODEV;
    }
}

Optional<u64> get_debug_register(Vcpu& vcpu, u32 reg) {
    const VcpuPrivateView state = vcpu_private(vcpu);
    switch (reg) {
        case 0: case 1: case 2: case 3: return state->dr[reg];
        case 4:
            if (vcpu.cr4_de) return {};
            [[fallthrough]];
        case 6: return state->dr6 | kDr6ReservedOne;
        case 5:
            if (vcpu.cr4_de) return {};
            [[fallthrough]];
        case 7: return state->dr7 | state->dr7_io | kDr7ReservedOne;
        default: return {};
    }
}

bool debug_registers_active(Vcpu& vcpu) { return (vcpu_private(vcpu)->dr7 & kDr7EnableBits) != 0; }

void merge_debug_status(Vcpu& vcpu, u64 hardware_dr6) {
    // The bits outside the always-one/always-zero sets are active-high status bits.
    vcpu_private(vcpu)->dr6 |= hardware_dr6 & ~(kDr6ReservedZero | kDr6ReservedOne) & 0xffffffff;
}

u64 io_breakpoint_match(Vcpu& vcpu, u32 port, unsigned size) {
    if (!vcpu.cr4_de) return 0;  // the common case: no view taken
    const VcpuPrivateView state = vcpu_private(vcpu);
    if (state->dr7_io == 0) return 0;
    u64 match = 0;
    for (unsigned slot = 0; slot < 4; ++slot) {
        if ((state->dr7_io & (u64{3} << (2 * slot))) == 0) continue;
        // LEN 00b, 01b, 11b, 10b: 1, 2, 4, 8 bytes. Xen 4.17 does not align the start down.
        static constexpr u64 kWidth[4] = {1, 2, 8, 4};
        const u64 start = state->dr[slot], width = kWidth[dr7_control(state->dr7, slot) >> 2];
        if (start < u64{port} + size && start + width > port) match |= u64{1} << slot;
    }
    return match;
}

bool vm_assist_enabled(const Domain& domain, unsigned type) {
    return type < 64 && ((domain.vm_assist >> type) & 1) != 0;
}

bool io_privileged(const Vcpu& vcpu) {
    const unsigned kernel_cpl = vm_assist_enabled(*vcpu.domain, xen::kVmAsstTypeArchitecturalIopl) ? 0 : 1;
    return vcpu.iopl >= (vcpu.kernel_mode ? kernel_cpl : 3);
}

}  // namespace hv::pv
