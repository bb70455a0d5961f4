// SPDX-License-Identifier: MIT
// Virtual registers of a PV vCPU that hypercalls and emulated instructions share: CR0.TS, the
// debug registers DR0-DR7 and the virtual I/O privilege level. [pv-abi.md §3.16, §3.17, §3.22, §4.9]
//
// Of CR4, Isola virtualises DE only (as Xen, when CPUID has DE; other bits written are ignored):
// with it clear DR4/DR5 alias DR6/DR7 and enabling an I/O breakpoint is -EPERM; with it set
// DR4/DR5 do not exist (-ENODEV, #UD) and I/O breakpoints are matched on emulated port I/O.
#pragma once

#include "hv/core/optional.hpp"
#include "hv/core/types.hpp"

namespace hv::pv {

struct Domain;
struct Vcpu;

// Sets or clears the virtual CR0.TS. The hardware TS follows it while the vCPU runs, so a set TS
// makes the guest's next FPU/SSE instruction raise #NM, which is forwarded to the guest.
void set_virtual_ts(Vcpu& vcpu, bool set);
// A write of `cr4` to the virtual CR4: only DE is kept, and only when the guest's CPUID leaf 1
// offers DE (Xen's pv_fixup_guest_cr4 for that bit). Reads show it (emulate.cpp).
void set_virtual_de(Vcpu& vcpu, u64 cr4);

// Writes debug register `reg` with Xen's rules: DR0-3 must hold guest addresses (else -EPERM);
// DR6/DR7 (and DR4/DR5, their aliases while CR4.DE is clear) must fit in 32 bits (else -EINVAL)
// and get their reserved bits forced; DR7.GD, and enabled I/O breakpoints without CR4.DE, are
// -EPERM; any other register is -ENODEV. Enabled I/O breakpoints stay out of the hardware DR7.
// Returns 0 or that negated Xen errno; on error nothing changes. A change reaches the hardware
// at once when the vCPU is running here (sync_hardware_debug_registers), else at its next load.
long set_debug_register(Vcpu& vcpu, u32 reg, u64 value);
// True when DR7 enables a breakpoint (L0-L3/G0-G3): only then is the vCPU's DR7 loaded into the
// hardware; otherwise the hardware DR7 is 0 while it runs.
bool debug_registers_active(Vcpu& vcpu);
// The hardware DR6 after a #DB the guest caused: its status bits (B0-B3, BD, BS, BT) are added to
// the virtual DR6, which stays sticky until the guest writes it, as in Xen 4.17.
void merge_debug_status(Vcpu& vcpu, u64 hardware_dr6);
// The value of debug register `reg`, or nothing for a register that does not exist (-ENODEV).
// DR7 reads back with its I/O breakpoints' enable bits.
Optional<u64> get_debug_register(Vcpu& vcpu, u32 reg);

// The DR6 B0-B3 bits of the enabled I/O breakpoints that `size` bytes of port I/O at `port` hit
// (Xen's check_guest_io_breakpoint); 0 when none, or when CR4.DE is clear.
u64 io_breakpoint_match(Vcpu& vcpu, u32 port, unsigned size);

// True when VMASST type `type` is enabled for the domain.
bool vm_assist_enabled(const Domain& domain, unsigned type);

// True when the vCPU may execute IN/OUT/INS/OUTS/CLI/STI: its virtual IOPL is at least its
// virtual CPL (kernel 1, or 0 with VMASST architectural_iopl; user 3).
bool io_privileged(const Vcpu& vcpu);

}  // namespace hv::pv
