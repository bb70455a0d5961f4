// SPDX-License-Identifier: MIT
// The scheduler on the real machine (sched.cpp): per-pCPU run queues (hv/sched/scheduler.hpp)
// under one lock, the idle vCPU of each pCPU, time-slice preemption from the LAPIC timer, guest
// timers, and the two per-pCPU records every switch keeps:
//
//   running_vcpu(cpu)  the vCPU the scheduler runs there (nullptr: the idle vCPU)
//   loaded_vcpu(cpu)   the vCPU whose page tables (CR3) and CPU state are loaded there
//
// They differ only while the pCPU is idle after a vCPU ran (the lazy switch: idle keeps the last
// vCPU's tables and state loaded, so switching back to it costs nothing), and for the few
// instructions of a switch in pv_run.cpp's load_vcpu. Flushes, kicks and the fast paths use
// loaded_vcpu: a pCPU's TLB only ever holds translations of its loaded vCPU.
#pragma once

#include "arch/descriptors.hpp"
#include "arch/trap_frame.hpp"
#include "hv/core/types.hpp"
#include "hv/pv/domain.hpp"

namespace hv::arch {

// Per-pCPU records that sched.cpp owns and every exit to a guest reads: kept visible here so the
// exit path reads them inline (see must_reschedule below).
namespace sched_records {
extern pv::Vcpu* running[kMaxCpus];  // written under sched_lock, read anywhere (atomically)
extern pv::Vcpu* loaded[kMaxCpus];   // written only by its own pCPU, read anywhere (atomically)
extern bool need_resched[kMaxCpus];  // the running vCPU goes through schedule() at its next exit
}  // namespace sched_records

inline constexpr u64 kTickNs = 1'000'000;     // LAPIC timer period: guest timers' resolution
inline constexpr unsigned kSliceTicks = 4;    // time slice: 4 ms

inline pv::Vcpu* running_vcpu(unsigned cpu) { return __atomic_load_n(&sched_records::running[cpu], __ATOMIC_SEQ_CST); }
inline pv::Vcpu* loaded_vcpu(unsigned cpu) { return __atomic_load_n(&sched_records::loaded[cpu], __ATOMIC_SEQ_CST); }
// Only load_vcpu (pv_run.cpp) and the flush handler's lazy drop change the loaded record.
void set_loaded_vcpu(unsigned cpu, pv::Vcpu* vcpu);

// Domains and vCPUs of this boot (pv_run.cpp owns the array).
unsigned domain_total();
pv::Domain& domain_at(unsigned index);
// Whether the `audit` option asked for the isolation audit at the end of the run.
bool audit_requested();

// Starts the scheduler on this pCPU: the boot CPU first puts every domain's vCPU 0 in a queue.
void sched_init_boot(unsigned online_cpus);
[[noreturn]] void sched_start_cpu();

// The running vCPU, whose registers are in its private state (vcpu_private.hpp), leaves the
// pCPU: it blocks, yields, is preempted or has ended; the scheduler picks the next vCPU (maybe
// the same) or goes idle.
[[noreturn]] void schedule(pv::Vcpu& prev);
// Whether the running vCPU (on pCPU `cpu`) must go through schedule() before returning to its
// guest: its domain ended, it blocks or yields, it was taken down, or the pCPU must reschedule.
// Inline: every exit to a guest asks it.
inline bool must_reschedule(pv::Vcpu& vcpu, unsigned cpu) {
    const auto state = __atomic_load_n(reinterpret_cast<const u8*>(&vcpu.sched.state), __ATOMIC_SEQ_CST);
    return vcpu.domain->state != pv::DomainState::Running || vcpu.blocking || vcpu.yielding ||
           state != static_cast<u8>(sched::RunState::Running) ||
           __atomic_load_n(&sched_records::need_resched[cpu], __ATOMIC_SEQ_CST);
}

// The LAPIC timer interrupt: guest timers, poll timeouts and the time slice.
void sched_tick(bool from_guest);

// Counters for the end-of-run report and tests.
struct SchedStats {
    u64 switches, lazy_switches, migrations, preemptions;
};
SchedStats sched_stats();

}  // namespace hv::arch
