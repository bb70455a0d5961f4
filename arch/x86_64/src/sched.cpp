// SPDX-License-Identifier: MIT
// The scheduler on the machine: run queues (hv/sched) under one lock, switching, the idle vCPU,
// preemption and guest timers from the LAPIC tick, and the scheduler side of vcpu_op.
//
// No lost wake-up (SCHEDOP_block/poll):
//   blocker (running vCPU V)                 waker (any pCPU)
//   1. V.wake = false                        a. make the event visible (pending bits, upcall)
//   2. [poll: V.poll_port = port]            b. if it concerns V (upcall raised, or V polls the
//   3. look: upcall pending / port pending?     port): V.wake = true
//   4. nothing: V.blocking = true, return    c. kick_vcpu(V): under sched_lock, if V is Blocked,
//   5. exit path -> schedule(): under           make it Runnable and poke its pCPU
//      sched_lock, V.wake ? keep running
//                         : V becomes Blocked
// All of 1-3 and a-b are sequentially consistent: either the look (3) sees the event, or the
// waker's b comes after 1 and then either 5 sees V.wake, or c finds V Blocked (both hold
// sched_lock, so c comes before or after 5's decision, never in the middle).
#include "arch/sched.hpp"

#include "arch/audit_run.hpp"
#include "hv/core/counters.hpp"

#include "arch/cpu.hpp"
#include "arch/descriptors.hpp"
#include "arch/lapic.hpp"
#include "arch/pv_run.hpp"
#include "arch/smp.hpp"
#include "arch/time.hpp"
#include "hv/core/console.hpp"
#include "hv/core/spinlock.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/event_channel.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/vcpu_sched.hpp"
#include "hv/sched/scheduler.hpp"

