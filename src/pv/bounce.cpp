// SPDX-License-Identifier: MIT
// Bounce frames. [pv-abi.md §4.2-4.3]
#include "hv/pv/bounce.hpp"

#include "hv/pv/domain.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/vcpu_registers.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

constexpr u64 kFlagIf = 1u << 9, kFlagTf = 1u << 8, kFlagDf = 1u << 10, kFlagIopl = 3u << 12, kFlagNt = 1u << 14,
              kFlagRf = 1u << 16, kFlagVm = 1u << 17, kFlagAc = 1u << 18;

}  // namespace

bool vector_has_error_code(unsigned vector) {
    switch (vector) {
        case 8: case 10: case 11: case 12: case 13: case 14: case 17: case 21: case 29: case 30: return true;
        default: return false;
    }
}

BounceFrame make_bounce_frame(const arch::TrapFrame& regs, u64 stack, bool was_kernel, u8 saved_mask,
                              Optional<u64> error_code) {
    // Only the frame's own words are written: every exception, callback and upcall builds one.
    BounceFrame frame;
    // CS as interrupted, RPL cleared for kernel mode; the saved upcall mask in bits 32-39.
    const u64 cs = (was_kernel ? (regs.cs & ~u64{3}) : regs.cs) | (u64{saved_mask} << 32);
    // IF shows the virtual interrupt flag; IOPL is virtual (0 without architectural_iopl).
    const u64 rflags = (regs.rflags & ~(kFlagIf | kFlagIopl)) | (saved_mask != 0 ? 0 : kFlagIf);
    frame.words[3] = regs.rip;
    frame.words[4] = cs;
    frame.words[BounceFrame::kRflags] = rflags;
    frame.words[6] = regs.rsp;
    frame.words[7] = regs.ss;
    if (error_code) {  // RCX, R11, error code below RIP
        frame.words[0] = regs.rcx;
        frame.words[1] = regs.r11;
        frame.words[2] = error_code.value() & 0xffffffff;
        frame.count = 8;
    } else {           // RCX, R11 below RIP
        frame.words[1] = regs.rcx;
        frame.words[2] = regs.r11;
        frame.count = 7;
    }
    frame.rsp = (stack & ~u64{0xf}) - frame.count * 8;
    return frame;
}

bool deliver(Vcpu& vcpu, arch::TrapFrame& regs, const Delivery& delivery, const char** why) {
    const bool was_kernel = vcpu.kernel_mode;
    const u8 saved_mask = read_upcall_mask(vcpu);
    u64 stack = regs.rsp;
    if (!was_kernel) {
        switch_guest_mode(vcpu, /*to_kernel=*/true);
        stack = vcpu.kernel_sp;
    }
    BounceFrame frame = make_bounce_frame(regs, stack, was_kernel, saved_mask, delivery.error_code);
    // With VMASST architectural_iopl the frame's RFLAGS.IOPL shows the virtual IOPL. [pv-abi.md §3.17]
    if (vm_assist_enabled(*vcpu.domain, xen::kVmAsstTypeArchitecturalIopl))
        frame.words[BounceFrame::kRflags] |= u64{vcpu.iopl} << 12;
    if (!copy_to_guest(vcpu, frame.rsp, frame.first(), frame.count * 8)) {
        *why = "cannot write the bounce frame to the guest stack";
        return false;
    }
    regs.rip = delivery.handler;
    regs.cs = xen::kFlatKernelCs;
    regs.ss = xen::kFlatKernelSs;
    regs.rsp = frame.rsp;
    regs.rflags &= ~(kFlagAc | kFlagVm | kFlagRf | kFlagNt | kFlagTf | kFlagIopl | (delivery.clear_df ? kFlagDf : 0));
    regs.rflags |= kFlagIf | 0x2;
    if (delivery.mask_events) write_upcall_mask(vcpu, 1);
    return true;
}

}  // namespace hv::pv
