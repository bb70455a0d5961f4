// SPDX-License-Identifier: MIT
// Privileged-instruction emulation for PV guests. [pv-abi.md §4.9]
#include "hv/pv/emulate.hpp"

#include "hv/core/addr.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/guest_memory.hpp"

namespace hv::pv {
namespace {

constexpr u8 kForcedPrefix[] = {0x0f, 0x0b, 0x78, 0x65, 0x6e};  // ud2; .ascii "xen"
constexpr u64 kGuestCr0 = 0x80050033;  // PG|AM|WP|NE|ET|MP|PE, as Xen reports it
constexpr u64 kGuestCr4 = 0x660;       // PAE|MCE|OSFXSR|OSXMMEXCPT, as Xen reports it
constexpr u32 kMsrApicBase = 0x1b, kMsrPat = 0x277, kMsrEfer = 0xc0000080;
constexpr u64 kXenPat = 0x0000050100070406;
constexpr u32 kMaxHypervisorLeaf = 0x40000002;

// The guest's general registers by x86 number (0 = RAX ... 15 = R15).
u64& gpr(arch::TrapFrame& regs, unsigned number) {
    u64* const table[] = {&regs.rax, &regs.rcx, &regs.rdx, &regs.rbx, &regs.rsp, &regs.rbp, &regs.rsi, &regs.rdi,
                          &regs.r8,  &regs.r9,  &regs.r10, &regs.r11, &regs.r12, &regs.r13, &regs.r14, &regs.r15};
    return *table[number & 15];
}

struct Instruction {
    u8 bytes[15];
    usize length;  // readable bytes
    usize prefix_count;
    u8 rex;
};

bool fetch(Vcpu& vcpu, u64 rip, Instruction& insn) {
    insn.length = sizeof insn.bytes;
    while (insn.length > 0 && !copy_from_guest(vcpu, insn.bytes, rip, insn.length)) --insn.length;
    insn.prefix_count = 0;
    insn.rex = 0;
    while (insn.prefix_count < insn.length) {
        const u8 b = insn.bytes[insn.prefix_count];
        if ((b & 0xf0) == 0x40) insn.rex = b;
        else if (b != 0x66 && b != 0x67 && b != 0xf2 && b != 0xf3 && b != 0x2e && b != 0x3e) break;
        ++insn.prefix_count;
    }
    return insn.length > 0;
}

u64 guest_cr3(const Vcpu& vcpu) { return vcpu.kernel_mode ? vcpu.kernel_cr3 : vcpu.user_cr3; }

Emulation read_control_register(Vcpu& vcpu, arch::TrapFrame& regs, const Instruction& insn, usize at) {
    if (at + 3 > insn.length || (insn.bytes[at + 2] & 0xc0) != 0xc0) return Emulation::NotHandled;
    const u8 modrm = insn.bytes[at + 2];
    const unsigned cr = ((modrm >> 3) & 7) | ((insn.rex & 4) ? 8 : 0);
    const unsigned reg = (modrm & 7) | ((insn.rex & 1) ? 8 : 0);
    u64 value = 0;
    switch (cr) {
        case 0: value = kGuestCr0; break;
        case 2: value = vcpu.cr2; break;
        case 3: value = guest_cr3(vcpu); break;
        case 4: value = kGuestCr4; break;
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
    if (cr == 2) vcpu.cr2 = value;
    else if (cr == 4) { /* other CR4 bits are silently ignored, as Xen does */ }
    else return Emulation::RaiseGp;  // CR0 changes other than TS and CR3 loads: not yet
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

}  // namespace

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
    return Emulation::Done;
}

Emulation emulate_privileged(Vcpu& vcpu, arch::TrapFrame& regs) {
    if (!vcpu.kernel_mode) return Emulation::NotHandled;  // user mode: the #GP stands
    Instruction insn{};
    if (!fetch(vcpu, regs.rip, insn)) return Emulation::NotHandled;
    const usize at = insn.prefix_count;
    if (at + 2 > insn.length || insn.bytes[at] != 0x0f) return Emulation::NotHandled;
    switch (insn.bytes[at + 1]) {
        case 0x20: return read_control_register(vcpu, regs, insn, at);
        case 0x22: return write_control_register(vcpu, regs, insn, at);
        case 0x06: regs.rip += at + 2; return Emulation::Done;  // CLTS: no lazy FPU yet, TS stays clear
        case 0x32: return msr_access(regs, /*write=*/false, at + 2);
        case 0x30: return msr_access(regs, /*write=*/true, at + 2);
        default: return Emulation::NotHandled;
    }
}

}  // namespace hv::pv
