// SPDX-License-Identifier: MIT
// Guest entry and exit, hypercall dispatch from SYSCALL, and the domain run loop.
#include "arch/pv_run.hpp"

#include "arch/asi_roots.hpp"
#include "arch/audit_run.hpp"
#include "arch/asi.hpp"
#include "arch/cpu.hpp"
#include "arch/cpu_state.hpp"
#include "arch/descriptors.hpp"
#include "arch/lapic.hpp"
#include "arch/mapcache.hpp"
#include "arch/perdomain_area.hpp"
#include "arch/pv_build.hpp"
#include "arch/smp.hpp"
#include "arch/va_layout.hpp"
#include "arch/zero_stack.hpp"
#include "hv/core/check.hpp"
#include "hv/core/console.hpp"
#include "hv/core/counters.hpp"
#include "hv/core/format.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/event_channel.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/guest_traps.hpp"
#include "hv/pv/hypercall.hpp"
#include "hv/pv/xen_abi.hpp"

extern "C" {
extern char hv_syscall_stubs[], hv_syscall32_stubs[];
extern hv::u64 hv_syscall_stack_top[];
[[noreturn]] void enter_guest(hv::arch::TrapFrame* frame_at_stack_top);
}

namespace hv::arch {
namespace {

constexpr u32 kMsrStar = 0xC0000081, kMsrLstar = 0xC0000082, kMsrCstar = 0xC0000083, kMsrFmask = 0xC0000084;
constexpr u32 kMsrSysenterCs = 0x174, kMsrSysenterEsp = 0x175, kMsrSysenterEip = 0x176;
constexpr u32 kMsrFsBase = 0xC0000100, kMsrGsBase = 0xC0000101, kMsrKernelGsBase = 0xC0000102;
// SYSCALL clears these: TF, IF, DF, IOPL, NT, AC. [SDM 2B SYSCALL]
constexpr u64 kSyscallMask = 0x47700;
// Guest-controllable RFLAGS bits: arithmetic flags, TF, DF, AC, ID. IF is always on for a PV
// guest and IOPL is virtual. [pv-abi.md §1.9, §4.6]
constexpr u64 kGuestFlagsMask = 0x00240dd5;
constexpr u64 kGuestFlagsForced = 0x202;

pv::Domain domains[pv::kMaxDomains];
unsigned domain_count;
pv::Vcpu* current_vcpu[kMaxCpus];    // read by other pCPUs (kick_vcpu): written atomically
unsigned domain_cpu[pv::kMaxDomains];  // the pCPU each domain's vCPU runs on
volatile bool domains_ready;           // set once every domain is built: APs start running them
unsigned cpus_running;                 // pCPUs still running domains; the last one ends the run
bool audit_at_end;                     // the `audit` option: audit every root once all have ended
// asi zero-stack: the vCPU that last ran on each pCPU, and whether the next guest entry must
// first clear what the switch left on the stack (zero_stack.hpp).
pv::Vcpu* last_vcpu[kMaxCpus];
bool zero_pending[kMaxCpus];

u64 stack_top(unsigned cpu) { return cpu_primary_stack_base(cpu) + kPrimaryStackSize; }

[[noreturn]] void run_next();
[[noreturn]] void resume(pv::Vcpu& vcpu);

[[noreturn]] void enter(pv::Vcpu& vcpu) {
    const unsigned cpu = current_cpu_index();
    // A full switch to another vCPU: nothing of the previous one may stay on this pCPU's stacks.
    if (asi_policy().zero_stack && last_vcpu[cpu] != &vcpu) zero_pending[cpu] = true;
    last_vcpu[cpu] = &vcpu;
    // Published before the upcall check below: a sender that raises an upcall after the check
    // sees us here and kicks.
    __atomic_store_n(&current_vcpu[cpu], &vcpu, __ATOMIC_SEQ_CST);
    asi_switch_in(vcpu, cpu);
    load_cpu_gdt(cpu);  // valid in every root: the previous vCPU's window may vanish with CR3
    write_cr3(asi_load_root(vcpu));
    flush_tlb_all();          // no translation of the previous domain survives, global or not
    pv::write_hardware_ts(vcpu, false);  // the previous guest's CR0.TS would make the x87 reset fault
    reset_guest_cpu_state();  // nor its x87/SSE registers or data selectors
    // A fresh start for the guest's segment bases (one vCPU per pCPU until the scheduler).
    wrmsr(kMsrFsBase, 0);
    wrmsr(kMsrGsBase, 0);
    wrmsr(kMsrKernelGsBase, 0);
    pv::load_guest_gdt(vcpu);
    pv::write_hardware_ts(vcpu, vcpu.cr0_ts);  // the virtual CR0.TS, for #NM on FPU use
    resume(vcpu);
}

// Continues `vcpu` (already loaded on this pCPU) from vcpu.regs, placed at the stack top.
// Precondition: the caller's own frames lie below that TrapFrame (true for every call chain
// that starts at an entry from the guest or at the boot stack, which keeps room above).
[[noreturn]] void resume(pv::Vcpu& vcpu) {
    const unsigned cpu = current_cpu_index();
    auto* frame = reinterpret_cast<TrapFrame*>(stack_top(cpu) - sizeof(TrapFrame));
    *frame = vcpu.regs;
    pv::deliver_pending_upcall(vcpu, *frame);
    if (vcpu.domain->state != pv::DomainState::Running) {
        __atomic_store_n(&current_vcpu[cpu], nullptr, __ATOMIC_SEQ_CST);
        run_next();
    }
    // Leak check: no hypervisor path keeps a mapcache slot across a return to the guest.
    HV_CHECK(mapcache_slots_in_use(cpu) == 0);
    if (zero_pending[cpu]) {
        zero_pending[cpu] = false;
        const u64 zero_from = zero_dead_stack_pages(cpu);
        count_event(Event::BytesZeroed, reinterpret_cast<u64>(frame) - zero_from);
        enter_guest_zeroing(frame, zero_from);
    }
    enter_guest(frame);
}

void hypercall_from(pv::Vcpu& vcpu, TrapFrame& frame) {
    // SYSCALL left the guest's RIP in RCX and RFLAGS in R11; the stub already put them in the
    // frame. The hypercall page saves RCX/R11 around the SYSCALL itself.
    frame.rflags = (frame.rflags & kGuestFlagsMask) | kGuestFlagsForced;
    pv::do_hypercall_frame(vcpu, frame);  // multicall needs the frame: an iret entry replaces it
}


// Every return to a running guest delivers a deliverable event upcall first (pv-abi §4.8). A
// domain that has ended gives its pCPU to the next one.
void resume_or_run_next(pv::Vcpu& vcpu, TrapFrame& frame) {
    // IRETQ to a non-canonical RIP would fault in the hypervisor: the guest gets #GP(0) instead,
    // as on Xen (an iret or hypercall return to such an address).
    if (vcpu.domain->state == pv::DomainState::Running && !is_canonical(frame.rip)) {
        frame.vector = 13;
        frame.error_code = 0;
        pv::handle_guest_exception(vcpu, frame, 0);
    }
    pv::deliver_pending_upcall(vcpu, frame);
    if (vcpu.domain->state == pv::DomainState::Running) return;
    vcpu.regs = frame;
    __atomic_store_n(&current_vcpu[current_cpu_index()], nullptr, __ATOMIC_SEQ_CST);
    run_next();
}

[[noreturn]] void finish() {
    if (__atomic_sub_fetch(&cpus_running, 1, __ATOMIC_ACQ_REL) != 0) halt_forever();  // others still run
    unsigned failed = 0;
    for (unsigned i = 0; i < domain_count; ++i) {
        const pv::Domain& d = domains[i];
        if (d.state != pv::DomainState::Shutdown || d.shutdown_reason != xen::kShutdownPoweroff) ++failed;
    }
    print("isola: all %u domains ended, %u did not power off cleanly\n", domain_count, failed);
    print_event_totals();
    if (audit_at_end) run_isolation_audit(domains, domain_count, domain_cpu);
    machine_exit(failed == 0 ? ExitCode::Success : ExitCode::GuestFailure);
}

// Runs this pCPU's next runnable domain (one vCPU per pCPU at a time until the scheduler).
[[noreturn]] void run_next() {
    const unsigned cpu = current_cpu_index();
    for (unsigned i = 0; i < domain_count; ++i)
        if (domain_cpu[i] == cpu && domains[i].state == pv::DomainState::Running) enter(domains[i].vcpu0);
    finish();
}

}  // namespace

void syscall_init_cpu(unsigned cpu) {
    hv_syscall_stack_top[cpu] = stack_top(cpu);
    wrmsr(kMsrEfer, rdmsr(kMsrEfer) | 1);  // SCE
    // SYSCALL loads CS = 0xe008, SS = 0xe010; SYSRET would load 0xe033/0xe02b (base 0xe023).
    wrmsr(kMsrStar, (u64{HV_SEL_GUEST_CS32} << 48) | (u64{HV_SEL_CODE64} << 32));
    wrmsr(kMsrLstar, reinterpret_cast<u64>(hv_syscall_stubs) + cpu * HV_SYSCALL_STUB_SIZE);
    wrmsr(kMsrCstar, reinterpret_cast<u64>(hv_syscall32_stubs) + cpu * HV_SYSCALL_STUB_SIZE);
    wrmsr(kMsrFmask, kSyscallMask);
    // SYSENTER_CS = 0 makes SYSENTER raise #GP(0) (Xen's answer without a sysenter callback).
    wrmsr(kMsrSysenterCs, 0);
    wrmsr(kMsrSysenterEsp, 0);
    wrmsr(kMsrSysenterEip, 0);
}

// The guest's iret frame made our own IRETQ fault (bad CS/SS): the guest cannot continue.
[[noreturn]] void guest_iret_failed(const TrapFrame& fault) {
    // The guest state the IRETQ tried to return to: its general registers were already popped
    // (the fault frame saved them), its RIP..SS are the IRETQ frame at the fault's RSP. The
    // rest of the old TrapFrame was overwritten by the fault frame itself. As Xen does, the guest
    // gets #GP with the selector (RPL bits cleared) as error code at that state.
    const unsigned cpu = current_cpu_index();
    pv::Vcpu* vcpu = current_vcpu[cpu];
    TrapFrame guest = fault;
    const auto* iret_frame = reinterpret_cast<const u64*>(fault.rsp);
    guest.rip = iret_frame[0];
    guest.cs = iret_frame[1];
    guest.rflags = iret_frame[2];
    guest.rsp = iret_frame[3];
    guest.ss = iret_frame[4];
    guest.vector = 13;
    guest.error_code = fault.error_code & ~u64{3};
    pv::handle_guest_exception(*vcpu, guest, 0);
    vcpu->regs = guest;
    if (vcpu->domain->state == pv::DomainState::Running) resume(*vcpu);
    __atomic_store_n(&current_vcpu[cpu], nullptr, __ATOMIC_SEQ_CST);
    run_next();
}

void handle_guest_entry(TrapFrame& frame) {
    pv::Vcpu* vcpu = current_vcpu[current_cpu_index()];
    if (vcpu == nullptr) {
        print("isola: guest entry on pCPU %u with no vCPU loaded\n", current_cpu_index());
        machine_exit(ExitCode::HypervisorFault);
    }
    if (frame.vector == HV_VECTOR_SYSCALL && vcpu->kernel_mode && frame.rax == xen::kIret) {
        pv::do_iret(*vcpu, frame);
    } else if (frame.vector == HV_VECTOR_SYSCALL && vcpu->kernel_mode) {
        hypercall_from(*vcpu, frame);
    } else if (frame.vector == HV_VECTOR_SYSCALL) {
        pv::handle_user_syscall(*vcpu, frame);
    } else {
        pv::handle_guest_exception(*vcpu, frame, frame.vector == 14 ? read_cr2() : 0);
    }
    resume_or_run_next(*vcpu, frame);
}

void handle_guest_interrupt(TrapFrame& frame) {
    pv::Vcpu* vcpu = __atomic_load_n(&current_vcpu[current_cpu_index()], __ATOMIC_SEQ_CST);
    if (vcpu != nullptr) resume_or_run_next(*vcpu, frame);
}

[[noreturn]] void run_domains(const boot::BootInfo& boot, bool audit) {
    audit_at_end = audit;
    for (usize i = 0; i < boot.module_count && domain_count < pv::kMaxDomains; ++i) {
        pv::Domain& domain = domains[domain_count];
        const auto built = build_domain(domain, static_cast<u16>(domain_count + 1), boot.modules[i]);
        if (!built.ok()) {
            print("isola: cannot build a domain from module %zu ('%s'): %s\n", i, boot.modules[i].cmdline,
                  built.error());
            machine_exit(ExitCode::BadBootInput);
        }
        ++domain_count;
    }
    if (boot.module_count > pv::kMaxDomains) print("isola: only the first %u modules become domains\n", pv::kMaxDomains);
    // Domain i runs on online pCPU i mod n, so several domains run at the same time.
    const unsigned online = cpu_topology().online;
    for (unsigned i = 0; i < domain_count; ++i) {
        domain_cpu[i] = i % online;
        print("isola: d%u (%s) runs on pCPU %u\n", domains[i].id, domains[i].name, domain_cpu[i]);
    }
    cpus_running = online;
    __atomic_store_n(&domains_ready, true, __ATOMIC_RELEASE);
    wake_secondary_cpus();
    run_next();
}

[[noreturn]] void run_domains_on_ap() {
    halt_until(&domains_ready);
    run_next();
}

}  // namespace hv::arch

namespace hv::pv {

// Domain id n lives in slot n - 1, from the moment its builder sets the id: the page-type engine
// needs the domain while the builder validates its first tables, before it counts as built.
Domain* find_domain(u16 id) {
    if (id == 0 || id > kMaxDomains || arch::domains[id - 1].id != id) return nullptr;
    return &arch::domains[id - 1];
}

void kick_vcpu(Vcpu& vcpu) {
    const unsigned self = arch::current_cpu_index();
    const arch::CpuTopology& topology = arch::cpu_topology();
    for (unsigned cpu = 0; cpu < topology.online; ++cpu)
        if (cpu != self && __atomic_load_n(&arch::current_vcpu[cpu], __ATOMIC_SEQ_CST) == &vcpu)
            arch::lapic_send_fixed_ipi(topology.apic_id[cpu], arch::kVectorWakeup);
}

}  // namespace hv::pv
