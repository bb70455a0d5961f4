// SPDX-License-Identifier: MIT
// Small per-vCPU hypercalls: vm_assist, physdev_op, fpu_taskswitch, set_debugreg, get_debugreg and
// set_segment_base. [pv-abi.md §3.16, §3.17, §3.22]
//
// Xen declares several arguments as `int` or `unsigned int`: only their low 32 bits count.
#include "hv/core/addr.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/vcpu_registers.hpp"
#include "hv/pv/xen_abi.hpp"
#include "hypercall_handlers.hpp"

namespace hv::pv {
namespace {

// The assists Xen 4.17 accepts from a 64-bit PV guest. Isola only records them: of these, only
// architectural_iopl changes what Isola does.
constexpr u64 kValidVmAssists =
    (u64{1} << xen::kVmAsstType4gbSegments) | (u64{1} << xen::kVmAsstType4gbSegmentsNotify) |
    (u64{1} << xen::kVmAsstTypeWritablePagetables) | (u64{1} << xen::kVmAsstTypePaeExtendedCr3) |
    (u64{1} << xen::kVmAsstTypeArchitecturalIopl) | (u64{1} << xen::kVmAsstTypeRunstateUpdateFlag) |
    (u64{1} << xen::kVmAsstTypeM2pStrict);

u32 low32(u64 value) { return static_cast<u32>(value); }

}  // namespace

long vm_assist(Vcpu& vcpu, const HypercallArgs& args) {
    const u32 command = low32(args.arg[0]), type = low32(args.arg[1]);
    // The type is checked before the command, as Xen does.
    if (type >= 64 || ((kValidVmAssists >> type) & 1) == 0) return -xen::kEINVAL;
    switch (command) {
        case xen::kVmAsstCmdEnable: vcpu.domain->vm_assist |= u64{1} << type; return 0;
        case xen::kVmAsstCmdDisable: vcpu.domain->vm_assist &= ~(u64{1} << type); return 0;
        default: return -xen::kENOSYS;
    }
}

long physdev_op(Vcpu& vcpu, const HypercallArgs& args) {
    switch (low32(args.arg[0])) {
        case xen::kPhysdevOpSetIopl: {
            xen::PhysdevSetIopl request{};
            if (!copy_from_guest(vcpu, &request, args.arg[1], sizeof request)) return -xen::kEFAULT;
            if (request.iopl > 3) return -xen::kEINVAL;
            vcpu.iopl = static_cast<u8>(request.iopl);
            return 0;
        }
        default: return -xen::kENOSYS;  // Isola has no physical devices, IRQs or I/O bitmaps to give
    }
}

long fpu_taskswitch(Vcpu& vcpu, const HypercallArgs& args) {
    set_virtual_ts(vcpu, low32(args.arg[0]) != 0);
    return 0;
}

long set_debugreg(Vcpu& vcpu, const HypercallArgs& args) {
    return set_debug_register(vcpu, low32(args.arg[0]), args.arg[1]);
}

long get_debugreg(Vcpu& vcpu, const HypercallArgs& args) {
    // A register value can look like an error code; Xen's ABI has the same flaw.
    const Optional<u64> value = get_debug_register(vcpu, low32(args.arg[0]));
    return value ? static_cast<long>(value.value()) : -xen::kENODEV;
}

long set_segment_base(Vcpu& vcpu, const HypercallArgs& args) {
    const u64 base = args.arg[1];
    SegmentBase which{};
    switch (low32(args.arg[0])) {
        case xen::kSegbaseFs: which = SegmentBase::Fs; break;
        case xen::kSegbaseGsUser: which = SegmentBase::GsUser; break;
        case xen::kSegbaseGsKernel: which = SegmentBase::GsKernel; break;
        case xen::kSegbaseGsUserSel:
            // Errors are not reported: a selector that cannot be loaded leaves the null selector.
            load_user_gs_selector(vcpu, static_cast<u16>(base));
            return 0;
        default: return -xen::kEINVAL;
    }
    if (!is_canonical(base)) return -xen::kEINVAL;
    write_segment_base(vcpu, which, base);
    return 0;
}

}  // namespace hv::pv
