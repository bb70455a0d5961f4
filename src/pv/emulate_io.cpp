// SPDX-License-Identifier: MIT
// Emulation of IN, OUT, INS, OUTS, CLI and STI for PV guests. [pv-abi.md §4.9]
//
// A PV guest runs with the hardware IOPL at 0 and no I/O bitmap, so every one of these faults
// with #GP(0) and comes here, from guest kernel or user mode alike. The instruction is allowed
// when the virtual IOPL covers the vCPU's virtual CPL (io_privileged); otherwise the guest gets
// its #GP(0). An allowed access still reaches no device: Isola grants guests NO real I/O ports,
// so reads return all ones and writes are dropped, which is what Xen does for ports a domain has
// not been given. CLI and STI are no-ops: the virtual interrupt flag is vcpu_info's upcall mask,
// and Xen does not touch it here either. An IN/OUT/INS/OUTS that touches a port an enabled I/O
// breakpoint covers (virtual CR4.DE set) reports B0-B3 for the #DB after the instruction, as
// Xen's check_guest_io_breakpoint does; emulate.cpp delivers it (with BS when single-stepping).
#include "hv/core/optional.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/vcpu_registers.hpp"
#include "emulate_internal.hpp"

namespace hv::pv {
namespace {

// A REP INS/OUTS does at most this many elements per trap; RIP stays on the instruction until
// RCX reaches 0, so the rest runs when the guest re-executes it (as an interrupted REP does).
constexpr u64 kMaxElementsPerTrap = 1024;
constexpr u64 kFlagTf = 1u << 8, kFlagDf = 1u << 10;
constexpr u8 kPrefixFs = 0x64, kPrefixGs = 0x65;

enum class IoKind : u8 { In, Out, Ins, Outs, InterruptFlag };

struct IoInstruction {
    IoKind kind;
    unsigned size;  // bytes per access: 1, 2 or 4
    usize length;   // instruction length including prefixes
};

// Decodes the opcode after the prefixes; nothing when it is not an I/O or CLI/STI instruction.
Optional<IoInstruction> decode(const Instruction& insn) {
    const usize at = insn.prefix_count;
    if (at >= insn.length) return {};
    const u8 opcode = insn.bytes[at];
    const unsigned wide = insn.operand_size_16 ? 2 : 4;  // REX.W does not widen port I/O
    const bool has_imm8 = at + 2 <= insn.length;
    switch (opcode) {
        case 0xe4: case 0xe5: case 0xe6: case 0xe7:  // IN/OUT with an 8-bit port number
            if (!has_imm8) return {};
            return IoInstruction{opcode < 0xe6 ? IoKind::In : IoKind::Out, (opcode & 1) ? wide : 1u, at + 2};
        case 0xec: case 0xed: return IoInstruction{IoKind::In, (opcode & 1) ? wide : 1u, at + 1};   // port in DX
        case 0xee: case 0xef: return IoInstruction{IoKind::Out, (opcode & 1) ? wide : 1u, at + 1};
        case 0x6c: case 0x6d: return IoInstruction{IoKind::Ins, (opcode & 1) ? wide : 1u, at + 1};
        case 0x6e: case 0x6f: return IoInstruction{IoKind::Outs, (opcode & 1) ? wide : 1u, at + 1};
        case 0xfa: case 0xfb: return IoInstruction{IoKind::InterruptFlag, 0, at + 1};  // CLI, STI
        default: return {};
    }
}

// IN: all ones into AL, AX or EAX (a 32-bit result clears bits 63:32, as any 32-bit write does).
void read_all_ones(arch::TrapFrame& regs, unsigned size) {
    if (size == 4) regs.rax = 0xffffffff;
    else if (size == 2) regs.rax |= 0xffff;
    else regs.rax |= 0xff;
}

// The base OUTS reads through: only FS and GS overrides have one in 64-bit mode.
u64 source_base(Vcpu& vcpu, const Instruction& insn) {
    if (insn.segment == kPrefixFs) return read_segment_base(vcpu, SegmentBase::Fs);
    if (insn.segment == kPrefixGs)
        return read_segment_base(vcpu, vcpu.kernel_mode ? SegmentBase::GsKernel : SegmentBase::GsUser);
    return 0;
}

// INS stores all ones at ES:RDI; OUTS reads (and drops) DS:RSI, or FS:/GS:RSI with an override.
// At most `limit` elements; `done` counts them. A memory operand that cannot be accessed gives
// #GP(0) (Xen would deliver the #PF).
Emulation string_io(Vcpu& vcpu, arch::TrapFrame& regs, const Instruction& insn, const IoInstruction& io, u64 limit,
                    u64& done) {
    const bool ins = io.kind == IoKind::Ins;
    const u64 address_mask = insn.address_size_32 ? 0xffffffff : ~u64{0};
    const u64 base = ins ? 0 : source_base(vcpu, insn);
    u64& index = ins ? regs.rdi : regs.rsi;
    const u64 step = (regs.rflags & kFlagDf) != 0 ? -u64{io.size} : u64{io.size};
    u64 remaining = insn.rep ? regs.rcx & address_mask : 1;
    for (done = 0; remaining > 0 && done < limit; ++done) {
        const u64 va = base + (index & address_mask);
        u32 data = 0xffffffff;
        const bool ok = ins ? copy_to_guest(vcpu, va, &data, io.size) : copy_from_guest(vcpu, &data, va, io.size);
        if (!ok) return Emulation::RaiseGp;
        index = (index + step) & address_mask;  // a 32-bit address size writes ESI/EDI, clearing 63:32
        --remaining;
        if (insn.rep) regs.rcx = remaining;
    }
    if (remaining == 0) regs.rip += io.length;
    return Emulation::Done;
}

// The port an I/O instruction accesses: its imm8, or DX.
u32 port_of(const Instruction& insn, const arch::TrapFrame& regs) {
    const u8 opcode = insn.bytes[insn.prefix_count];
    if (opcode >= 0xe4 && opcode <= 0xe7) return insn.bytes[insn.prefix_count + 1];
    return static_cast<u32>(regs.rdx & 0xffff);
}

// A REP INS/OUTS does one element per trap when each must be reported: under RFLAGS.TF
// (x86_emulate's get_rep_prefix) and when the port hits an I/O breakpoint (Xen's rep_ins and
// rep_outs stop after it). RIP stays on the instruction until RCX reaches 0.
u64 element_limit(const arch::TrapFrame& regs, u64 breakpoints) {
    return (regs.rflags & kFlagTf) != 0 || breakpoints != 0 ? 1 : kMaxElementsPerTrap;
}

}  // namespace

Emulation emulate_io(Vcpu& vcpu, arch::TrapFrame& regs, const Instruction& insn, Retirement& retire) {
    const Optional<IoInstruction> decoded = decode(insn);
    if (!decoded) return Emulation::NotHandled;
    const IoInstruction io = decoded.value();
    if (!io_privileged(vcpu)) return Emulation::RaiseGp;
    if (io.kind == IoKind::InterruptFlag) {
        // CLI/STI change nothing. Xen's validate() retires them as X86EMUL_DONE, which 4.17's
        // x86_emulate does not single-step: no #DB after them even with TF set.
        regs.rip += io.length;
        retire.single_step = false;
        return Emulation::Done;
    }
    const u64 breakpoints = io_breakpoint_match(vcpu, port_of(insn, regs), io.size);
    if (io.kind == IoKind::Ins || io.kind == IoKind::Outs) {
        u64 done = 0;
        const Emulation result = string_io(vcpu, regs, insn, io, element_limit(regs, breakpoints), done);
        // REP with RCX = 0 touches no port: Xen skips it before rep_ins/rep_outs, so no breakpoint.
        if (result == Emulation::Done && done > 0) retire.breakpoints = breakpoints;
        return result;
    }
    if (io.kind == IoKind::In) read_all_ones(regs, io.size);  // OUT: the write is dropped
    regs.rip += io.length;
    retire.breakpoints = breakpoints;
    return Emulation::Done;
}

}  // namespace hv::pv
