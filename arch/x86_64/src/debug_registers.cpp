// SPDX-License-Identifier: MIT
// A PV vCPU's debug registers in the hardware while it runs, and the #DB it causes. [pv-abi.md §3.17]
//
// DR0-3 and DR7 are loaded when a vCPU whose DR7 enables a breakpoint is loaded (or changes them
// while it runs); a vCPU without one gets DR7 cleared if the pCPU still had breakpoints armed.
// The values were checked by set_debug_register: guest addresses only, no GD, no I/O breakpoints,
// so a breakpoint can only match guest code or guest data.
//
// Read/write data breakpoints (R/W = 11b) stay virtual: MOV SS/POP SS reads that hit one defer
// the #DB past a following SYSCALL into ring 0, on the guest's stack pointer (CVE-2018-8897), and
// #DB has no IST stack here to take it safely. Write-only and instruction breakpoints cannot be
// deferred that way (MOV SS/POP SS only read).
#include "arch/descriptors.hpp"
#include "arch/pv_run.hpp"
#include "arch/sched.hpp"
#include "arch/smp.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/vcpu_private.hpp"
#include "hv/pv/vcpu_registers.hpp"

namespace hv::arch {
namespace {

constexpr u64 kDr6Default = 0xffff0ff0;
constexpr u64 kDr7Fixed = 0x400;  // bit 10 reads as 1
constexpr u64 kDr7RwReadWrite = 3;
constexpr unsigned kDr7ControlShift = 16, kDr7ControlSize = 4;

// Whether this pCPU's DR7 may enable a breakpoint: switching to a vCPU without any then needs the
// one DR7 write that disarms them. Each pCPU writes only its own entry.
bool hardware_armed[kMaxCpus];

// The guest's DR7 as the hardware gets it: read/write breakpoints disabled (see the top).
u64 hardware_dr7(u64 dr7) {
    u64 value = dr7;
    for (unsigned bp = 0; bp < 4; ++bp)
        if (((dr7 >> (kDr7ControlShift + bp * kDr7ControlSize)) & 3) == kDr7RwReadWrite) value &= ~(u64{3} << (2 * bp));
    return value | kDr7Fixed;
}

void write_dr7(u64 value) { asm volatile("mov %0, %%dr7" ::"r"(value) : "memory"); }

u64 take_dr6() {
    u64 dr6;
    asm volatile("mov %%dr6, %0" : "=r"(dr6));
    // DR6 status bits are sticky in the hardware: reset it so the next #DB reports only its own.
    asm volatile("mov %0, %%dr6" ::"r"(kDr6Default) : "memory");
    return dr6;
}

}  // namespace

void load_debug_registers(pv::Vcpu& vcpu) {
    const unsigned cpu = current_cpu_index();
    if (!pv::debug_registers_active(vcpu)) {
        if (hardware_armed[cpu]) write_dr7(kDr7Fixed);
        hardware_armed[cpu] = false;
        return;
    }
    write_dr7(kDr7Fixed);  // no half-loaded breakpoint matches while DR0-3 change
    const pv::VcpuPrivateView state = pv::vcpu_private(vcpu);
    asm volatile("mov %0, %%dr0" ::"r"(state->dr[0]));
    asm volatile("mov %0, %%dr1" ::"r"(state->dr[1]));
    asm volatile("mov %0, %%dr2" ::"r"(state->dr[2]));
    asm volatile("mov %0, %%dr3" ::"r"(state->dr[3]));
    write_dr7(hardware_dr7(state->dr7));
    hardware_armed[cpu] = true;
}

void take_guest_debug_status(pv::Vcpu& vcpu) { pv::merge_debug_status(vcpu, take_dr6()); }

// A #DB in the hypervisor can only be a guest data breakpoint hit while the hypervisor accessed
// that guest address for it (copy_to_guest, a bounce frame): a trap, the access done. Xen 4.17
// ignores it and the guest sees nothing (no #DB, no DR6 bits); so does Isola.
void ignore_hypervisor_debug_trap() { (void)take_dr6(); }

}  // namespace hv::arch

namespace hv::pv {

void sync_hardware_debug_registers(Vcpu& vcpu) {
    if (arch::running_vcpu(arch::current_cpu_index()) == &vcpu) arch::load_debug_registers(vcpu);
}

}  // namespace hv::pv
