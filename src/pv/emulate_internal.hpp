// SPDX-License-Identifier: MIT
// Instruction fetch and decoding shared by the privileged-instruction emulators (emulate.cpp,
// emulate_io.cpp).
#pragma once

#include "arch/trap_frame.hpp"
#include "hv/core/types.hpp"
#include "hv/pv/emulate.hpp"

namespace hv::pv {

struct Vcpu;

// The guest's general registers by x86 number (0 = RAX ... 15 = R15).
u64& gpr(arch::TrapFrame& regs, unsigned number);

// An instruction's bytes at the guest RIP, with its prefixes decoded.
struct Instruction {
    u8 bytes[15];
    usize length;        // readable bytes
    usize prefix_count;  // the opcode is bytes[prefix_count]
    u8 rex;
    bool operand_size_16;  // 0x66
    bool address_size_32;  // 0x67
    bool rep;              // 0xf3 or 0xf2 (for string I/O both mean REP)
    u8 segment;            // 0 or the override prefix: 0x26 ES, 0x2e CS, 0x36 SS, 0x3e DS, 0x64 FS, 0x65 GS
};

// Reads up to 15 bytes at `rip` (fewer at the end of a mapping) and decodes the prefixes.
// False when not even one byte is readable.
bool fetch(Vcpu& vcpu, u64 rip, Instruction& insn);

// What a completed instruction leaves for its retirement (Xen's bpmatch and x86_emulate's
// retire.singlestep): the I/O breakpoints it hit, and whether RFLAGS.TF single-steps it.
struct Retirement {
    u64 breakpoints = 0;      // B0-B3 for DR6
    bool single_step = true;  // false for CLI/STI: Xen retires them without a step (emulate_io.cpp)
};

// IN, OUT, INS, OUTS, CLI and STI, from guest kernel or user mode (emulate_io.cpp). NotHandled
// when the opcode is none of these. `retire` is filled when the result is Done.
Emulation emulate_io(Vcpu& vcpu, arch::TrapFrame& regs, const Instruction& insn, Retirement& retire);

}  // namespace hv::pv
