// SPDX-License-Identifier: MIT
// Emulation of the privileged instructions a PV kernel executes at CPL 3. [pv-abi.md §4.9]
//
// A #UD may be the forced-emulation CPUID ("ud2; 'xen'; cpuid"); a #GP(0) may be a control
// register access, a debug-register move, RDMSR/WRMSR, CLTS, IN/OUT/INS/OUTS or CLI/STI. Anything
// else, or any of these in guest user mode except the I/O ones (which obey the virtual IOPL), is
// reflected to the guest as the original fault.
#pragma once

#include "arch/trap_frame.hpp"
#include "hv/core/types.hpp"

namespace hv::pv {

struct Vcpu;

enum class Emulation : u8 {
    Done,         // emulated; RIP advanced past the instruction
    NotHandled,   // not ours: deliver the original fault
    RaiseGp,      // deliver #GP(0) at the instruction
    RaiseUd,      // deliver #UD at the instruction
    DoneDebugTrap,  // emulated, and it hit an I/O breakpoint: DR6 updated, deliver #DB after it
};

Emulation emulate_invalid_opcode(Vcpu& vcpu, arch::TrapFrame& regs);
Emulation emulate_privileged(Vcpu& vcpu, arch::TrapFrame& regs);

struct CpuidLeaf {
    u32 eax, ebx, ecx, edx;
};
// The CPUID values a PV guest sees (host values filtered, plus Xen's hypervisor leaves).
CpuidLeaf guest_cpuid(u32 leaf, u32 subleaf);

// Provided by the platform (the image executes CPUID; tests fake it).
CpuidLeaf host_cpuid(u32 leaf, u32 subleaf);

}  // namespace hv::pv
