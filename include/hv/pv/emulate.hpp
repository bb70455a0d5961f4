// SPDX-License-Identifier: MIT
// Emulation of the privileged instructions a PV kernel executes at CPL 3. [pv-abi.md §4.9]
//
// A #UD may be the forced-emulation CPUID ("ud2; 'xen'; cpuid"); a #GP(0) may be a control
// register access, a debug-register move, RDMSR/WRMSR, CLTS, IN/OUT/INS/OUTS or CLI/STI. Anything
// else, or any of these in guest user mode except the I/O ones (which obey the virtual IOPL), is
// reflected to the guest as the original fault. A completed instruction is retired as Xen 4.17
// does: RF cleared, and #DB after it for an I/O breakpoint hit and for RFLAGS.TF (DR6.BS; not
// after CLI/STI, which Xen's x86_emulate retires without a step). A refused one only faults.
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
    DoneDebugTrap,  // emulated, then a #DB after it (I/O breakpoint hit or RFLAGS.TF): DR6 updated
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
