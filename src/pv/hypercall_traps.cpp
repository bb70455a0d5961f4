// SPDX-License-Identifier: MIT
// The virtual IDT and the callbacks: set_trap_table, stack_switch, callback_op, set_callbacks.
// [pv-abi.md §3.3, §3.4, §3.7]
#include "hv/core/addr.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/xen_abi.hpp"
#include "hypercall_handlers.hpp"

namespace hv::pv {
namespace {

constexpr unsigned kMaxTrapEntries = 256;  // a longer list than one per vector is a guest bug

// Xen raises the handler selector's RPL to 3: a PV kernel runs in ring 3.
u16 ring3(u16 selector) { return static_cast<u16>(selector | 3); }

Callback* callback_slot(Vcpu& vcpu, u16 type) {
    switch (type) {
        case xen::kCallbackTypeEvent:
        case xen::kCallbackTypeFailsafe:
        case xen::kCallbackTypeSyscall:
        case xen::kCallbackTypeSysenter:
        case xen::kCallbackTypeSyscall32: return &vcpu.callbacks[type];
        default: return nullptr;
    }
}

}  // namespace

long set_trap_table(Vcpu& vcpu, const HypercallArgs& args) {
    const u64 list = args.arg[0];
    if (list == 0) {
        for (TrapEntry& entry : vcpu.traps) entry = TrapEntry{};
        return 0;
    }
    for (unsigned i = 0; i < kMaxTrapEntries; ++i) {
        xen::TrapInfo info{};
        if (!copy_from_guest(vcpu, &info, list + i * sizeof info, sizeof info)) return -xen::kEFAULT;
        if (info.address == 0) return 0;
        if (!is_canonical(info.address)) return -xen::kEINVAL;  // entries before it stay installed
        vcpu.traps[info.vector] = TrapEntry{info.address, ring3(info.cs),
                                            static_cast<u8>(info.flags & xen::kTrapDplMask),
                                            (info.flags & xen::kTrapMaskEvents) != 0};
    }
    return 0;
}

long stack_switch(Vcpu& vcpu, const HypercallArgs& args) {
    vcpu.kernel_ss = args.arg[0] | 3;
    vcpu.kernel_sp = args.arg[1];
    return 0;
}

long callback_op(Vcpu& vcpu, const HypercallArgs& args) {
    switch (args.arg[0]) {
        case xen::kCallbackOpRegister: {
            xen::CallbackRegister request{};
            if (!copy_from_guest(vcpu, &request, args.arg[1], sizeof request)) return -xen::kEFAULT;
            if (request.type == xen::kCallbackTypeNmi) {
                if (!is_canonical(request.address)) return -xen::kEINVAL;
                vcpu.traps[2] = TrapEntry{request.address, xen::kFlatKernelCs, 0, true};
                return 0;
            }
            Callback* slot = callback_slot(vcpu, request.type);
            if (slot == nullptr) return -xen::kENOSYS;
            if (!is_canonical(request.address)) return -xen::kEINVAL;
            const bool mask = request.type == xen::kCallbackTypeEvent ||
                              (request.flags & xen::kCallbackFlagMaskEvents) != 0;
            *slot = Callback{request.address, mask};
            return 0;
        }
        case xen::kCallbackOpUnregister: {
            xen::CallbackUnregister request{};
            if (!copy_from_guest(vcpu, &request, args.arg[1], sizeof request)) return -xen::kEFAULT;
            if (request.type == xen::kCallbackTypeNmi) {
                vcpu.traps[2] = TrapEntry{};
                return 0;
            }
            return callback_slot(vcpu, request.type) != nullptr ? -xen::kEINVAL : -xen::kENOSYS;
        }
        default: return -xen::kENOSYS;
    }
}

long set_callbacks(Vcpu& vcpu, const HypercallArgs& args) {
    vcpu.callbacks[xen::kCallbackTypeEvent] = Callback{args.arg[0], true};
    vcpu.callbacks[xen::kCallbackTypeFailsafe] = Callback{args.arg[1], false};
    vcpu.callbacks[xen::kCallbackTypeSyscall] = Callback{args.arg[2], false};
    return 0;
}

}  // namespace hv::pv
