// SPDX-License-Identifier: MIT
// Guest entry and exit, hypercall dispatch from SYSCALL, and the domain run loop.
#include "arch/pv_run.hpp"

#include "arch/cpu.hpp"
#include "arch/descriptors.hpp"
#include "arch/pv_build.hpp"
#include "arch/smp.hpp"
#include "arch/va_layout.hpp"
#include "hv/core/console.hpp"
#include "hv/core/format.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/guest_traps.hpp"
#include "hv/pv/hypercall.hpp"
#include "hv/pv/xen_abi.hpp"

extern "C" {
extern char hv_syscall_stubs[];
extern hv::u64 hv_syscall_stack_top[];
[[noreturn]] void enter_guest(hv::arch::TrapFrame* frame_at_stack_top);
}

namespace hv::arch {
namespace {

constexpr u32 kMsrStar = 0xC0000081, kMsrLstar = 0xC0000082, kMsrFmask = 0xC0000084;
constexpr u32 kMsrFsBase = 0xC0000100, kMsrGsBase = 0xC0000101, kMsrKernelGsBase = 0xC0000102;
// SYSCALL clears these: TF, IF, DF, IOPL, NT, AC. [SDM 2B SYSCALL]
constexpr u64 kSyscallMask = 0x47700;
// Guest-controllable RFLAGS bits: arithmetic flags, TF, DF, AC, ID. IF is always on for a PV
// guest and IOPL is virtual. [pv-abi.md §1.9, §4.6]
constexpr u64 kGuestFlagsMask = 0x00240dd5;
constexpr u64 kGuestFlagsForced = 0x202;

pv::Domain domains[pv::kMaxDomains];
unsigned domain_count;
pv::Vcpu* current_vcpu[kMaxCpus];
unsigned domain_cpu[pv::kMaxDomains];  // the pCPU each domain's vCPU runs on
volatile bool domains_ready;           // set once every domain is built: APs start running them
unsigned cpus_running;                 // pCPUs still running domains; the last one ends the run

u64 stack_top(unsigned cpu) { return cpu_primary_stack_base(cpu) + kPrimaryStackSize; }

[[noreturn]] void run_next();

[[noreturn]] void enter(pv::Vcpu& vcpu) {
    const unsigned cpu = current_cpu_index();
    current_vcpu[cpu] = &vcpu;
    write_cr3(vcpu.kernel_mode ? vcpu.kernel_cr3 : vcpu.user_cr3);
    // A fresh start for the guest's segment bases (one vCPU per pCPU until the scheduler).
    wrmsr(kMsrFsBase, 0);
    wrmsr(kMsrGsBase, 0);
    wrmsr(kMsrKernelGsBase, 0);
    pv::load_guest_gdt(vcpu);
    auto* frame = reinterpret_cast<TrapFrame*>(stack_top(cpu) - sizeof(TrapFrame));
    *frame = vcpu.regs;
    enter_guest(frame);
}

void hypercall_from(pv::Vcpu& vcpu, TrapFrame& frame) {
    // SYSCALL left the guest's RIP in RCX and RFLAGS in R11; the stub already put them in the
    // frame. The hypercall page saves RCX/R11 around the SYSCALL itself.
    frame.rflags = (frame.rflags & kGuestFlagsMask) | kGuestFlagsForced;
    const pv::HypercallArgs args{{frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8}};
    frame.rax = static_cast<u64>(pv::do_hypercall(vcpu, frame.rax, args));
}


[[noreturn]] void finish() {
    if (__atomic_sub_fetch(&cpus_running, 1, __ATOMIC_ACQ_REL) != 0) halt_forever();  // others still run
    unsigned failed = 0;
    for (unsigned i = 0; i < domain_count; ++i) {
        const pv::Domain& d = domains[i];
        if (d.state != pv::DomainState::Shutdown || d.shutdown_reason != xen::kShutdownPoweroff) ++failed;
    }
    print("isola: all %u domains ended, %u did not power off cleanly\n", domain_count, failed);
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
    wrmsr(kMsrFmask, kSyscallMask);
}

// The guest's iret frame made our own IRETQ fault (bad CS/SS): the guest cannot continue.
[[noreturn]] void guest_iret_failed(const TrapFrame& fault) {
    pv::Vcpu* vcpu = current_vcpu[current_cpu_index()];
    char why[96];
    format(why, sizeof why, "cannot resume: %s (error 0x%lx) on the return to the guest", exception_name(fault.vector),
           fault.error_code);
    pv::domain_crash(*vcpu->domain, why);
    current_vcpu[current_cpu_index()] = nullptr;
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
    if (vcpu->domain->state == pv::DomainState::Running) return;
    vcpu->regs = frame;
    current_vcpu[current_cpu_index()] = nullptr;
    run_next();
}

[[noreturn]] void run_domains(const boot::BootInfo& boot) {
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