namespace hv::arch {

namespace sched_records {
pv::Vcpu* running[kMaxCpus];
pv::Vcpu* loaded[kMaxCpus];
bool need_resched[kMaxCpus];
}  // namespace sched_records

namespace {

using sched_records::need_resched;
using sched_records::loaded;
using sched_records::running;

Spinlock sched_lock;  // the scheduler, every Entity, running[]
sched::Scheduler scheduler;
unsigned slice_ticks[kMaxCpus];
bool finishing;
SchedStats stats;

pv::Vcpu& vcpu_of(sched::Entity* entity) { return *static_cast<pv::Vcpu*>(entity->owner); }
bool domain_running(const pv::Vcpu& vcpu) { return vcpu.domain->state == pv::DomainState::Running; }
// A vCPU's run state as another pCPU may be changing it (the writes hold sched_lock).
sched::RunState run_state(const pv::Vcpu& vcpu) {
    return static_cast<sched::RunState>(__atomic_load_n(reinterpret_cast<const u8*>(&vcpu.sched.state), __ATOMIC_SEQ_CST));
}

// A block ends (woken, or not needed): the poll's announcement and timeout go.
void end_block(pv::Vcpu& vcpu) {
    __atomic_store_n(&vcpu.poll_port, 0, __ATOMIC_SEQ_CST);
    vcpu.poll_deadline = 0;
}

// `cpu`'s queue got a vCPU: it reschedules at once (wake-up preemption, or leaving idle).
void poke(unsigned cpu) {
    if (cpu == sched::kNoCpu) return;
    __atomic_store_n(&need_resched[cpu], true, __ATOMIC_SEQ_CST);
    if (cpu != current_cpu_index()) lapic_send_fixed_ipi(cpu_topology().apic_id[cpu], kVectorWakeup);
}

// The next vCPU for `cpu`; vCPUs of domains that ended meanwhile are dropped. Under sched_lock.
pv::Vcpu* pick_locked(unsigned cpu) {
    for (;;) {
        sched::Entity* entity = scheduler.pick_next(cpu);
        if (entity == nullptr) return nullptr;
        pv::Vcpu& vcpu = vcpu_of(entity);
        if (domain_running(vcpu)) return &vcpu;
        scheduler.take_down(*entity);
    }
}

void set_running(unsigned cpu, pv::Vcpu* vcpu) { __atomic_store_n(&running[cpu], vcpu, __ATOMIC_SEQ_CST); }

bool all_ended_and_idle() {
    for (unsigned i = 0; i < domain_total(); ++i)
        if (domain_at(i).state == pv::DomainState::Running) return false;
    for (unsigned cpu = 0; cpu < cpu_topology().online; ++cpu)
        if (__atomic_load_n(&running[cpu], __ATOMIC_SEQ_CST) != nullptr) return false;
    return true;
}

[[noreturn]] void finish() {
    if (__atomic_exchange_n(&finishing, true, __ATOMIC_ACQ_REL)) halt_forever();  // another pCPU reports
    unsigned failed = 0;
    u64 migrations = 0;
    for (unsigned i = 0; i < domain_total(); ++i) {
        const pv::Domain& d = domain_at(i);
        if (d.state != pv::DomainState::Shutdown || d.shutdown_reason != xen::kShutdownPoweroff) ++failed;
        for (unsigned v = 0; v < d.vcpu_count; ++v) migrations += d.vcpus[v].sched.migrations;
    }
    print("isola: scheduler: %lu switches (%lu lazy), %lu preemptions, %lu migrations\n", stats.switches,
          stats.lazy_switches, stats.preemptions, migrations);
    print("isola: all %u domains ended, %u did not power off cleanly\n", domain_total(), failed);
    print_event_totals();
    if (audit_requested()) run_isolation_audit();
    machine_exit(failed == 0 ? ExitCode::Success : ExitCode::GuestFailure);
}

// The idle vCPU: the pCPU halts with the last vCPU's tables and state still loaded (lazy) until
// its queue (or another it may steal from) has work. Interrupts are on only inside HLT.
[[noreturn]] void idle_loop(unsigned cpu) {
    for (;;) {
        if (all_ended_and_idle()) finish();
        pv::Vcpu* next = nullptr;
        {
            SpinlockGuard guard(sched_lock);
            __atomic_store_n(&need_resched[cpu], false, __ATOMIC_SEQ_CST);
            next = pick_locked(cpu);
            if (next != nullptr) set_running(cpu, next);
        }
        if (next != nullptr) run_vcpu(*next);
        // A poke after the pick arrives as an IPI: STI;HLT leaves HLT for it.
        asm volatile("sti; hlt; cli" ::: "memory");
    }
}

// What happens to the vCPU leaving the pCPU. Returns true when it simply continues (a block
// that was woken before it took effect, and nothing else to do). Under sched_lock.
bool retire_locked(pv::Vcpu& prev) {
    sched::Entity& entity = prev.sched;
    const bool blocking = prev.blocking, yielding = prev.yielding;
    prev.blocking = false;
    prev.yielding = false;
    if (entity.state != sched::RunState::Running) return false;  // taken down meanwhile
    if (!domain_running(prev)) {
        scheduler.take_down(entity);
        return false;
    }
    if (blocking && !__atomic_load_n(&prev.wake, __ATOMIC_SEQ_CST)) {
        scheduler.block(entity);
        return false;
    }
    if (blocking) end_block(prev);
    if (blocking && !yielding && scheduler.queued(entity.cpu) == 0) return true;
    scheduler.requeue(entity);
    return false;
}

}  // namespace

void set_loaded_vcpu(unsigned cpu, pv::Vcpu* vcpu) { __atomic_store_n(&loaded[cpu], vcpu, __ATOMIC_SEQ_CST); }

void note_switch(bool lazy) {
    __atomic_fetch_add(&stats.switches, 1, __ATOMIC_RELAXED);
    if (lazy) __atomic_fetch_add(&stats.lazy_switches, 1, __ATOMIC_RELAXED);
}

SchedStats sched_stats() { return stats; }

[[noreturn]] void schedule(pv::Vcpu& prev) {
    const unsigned cpu = current_cpu_index();
    // Saved before the lock: once requeued, prev may be picked by another pCPU at once.
    save_vcpu_state(prev);
    pv::Vcpu* next = nullptr;
    {
        SpinlockGuard guard(sched_lock);
        __atomic_store_n(&need_resched[cpu], false, __ATOMIC_SEQ_CST);
        slice_ticks[cpu] = 0;
        next = retire_locked(prev) ? &prev : pick_locked(cpu);
        set_running(cpu, next);
    }
    if (next != nullptr) run_vcpu(*next);
    idle_loop(cpu);
}

void sched_init_boot(unsigned online_cpus) {
    scheduler.init(online_cpus);
    for (unsigned i = 0; i < domain_total(); ++i) {
        pv::Domain& domain = domain_at(i);
        for (unsigned v = 0; v < domain.vcpu_count; ++v) domain.vcpus[v].sched.owner = &domain.vcpus[v];
        pv::vcpu_bring_up(domain.vcpus[0]);
        print("isola: d%u (%s) runs on pCPU %u (%u vCPUs)\n", domain.id, domain.name, domain.vcpus[0].sched.cpu,
              domain.vcpu_count);
    }
}

[[noreturn]] void sched_start_cpu() {
    lapic_timer_start(kTickNs);
    idle_loop(current_cpu_index());
}

// ---- The LAPIC tick ----

namespace {

// Fires `vcpu`'s expired timers. A deadline is taken with a compare-and-swap, so a timer fires
// once even if two pCPUs look at the vCPU at the same time.
void fire_timers(pv::Vcpu& vcpu, u64 now) {
    u64 deadline = __atomic_load_n(&vcpu.singleshot_deadline, __ATOMIC_ACQUIRE);
    if (deadline != 0 && deadline <= now &&
        __atomic_compare_exchange_n(&vcpu.singleshot_deadline, &deadline, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        (void)pv::evtchn_send_virq(vcpu, xen::kVirqTimer);
    const u64 period = __atomic_load_n(&vcpu.periodic_period, __ATOMIC_ACQUIRE);
    u64 next = __atomic_load_n(&vcpu.periodic_next, __ATOMIC_ACQUIRE);
    if (period != 0 && next <= now &&
        __atomic_compare_exchange_n(&vcpu.periodic_next, &next, now + period, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        (void)pv::evtchn_send_virq(vcpu, xen::kVirqTimer);
    const u64 poll_deadline = __atomic_load_n(&vcpu.poll_deadline, __ATOMIC_ACQUIRE);
    if (poll_deadline != 0 && poll_deadline <= now &&
        arch::run_state(vcpu) == sched::RunState::Blocked) {
        __atomic_store_n(&vcpu.wake, true, __ATOMIC_SEQ_CST);
        pv::kick_vcpu(vcpu);
    }
}

}  // namespace

void sched_tick(bool from_guest) {
    const unsigned cpu = current_cpu_index();
    const u64 now = pv::system_time_ns();
    for (unsigned i = 0; i < domain_total(); ++i) {
        pv::Domain& domain = domain_at(i);
        if (domain.state != pv::DomainState::Running) continue;
        for (unsigned v = 0; v < domain.vcpu_count; ++v)
            if (__atomic_load_n(&domain.vcpus[v].sched.cpu, __ATOMIC_RELAXED) == cpu) fire_timers(domain.vcpus[v], now);
    }
    if (!from_guest || running_vcpu(cpu) == nullptr) return;
    SpinlockGuard guard(sched_lock);
    if (++slice_ticks[cpu] >= kSliceTicks && scheduler.queued(cpu) > 0) {
        __atomic_store_n(&need_resched[cpu], true, __ATOMIC_SEQ_CST);
        ++stats.preemptions;
    }
}

}  // namespace hv::arch

// ---- The scheduler side of the vCPU hypercalls and event channels (hv/pv/vcpu_sched.hpp,
// hv/pv/guest_mode.hpp) ----

namespace hv::pv {

void block_vcpu(Vcpu& vcpu) { vcpu.blocking = true; }

void kick_vcpu(Vcpu& vcpu) {
    using namespace arch;
    const unsigned self = current_cpu_index();
    unsigned poke_cpu = sched::kNoCpu, ipi_cpu = sched::kNoCpu;
    {
        SpinlockGuard guard(sched_lock);
        if (vcpu.sched.state == sched::RunState::Blocked && domain_running(vcpu)) {
            end_block(vcpu);
            poke_cpu = scheduler.wake(vcpu.sched);
        } else if (vcpu.sched.state == sched::RunState::Running && vcpu.sched.cpu != self) {
            ipi_cpu = vcpu.sched.cpu;  // it delivers the upcall on its way back to the guest
        }
    }
    poke(poke_cpu);
    if (ipi_cpu != sched::kNoCpu) lapic_send_fixed_ipi(cpu_topology().apic_id[ipi_cpu], kVectorWakeup);
}

void vcpu_bring_up(Vcpu& vcpu) {
    using namespace arch;
    unsigned target = sched::kNoCpu;
    {
        SpinlockGuard guard(sched_lock);
        if (vcpu.sched.state != sched::RunState::Down || !vcpu.initialised || !domain_running(vcpu)) return;
        if (vcpu.last_loaded_cpu == 0) {  // first run: spread the domain's vCPUs over its pCPUs
            const unsigned preferred = (vcpu.domain->id - 1u + vcpu.id) % scheduler.cpus();
            const unsigned placed = scheduler.place(vcpu.sched, preferred);
            vcpu.sched.cpu = static_cast<u8>(placed == sched::kNoCpu ? 0 : placed);
        }
        target = scheduler.wake(vcpu.sched);
    }
    if (target != sched::kNoCpu && domain_total() > 0 && __atomic_load_n(&running[target], __ATOMIC_SEQ_CST) == nullptr)
        poke(target);
}

void vcpu_take_down(Vcpu& vcpu) {
    using namespace arch;
    unsigned ipi_cpu = sched::kNoCpu;
    {
        SpinlockGuard guard(sched_lock);
        if (vcpu.sched.state == sched::RunState::Running && vcpu.sched.cpu != current_cpu_index())
            ipi_cpu = vcpu.sched.cpu;
        scheduler.take_down(vcpu.sched);
        end_block(vcpu);
    }
    if (ipi_cpu != sched::kNoCpu) poke(ipi_cpu);
}

bool vcpu_is_up(const Vcpu& vcpu) { return arch::run_state(vcpu) != sched::RunState::Down; }

void stop_domain_vcpus(Domain& domain) {
    using namespace arch;
    for (unsigned v = 0; v < domain.vcpu_count; ++v) {
        Vcpu& vcpu = domain.vcpus[v];
        unsigned ipi_cpu = sched::kNoCpu;
        {
            SpinlockGuard guard(sched_lock);
            // A running vCPU leaves through schedule(), which takes it down; the rest go now.
            if (vcpu.sched.state == sched::RunState::Running) ipi_cpu = vcpu.sched.cpu;
            else scheduler.take_down(vcpu.sched);
        }
        if (ipi_cpu != sched::kNoCpu && ipi_cpu != current_cpu_index()) poke(ipi_cpu);
    }
}

}  // namespace hv::pv
