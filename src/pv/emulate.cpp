// SPDX-License-Identifier: MIT
// Privileged-instruction emulation for PV guests. [pv-abi.md §4.9]
#include "hv/pv/emulate.hpp"

#include "hv/core/addr.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/vcpu_private.hpp"
#include "hv/pv/vcpu_registers.hpp"
#include "hv/pv/xen_abi.hpp"
#include "emulate_internal.hpp"

namespace hv::pv {
namespace {

constexpr u8 kForcedPrefix[] = {0x0f, 0x0b, 0x78, 0x65, 0x6e};  // ud2; .ascii "xen"
constexpr u64 kGuestCr0 = 0x80050033;  // PG|AM|WP|NE|ET|MP|PE, as Xen reports it
constexpr u64 kGuestCr4 = 0x660;       // PAE|MCE|OSFXSR|OSXMMEXCPT, as Xen reports it
constexpr u32 kMsrApicBase = 0x1b, kMsrPat = 0x277, kMsrEfer = 0xc0000080;
constexpr u64 kXenPat = 0x0000050100070406;
constexpr u32 kMaxHypervisorLeaf = 0x40000002;

constexpr u64 kCr0Ts = 1u << 3;
constexpr u64 kCr4De = 1u << 3;
constexpr u64 kFlagTf = 1u << 8, kFlagRf = 1u << 16;
constexpr u64 kDr6SingleStep = 1u << 14;  // DR6.BS

u64 guest_cr3(const Vcpu& vcpu) { return vcpu.kernel_mode ? vcpu.kernel_cr3 : vcpu.user_cr3; }
u64 guest_cr0(const Vcpu& vcpu) { return kGuestCr0 | (vcpu.cr0_ts ? kCr0Ts : 0); }

Emulation read_control_register(Vcpu& vcpu, arch::TrapFrame& regs, const Instruction& insn, usize at) {
    if (at + 3 > insn.length || (insn.bytes[at + 2] & 0xc0) != 0xc0) return Emulation::NotHandled;
    const u8 modrm = insn.bytes[at + 2];
    const unsigned cr = ((modrm >> 3) & 7) | ((insn.rex & 4) ? 8 : 0);
    const unsigned reg = (modrm & 7) | ((insn.rex & 1) ? 8 : 0);
    u64 value = 0;
    switch (cr) {
        case 0: value = guest_cr0(vcpu); break;
        case 2: value = vcpu_private(vcpu)->cr2; break;
        case 3: value = guest_cr3(vcpu); break;
        case 4: value = kGuestCr4 | (vcpu.cr4_de ? kCr4De : 0); break;
        default: return Emulation::RaiseGp;
    }
    gpr(regs, reg) = value;
    regs.rip += at + 3;
    return Emulation::Done;
}

Emulation write_control_register(Vcpu& vcpu, arch::TrapFrame& regs, const Instruction& insn, usize at) {
    if (at + 3 > insn.length || (insn.bytes[at + 2] & 0xc0) != 0xc0) return Emulation::NotHandled;
    const u8 modrm = insn.bytes[at + 2];
    const unsigned cr = ((modrm >> 3) & 7) | ((insn.rex & 4) ? 8 : 0);
    const u64 value = gpr(regs, (modrm & 7) | ((insn.rex & 1) ? 8 : 0));
    if (cr == 0) {
        if (((value ^ guest_cr0(vcpu)) & ~kCr0Ts) != 0) return Emulation::RaiseGp;  // only TS may change
        set_virtual_ts(vcpu, (value & kCr0Ts) != 0);
    } else if (cr == 2) {
        vcpu_private(vcpu)->cr2 = value;
    } else if (cr == 4) {
        // DE is the guest's to set when CPUID offers it (Xen's pv_fixup_guest_cr4); the other bits
        // are silently ignored (Xen also lets TSD, FSGSBASE and OSXSAVE through; not done here).
        set_virtual_de(vcpu, value);
    } else {
        return Emulation::RaiseGp;  // CR3 loads: not yet
    }
    regs.rip += at + 3;
    return Emulation::Done;
}

// mov %drN, reg (0F 21) and mov reg, %drN (0F 23), with the rules of set_debugreg/get_debugreg:
// a register that does not exist is #UD, a refused value #GP(0). [pv-abi.md §3.22]
Emulation debug_register(Vcpu& vcpu, arch::TrapFrame& regs, const Instruction& insn, usize at, bool write) {
    if (at + 3 > insn.length) return Emulation::NotHandled;
    const u8 modrm = insn.bytes[at + 2];  // always a register operand, whatever the mod bits say
    const u32 dr = ((modrm >> 3) & 7) | ((insn.rex & 4) ? 8 : 0);
    u64& reg = gpr(regs, (modrm & 7) | ((insn.rex & 1) ? 8 : 0));
    if (write) {
        const long result = set_debug_register(vcpu, dr, reg);
        if (result == -xen::kENODEV) return Emulation::RaiseUd;
        if (result != 0) return Emulation::RaiseGp;
    } else {
        const Optional<u64> value = get_debug_register(vcpu, dr);
        if (!value) return Emulation::RaiseUd;
        reg = value.value();
    }
    regs.rip += at + 3;
    return Emulation::Done;
}

bool read_msr(u32 msr, u64& value) {
    switch (msr) {
        case kMsrApicBase: value = 0xfee00000 | (1u << 11) | (1u << 8); return true;
        case kMsrPat: value = kXenPat; return true;
        case kMsrEfer: value = 0xd01; return true;  // SCE|LME|LMA|NXE
        default: return false;
    }
}

Emulation msr_access(arch::TrapFrame& regs, bool write, usize length) {
    const u32 msr = static_cast<u32>(regs.rcx);
    if (write) {
        u64 current = 0;
        const u64 value = (regs.rdx << 32) | (regs.rax & 0xffffffff);
        if (!read_msr(msr, current) || value != current) return Emulation::RaiseGp;  // only no-op writes
    } else {
        u64 value = 0;
        if (!read_msr(msr, value)) return Emulation::RaiseGp;
        regs.rax = value & 0xffffffff;
        regs.rdx = value >> 32;
    }
    regs.rip += length;
    return Emulation::Done;
}

// Retires an emulated instruction as Xen does: RF cleared (x86_emulate and
// pv_emul_instruction_done do, so a breakpoint on the next instruction is not suppressed), and
// one #DB after it when it hit an I/O breakpoint or runs under RFLAGS.TF (single-step, DR6.BS;
// the emulated instructions never change TF, so the flag now is the flag it started with). DR6
// collects the bits sticky, as 4.17's `dr6 |= bpmatch | DR_STEP`. A refused instruction never
// comes here: its fault is delivered instead, with no step.
Emulation retire(Vcpu& vcpu, arch::TrapFrame& regs, Emulation result, const Retirement& retirement) {
    if (result != Emulation::Done) return result;
    regs.rflags &= ~kFlagRf;
    u64 status = retirement.breakpoints;
    if ((regs.rflags & kFlagTf) != 0 && retirement.single_step) status |= kDr6SingleStep;
    if (status == 0) return Emulation::Done;
    merge_debug_status(vcpu, status);
    return Emulation::DoneDebugTrap;
}

// The privileged instructions other than I/O and CLI/STI: guest kernel mode only.
Emulation emulate_kernel_only(Vcpu& vcpu, arch::TrapFrame& regs, const Instruction& insn) {
    if (!vcpu.kernel_mode) return Emulation::NotHandled;  // user mode: the #GP stands
    const usize at = insn.prefix_count;
    if (at + 2 > insn.length || insn.bytes[at] != 0x0f) return Emulation::NotHandled;
    switch (insn.bytes[at + 1]) {
        case 0x20: return read_control_register(vcpu, regs, insn, at);
        case 0x22: return write_control_register(vcpu, regs, insn, at);
        case 0x21: return debug_register(vcpu, regs, insn, at, /*write=*/false);
        case 0x23: return debug_register(vcpu, regs, insn, at, /*write=*/true);
        case 0x06:  // CLTS
            set_virtual_ts(vcpu, false);
            regs.rip += at + 2;
            return Emulation::Done;
        case 0x32: return msr_access(regs, /*write=*/false, at + 2);
        case 0x30: return msr_access(regs, /*write=*/true, at + 2);
        default: return Emulation::NotHandled;
    }
}

}  // namespace

u64& gpr(arch::TrapFrame& regs, unsigned number) {
    u64* const table[] = {&regs.rax, &regs.rcx, &regs.rdx, &regs.rbx, &regs.rsp, &regs.rbp, &regs.rsi, &regs.rdi,
                          &regs.r8,  &regs.r9,  &regs.r10, &regs.r11, &regs.r12, &regs.r13, &regs.r14, &regs.r15};
    return *table[number & 15];
}

bool fetch(Vcpu& vcpu, u64 rip, Instruction& insn) {
    insn = Instruction{};
    insn.length = sizeof insn.bytes;
    while (insn.length > 0 && !copy_from_guest(vcpu, insn.bytes, rip, insn.length)) --insn.length;
    for (; insn.prefix_count < insn.length; ++insn.prefix_count) {
        const u8 b = insn.bytes[insn.prefix_count];
        if ((b & 0xf0) == 0x40) insn.rex = b;
        else if (b == 0x66) insn.operand_size_16 = true;
        else if (b == 0x67) insn.address_size_32 = true;
        else if (b == 0xf2 || b == 0xf3) insn.rep = true;
        else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65) insn.segment = b;
        else break;
    }
    return insn.length > 0;
}

