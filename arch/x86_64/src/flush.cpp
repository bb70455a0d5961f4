// SPDX-License-Identifier: MIT
// TLB shootdown by IPI with per-pCPU mailboxes (protocol: flush.hpp).
#include "arch/flush.hpp"

#include "arch/asi.hpp"
#include "arch/asi_roots.hpp"
#include "arch/perdomain_area.hpp"

#include "arch/cpu.hpp"
#include "arch/descriptors.hpp"
#include "arch/lapic.hpp"
#include "arch/memory.hpp"
#include "arch/pcid.hpp"
#include "arch/sched.hpp"
#include "arch/smp.hpp"
#include "hv/core/spinlock.hpp"
#include "hv/pv/domain.hpp"

namespace hv::arch {
namespace {

// One request slot per target pCPU: written only by the holder of shootdown_lock, cleared
// (pending = false) by the target once it is done.
struct Mailbox {
    u32 flags;
    u64 va;
    bool pending;
};

Mailbox mailboxes[kMaxCpus];
Spinlock shootdown_lock;
u64 resyncs, shootdowns;

// Whether this pCPU is idle with another vCPU's tables loaded (the lazy state).
bool lazily_loaded(unsigned cpu, const pv::Vcpu* vcpu) {
    const pv::Vcpu* loaded = loaded_vcpu(cpu);
    return loaded != nullptr && loaded == vcpu && running_vcpu(cpu) != loaded;
}

void flush_local(unsigned cpu, u32 flags, u64 va, const pv::Vcpu* drop) {
    flags = sched::effective_flush(flags);
    if ((flags & sched::kFlushDropLazy) != 0 && lazily_loaded(cpu, drop)) {
        // The idle vCPU's own tables: loading them also flushes every guest translation.
        set_loaded_vcpu(cpu, nullptr);
        load_cpu_gdt(cpu);  // the dropped vCPU's GDT window goes with its root
        write_cr3(cpu_idle_root(cpu).maddr().raw());
        return;
    }
    if ((flags & sched::kFlushRootResync) != 0) resync_loaded_root(cpu);
    if ((flags & sched::kFlushTlbGlobal) != 0) flush_tlb_all();
    else if ((flags & sched::kFlushTlb) != 0) flush_tlb_local();
    else if ((flags & sched::kFlushVa) != 0) invalidate_page(va);
}

// The vCPU a DropLazy request names travels in the va field.
const pv::Vcpu* drop_target(u32 flags, u64 va) {
    return (flags & sched::kFlushDropLazy) != 0 ? reinterpret_cast<const pv::Vcpu*>(va) : nullptr;
}

void send_and_wait(u32 targets, u32 flags, u64 va) {
    const CpuTopology& topology = cpu_topology();
    shootdown_lock.lock();  // spinning serves our own mailbox
    ++shootdowns;
    for (unsigned cpu = 0; cpu < topology.online; ++cpu) {
        if (((targets >> cpu) & 1) == 0) continue;
        mailboxes[cpu].flags = flags;
        mailboxes[cpu].va = va;
        __atomic_store_n(&mailboxes[cpu].pending, true, __ATOMIC_RELEASE);
        lapic_send_fixed_ipi(topology.apic_id[cpu], kVectorFlush);
    }
    for (unsigned cpu = 0; cpu < topology.online; ++cpu)
        while (((targets >> cpu) & 1) != 0 && __atomic_load_n(&mailboxes[cpu].pending, __ATOMIC_ACQUIRE))
            spin_relax();
    shootdown_lock.unlock();
}

}  // namespace

void flush_domain(pv::Domain& domain, u32 flags, u64 va, u64 vcpu_mask) {
    const unsigned self = current_cpu_index();
    const unsigned cpus = cpu_topology().online;
    sched::LoadedView views[kMaxCpus] = {};
    // After the caller's page-table writes (seq_cst): a pCPU that loads the domain's tables
    // after this read walks the new entries (it publishes loaded_vcpu before its CR3 write).
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (unsigned cpu = 0; cpu < cpus; ++cpu) {
        const pv::Vcpu* loaded = loaded_vcpu(cpu);
        if (loaded != nullptr) views[cpu] = sched::LoadedView{loaded->domain->id, static_cast<u8>(loaded->id)};
    }
    const u32 targets = sched::flush_targets(views, cpus, domain.id, vcpu_mask);
    // Here the loaded vCPU is the caller, whose shadows asi_l4_entry_written already updated
    // entry by entry (nobody else copies them while it is loaded here), so a root resync would
    // only re-copy what they hold: the L4 update costs no shadow copy on the caller's pCPU. Other
    // pCPUs still get it: one of them may have been copying a shadow from the L4 while the entry
    // was written (sync_shadow sets asi_synced only after its copy).
    if ((targets >> self) & 1) flush_local(self, flags & ~u32{sched::kFlushRootResync}, va, nullptr);
    const u32 remote = targets & ~(1u << self);
    if (remote != 0) send_and_wait(remote, flags, va);
}

void drop_lazy_vcpu(pv::Vcpu& vcpu) {
    const unsigned self = current_cpu_index();
    u32 targets = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (unsigned cpu = 0; cpu < cpu_topology().online; ++cpu)
        if (cpu != self && loaded_vcpu(cpu) == &vcpu) targets |= 1u << cpu;
    if (targets != 0) send_and_wait(targets, sched::kFlushDropLazy, reinterpret_cast<u64>(&vcpu));
}

void serve_flush_request() {
    const unsigned cpu = current_cpu_index();
    Mailbox& box = mailboxes[cpu];
    if (!__atomic_load_n(&box.pending, __ATOMIC_ACQUIRE)) return;
    flush_local(cpu, box.flags, box.va, drop_target(box.flags, box.va));
    __atomic_store_n(&box.pending, false, __ATOMIC_RELEASE);
}

// The shadows already follow every L4 write (asi_l4_entry_written); the resync re-copies the
// loaded vCPU's guest slots all the same, so a request always leaves them exactly the guest's.
void resync_loaded_root(unsigned cpu) {
    __atomic_fetch_add(&resyncs, 1, __ATOMIC_RELAXED);
    if (pv::Vcpu* vcpu = loaded_vcpu(cpu)) asi_resync(*vcpu);
}
u64 resync_count() { return __atomic_load_n(&resyncs, __ATOMIC_RELAXED); }
u64 shootdown_count() { return __atomic_load_n(&shootdowns, __ATOMIC_RELAXED); }

}  // namespace hv::arch

namespace hv {

// Every spin in the hypervisor serves this pCPU's flush mailbox (flush.hpp).
void spin_relax() {
    arch::serve_flush_request();
    arch::pause();
}

}  // namespace hv
