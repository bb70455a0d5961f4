// SPDX-License-Identifier: MIT
// A PV vCPU's debug registers in the hardware while it runs, and the #DB it causes. [pv-abi.md §3.17]
//
// DR0-3 and DR7 are loaded when a vCPU whose DR7 enables a breakpoint is loaded (or changes them
// while it runs); a vCPU without one gets DR7 cleared if the pCPU still had breakpoints armed.
// The values were checked by set_debug_register: guest addresses only, no GD, no I/O breakpoints,
// so a breakpoint can only match guest code or guest data.
//
// Every kind the guest may enable is loaded: instruction (R/W 00b), write (01b) and read/write
// (11b) breakpoints. A MOV SS/POP SS that reads a data breakpoint (or single-steps) defers the
// #DB past the next instruction; before a SYSCALL that means ring 0 on the guest's RSP
// (CVE-2018-8897). #DB has its own IST stack for that (vectors.S, debug_entry), so the hypervisor
// takes it safely and drops it, as Xen 4.17 does (ignore_hypervisor_debug_trap).
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

// Whether this pCPU's DR7 may enable a breakpoint: switching to a vCPU without any then needs the
// one DR7 write that disarms them. Each pCPU writes only its own entry.
bool hardware_armed[kMaxCpus];
// #DBs taken in the hypervisor and dropped, per pCPU (each writes only its own entry).
u64 dropped_traps[kMaxCpus];

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
    write_dr7(state->dr7 | kDr7Fixed);
    hardware_armed[cpu] = true;
}

void take_guest_debug_status(pv::Vcpu& vcpu) { pv::merge_debug_status(vcpu, take_dr6()); }

// A #DB in the hypervisor (on IST4) is a guest data breakpoint hit while the hypervisor accessed
// that guest address for it (copy_to_guest, copy_from_guest, a bounce frame), or one a MOV SS/POP
// SS held back past a SYSCALL (it then lands on the first instruction of the SYSCALL stub, guest
// RSP still loaded). Both are traps, the access or the SYSCALL done, so returning is safe. Xen
// 4.17's do_debug ignores a #DB in its own context (it only logs it) and the guest sees nothing:
// no #DB, no DR6 bits. So does Isola. (Instruction breakpoints, which are faults and would fire
// again, cannot match: DR0-3 hold guest addresses only.)
void ignore_hypervisor_debug_trap() {
    (void)take_dr6();
    ++dropped_traps[current_cpu_index()];
}

u64 hypervisor_debug_traps_dropped() { return dropped_traps[current_cpu_index()]; }

}  // namespace hv::arch

namespace hv::pv {

void sync_hardware_debug_registers(Vcpu& vcpu) {
    if (arch::running_vcpu(arch::current_cpu_index()) == &vcpu) arch::load_debug_registers(vcpu);
}

}  // namespace hv::pv