CpuidLeaf guest_cpuid(u32 leaf, u32 subleaf) {
    if (leaf >= 0x40000000 && leaf < 0x40000100) {
        switch (leaf) {
            case 0x40000000: return {kMaxHypervisorLeaf, 0x566e6558, 0x65584d4d, 0x4d4d566e};  // "XenVMMXenVMM"
            case 0x40000001: return {(4u << 16) | 17, 0, 0, 0};                              // Xen 4.17 ABI
            case 0x40000002: return {1, 0x40000000, 0, 0};  // one hypercall page; MSR base (unused by PV)
            default: return {0, 0, 0, 0};
        }
    }
    CpuidLeaf value = host_cpuid(leaf, subleaf);
    if (leaf == 1) {
        value.ecx &= ~((1u << 3) | (1u << 5) | (1u << 6) | (1u << 21));  // MONITOR, VMX, SMX, x2APIC
        value.ecx |= 1u << 31;                                          // running on a hypervisor
    } else if (leaf == 7 && subleaf == 0) {
        value.ebx &= ~1u;  // FSGSBASE: not virtualised (and QEMU TCG's WRFSBASE misses #GP, §4.10)
    }
    return value;
}

Emulation emulate_invalid_opcode(Vcpu& vcpu, arch::TrapFrame& regs) {
    Instruction insn{};
    if (!fetch(vcpu, regs.rip, insn) || insn.length < 7) return Emulation::NotHandled;
    for (usize i = 0; i < sizeof kForcedPrefix; ++i)
        if (insn.bytes[i] != kForcedPrefix[i]) return Emulation::NotHandled;
    if (insn.bytes[5] != 0x0f || insn.bytes[6] != 0xa2) return Emulation::NotHandled;  // only CPUID
    const CpuidLeaf value = guest_cpuid(static_cast<u32>(regs.rax), static_cast<u32>(regs.rcx));
    regs.rax = value.eax;
    regs.rbx = value.ebx;
    regs.rcx = value.ecx;
    regs.rdx = value.edx;
    regs.rip += 7;
    return retire(vcpu, regs, Emulation::Done, Retirement{});  // Xen: pv_emul_instruction_done
}

Emulation emulate_privileged(Vcpu& vcpu, arch::TrapFrame& regs) {
    Instruction insn{};
    if (!fetch(vcpu, regs.rip, insn)) return Emulation::NotHandled;
    // I/O and interrupt-flag instructions are checked against the virtual IOPL in either mode.
    Retirement retirement;
    Emulation result = emulate_io(vcpu, regs, insn, retirement);
    if (result == Emulation::NotHandled) result = emulate_kernel_only(vcpu, regs, insn);
    return retire(vcpu, regs, result, retirement);
}

}  // namespace hv::pv
