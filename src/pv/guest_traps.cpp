// SPDX-License-Identifier: MIT
// Guest exceptions, INT n, user-mode SYSCALL and the iret hypercall. [pv-abi.md §4.4-4.7]
#include "hv/pv/guest_traps.hpp"

#include "hv/core/format.hpp"
#include "hv/pv/bounce.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/emulate.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/ldt.hpp"
#include "hv/pv/vcpu_private.hpp"
#include "hv/pv/vcpu_registers.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

constexpr unsigned kVectorDebug = 1, kVectorUd = 6, kVectorNm = 7, kVectorGp = 13, kVectorPf = 14;
constexpr u64 kPfUser = 1u << 2;
constexpr u64 kFlagIf = 1u << 9;
// RFLAGS bits an iret may restore: arithmetic, TF, DF, OF, NT cleared, AC, ID. IOPL and VM never.
constexpr u64 kIretFlagsMask = 0x00240dd5 | (1u << 8);

void crash(Vcpu& vcpu, const char* why) { domain_crash(*vcpu.domain, why); }

// Delivers `vector` through the virtual IDT, or crashes the domain when it has no handler.
void bounce_vector(Vcpu& vcpu, arch::TrapFrame& regs, unsigned vector, Optional<u64> error_code) {
    const TrapEntry& entry = vcpu.traps[vector];
    if (entry.address == 0) {
        char why[96];
        format(why, sizeof why, "unhandled exception vector %u at rip 0x%lx (no trap handler)", vector, regs.rip);
        return crash(vcpu, why);
    }
    const char* why = nullptr;
    if (!deliver(vcpu, regs, Delivery{entry.address, entry.mask_events, error_code, false}, &why)) crash(vcpu, why);
}

// A #GP whose error code names an IDT entry came from INT n through one of our DPL-0 gates.
// The vector comes from the instruction bytes: QEMU TCG reports n*16+2, hardware n*8+2.
void handle_int_n(Vcpu& vcpu, arch::TrapFrame& regs, u64 error_code) {
    u8 bytes[15] = {};
    usize readable = sizeof bytes;
    while (readable > 0 && !copy_from_guest(vcpu, bytes, regs.rip, readable)) --readable;
    u8 vector = 0;
    const unsigned length = decode_int_n(bytes, readable, vector);
    if (length == 0) return bounce_vector(vcpu, regs, kVectorGp, error_code);
    const TrapEntry& entry = vcpu.traps[vector];
    const bool fast_int80 = vector == 0x80 && entry.address != 0;
    const bool allowed = fast_int80 || (vcpu.kernel_mode ? entry.dpl >= 1 : entry.dpl == 3);
    if (!allowed) return bounce_vector(vcpu, regs, kVectorGp, u64{vector} * 8 + 2);
    regs.rip += length;
    bounce_vector(vcpu, regs, vector, {});
}

}  // namespace

unsigned decode_int_n(const u8* bytes, usize length, u8& vector) {
    usize i = 0;
    for (; i < length; ++i) {
        const u8 b = bytes[i];
        const bool legacy_prefix = b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 ||
                                   b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3;
        const bool rex = (b & 0xf0) == 0x40;
        if (!legacy_prefix && !rex) break;
    }
    if (i + 2 > length || i + 2 > 15 || bytes[i] != 0xcd) return 0;
    vector = bytes[i + 1];
    return static_cast<unsigned>(i + 2);
}

void handle_guest_exception(Vcpu& vcpu, arch::TrapFrame& regs, u64 cr2) {
    const unsigned vector = static_cast<unsigned>(regs.vector);
    if (vector == kVectorGp && (regs.error_code & 2) != 0) return handle_int_n(vcpu, regs, regs.error_code);
    if (vector == kVectorUd) {
        const Emulation result = emulate_invalid_opcode(vcpu, regs);
        if (result == Emulation::Done) return;
        if (result == Emulation::DoneDebugTrap) return bounce_vector(vcpu, regs, kVectorDebug, {});  // single-step
    }
    if (vector == kVectorGp && regs.error_code == 0) {
        const Emulation result = emulate_privileged(vcpu, regs);
        if (result == Emulation::Done) return;
        if (result == Emulation::DoneDebugTrap) return bounce_vector(vcpu, regs, kVectorDebug, {});
        if (result == Emulation::RaiseUd) return bounce_vector(vcpu, regs, kVectorUd, {});
        // RaiseGp and NotHandled both deliver #GP(0) at the instruction.
    }
    if (vector == kVectorNm) {
        // The hardware TS mirrors the virtual one: the guest set it, so it gets its #NM, and TS
        // clears on the way, as Xen clears it. A stray #NM with the virtual TS clear just retries.
        const bool guest_ts = vcpu.cr0_ts;
        set_virtual_ts(vcpu, false);
        if (!guest_ts) return;
    }
    Optional<u64> error_code;
    if (vector_has_error_code(vector)) error_code = regs.error_code;
    if (vector == kVectorPf && cr2 >= xen::kHypervisorVirtStart && cr2 < xen::kHypervisorVirtEnd) {
        // The CPU read the LDT through the hypervisor's window: a lazy mapping, the guest's #PF at
        // the LDT's own address, or #GP(selector) for a non-canonical one. [pv-abi.md §4.5]
        const LdtFault ldt = handle_ldt_fault(vcpu, cr2, regs.error_code);
        if (ldt.kind == LdtFaultKind::Fixed) return;
        if (ldt.kind == LdtFaultKind::GeneralProtection) return bounce_vector(vcpu, regs, kVectorGp, ldt.value);
        if (ldt.kind == LdtFaultKind::PageFault) cr2 = ldt.value;
    }
    if (vector == kVectorPf) {
        // The CPU always reports U (a PV kernel runs at CPL 3); the guest must see its own mode.
        error_code = (regs.error_code & ~kPfUser) | (vcpu.kernel_mode ? 0 : kPfUser);
        vcpu_private(vcpu)->cr2 = cr2;
        write_guest_cr2(vcpu, cr2);
    }
    bounce_vector(vcpu, regs, vector, error_code);
}

void handle_user_syscall(Vcpu& vcpu, arch::TrapFrame& regs) {
    const bool compat = regs.cs == xen::kFlatRing3Cs32;
    const Callback& callback = vcpu.callbacks[compat ? xen::kCallbackTypeSyscall32 : xen::kCallbackTypeSyscall];
    if (callback.address == 0) {
        regs.rip -= 2;  // #UD at the SYSCALL itself
        return bounce_vector(vcpu, regs, kVectorUd, {});
    }
    const char* why = nullptr;
    if (!deliver(vcpu, regs, Delivery{callback.address, callback.mask_events, {}, true}, &why)) crash(vcpu, why);
}

void do_iret(Vcpu& vcpu, arch::TrapFrame& regs) {
    xen::IretContext context;  // not zeroed first: read only once the copy filled it whole
    if (!copy_from_guest(vcpu, &context, regs.rsp, sizeof context)) return crash(vcpu, "iret frame unreadable");
    if ((context.cs & 3) == 3) {
        if (vcpu.user_cr3 == 0) return crash(vcpu, "iret to user mode with no user page table");
        switch_guest_mode(vcpu, /*to_kernel=*/false);
    }
    regs.rip = context.rip;
    regs.cs = context.cs | 3;
    regs.ss = context.ss | 3;
    regs.rsp = context.rsp;
    regs.rflags = (context.rflags & kIretFlagsMask) | kFlagIf | 0x2;
    // With VMASST architectural_iopl the frame's IOPL becomes the virtual IOPL.
    if (vm_assist_enabled(*vcpu.domain, xen::kVmAsstTypeArchitecturalIopl))
        vcpu.iopl = static_cast<u8>((context.rflags >> 12) & 3);
    if ((context.flags & xen::kVgcfInSyscall) == 0) {
        regs.rcx = context.rcx;
        regs.r11 = context.r11;
    }
    write_upcall_mask(vcpu, (context.rflags & kFlagIf) != 0 ? 0 : 1);
    regs.rax = context.rax;
}

}  // namespace hv::pv
