// SPDX-License-Identifier: MIT
// Guest entry and exit, hypercall dispatch from SYSCALL, and loading a vCPU onto a pCPU.
#include "arch/pv_run.hpp"

#include "arch/asi_roots.hpp"
#include "arch/audit_run.hpp"
#include "arch/asi.hpp"
#include "arch/cpu.hpp"
#include "arch/cpu_state.hpp"
#include "arch/descriptors.hpp"
#include "arch/flush.hpp"
#include "arch/lapic.hpp"
#include "arch/mapcache.hpp"
#include "arch/pcid.hpp"
#include "arch/perdomain_area.hpp"
#include "arch/pv_build.hpp"
#include "arch/sched.hpp"
#include "arch/smp.hpp"
#include "arch/va_layout.hpp"
#include "arch/vcpu_info.hpp"
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
#include "hv/pv/vcpu_private.hpp"
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
constexpr u64 kVectorDebug = 1;  // #DB

pv::Domain domains[pv::kMaxDomains];
unsigned domain_count;
volatile bool domains_ready;  // set once every domain is built: APs start scheduling
bool audit_at_end;            // the `audit` option: audit every root once all have ended
// asi zero-stack: the vCPU last fully loaded on each pCPU, and whether the next guest entry must
// first clear what the switch left on the stack (zero_stack.hpp).
pv::Vcpu* last_vcpu[kMaxCpus];
bool zero_pending[kMaxCpus];

u64 stack_top(unsigned cpu) { return cpu_primary_stack_base(cpu) + kPrimaryStackSize; }

// The registers of `vcpu`, loaded on this pCPU, kept in its private page until it runs again.
void save_registers(pv::Vcpu& vcpu, const TrapFrame& frame) { pv::vcpu_private(vcpu)->regs = frame; }

// Continues `vcpu` (already loaded on this pCPU) from its saved registers, placed at the stack
// top. Precondition: the caller's own frames lie below that TrapFrame (true for every call chain
// that starts at an entry from the guest or at the boot stack, which keeps room above).
[[noreturn]] void resume(pv::Vcpu& vcpu) {
    const unsigned cpu = current_cpu_index();
    auto* frame = reinterpret_cast<TrapFrame*>(stack_top(cpu) - sizeof(TrapFrame));
    *frame = pv::vcpu_private(vcpu)->regs;
    pv::deliver_pending_upcall(vcpu, *frame);
    if (must_reschedule(vcpu, cpu)) {  // the domain ended while the upcall was delivered
        save_registers(vcpu, *frame);
        schedule(vcpu);
    }
    // Leak check: no hypervisor path keeps a mapcache slot across a return to the guest.
    HV_CHECK(mapcache_all_free(cpu));
    if (audit_point_due(cpu)) stop_at_audit_point(vcpu, cpu);
    if (zero_pending[cpu]) {
        zero_pending[cpu] = false;
        const u64 zero_from = zero_dead_stack_pages(cpu);
        count_event(Event::BytesZeroed, reinterpret_cast<u64>(frame) - zero_from);
        enter_guest_zeroing(frame, zero_from);
    }
    enter_guest(frame);
}

// ---- Saving and loading a vCPU's CPU state ----

// Data selectors: a saved one is reloaded only if it still loads at CPL 3 (the guest may have
// changed its GDT since), else the null selector, so the load cannot fault in the hypervisor.
u16 read_selector_ds() { u16 v; asm volatile("mov %%ds, %0" : "=r"(v)); return v; }
u16 read_selector_es() { u16 v; asm volatile("mov %%es, %0" : "=r"(v)); return v; }
u16 read_selector_fs() { u16 v; asm volatile("mov %%fs, %0" : "=r"(v)); return v; }
u16 read_selector_gs() { u16 v; asm volatile("mov %%gs, %0" : "=r"(v)); return v; }

void load_data_selectors(const pv::VcpuPrivate& state) {
    const u16 ds = pv::user_selector_or_null(state.sel_ds), es = pv::user_selector_or_null(state.sel_es);
    const u16 fs = pv::user_selector_or_null(state.sel_fs), gs = pv::user_selector_or_null(state.sel_gs);
    // Loading FS/GS clobbers their bases: the MSRs are written afterwards. GS is loaded with
    // the guest's user GS live (KERNEL_GS_BASE swapped in later by the MSR writes anyway).
    asm volatile("mov %0, %%ds\n\tmov %1, %%es\n\tmov %2, %%fs\n\tmov %3, %%gs" ::"r"(ds), "r"(es), "r"(fs),
                 "r"(gs)
                 : "memory");
}

}  // namespace

// The running vCPU leaves the pCPU: everything the next vCPU could clobber goes into its private
// page (still loaded here: its own window). Its page tables stay loaded (the lazy part): only the
// next full load replaces them.
void save_vcpu_state(pv::Vcpu& vcpu) {
    pv::write_hardware_ts(vcpu, false);  // FXSAVE with CR0.TS set would raise #NM here
    const pv::VcpuPrivateView state = pv::vcpu_private(vcpu);
    asm volatile("fxsave64 %0" : "=m"(state->fxsave_area));
    state->msr_fs_base = rdmsr(kMsrFsBase);
    state->msr_gs_base = rdmsr(kMsrGsBase);
    state->msr_kernel_gs_base = rdmsr(kMsrKernelGsBase);
    state->sel_ds = read_selector_ds();
    state->sel_es = read_selector_es();
    state->sel_fs = read_selector_fs();
    state->sel_gs = read_selector_gs();
    vcpu.last_loaded_cpu = current_cpu_index() + 1;
}

namespace {

// With vcpu-pt, from whatever root this pCPU holds (the previous vCPU's, kept lazily, or its idle
// root) straight to `vcpu`'s: one CR3 load. Until `vcpu`'s root is in CR3, loaded_vcpu keeps
// naming the previous vCPU, so no other pCPU may take that vCPU and repoint its slot 261 (our
// stacks) meanwhile: a pCPU that wants it first asks us to drop it (DropLazy), which we serve
// only while spinning in drop_lazy_vcpu below, before anything here depends on the root. Once
// CR3 holds `vcpu`'s root, loaded_vcpu names it, and the caller's full flush comes after that
// store: a shootdown sender that read the old loaded_vcpu made its page-table write before our
// store, hence before the flush, so no translation we cached before it survives. Only when both
// shadows are current: a re-copy must follow the loaded_vcpu store (a concurrent L4 writer that
// read it sends us the resync), so that case goes through the idle root (switch_root_via_idle).
void switch_root_direct(pv::Vcpu& vcpu, unsigned cpu) {
    load_cpu_gdt(cpu);  // valid in every root: the previous vCPU's GDT window goes with its root
    // A vCPU root is loaded on at most one pCPU (asi-reference 8.2 property 16): a pCPU still
    // idling lazily on it gives it up before its slot 261 turns to this pCPU's windows. Not
    // needed when this pCPU last held its state (last_loaded_cpu): a load anywhere else since
    // would have named that pCPU (the scheduler runs a vCPU on one pCPU at a time, and every
    // load and save records where), and our own earlier load already dropped older holders.
    if (vcpu.last_loaded_cpu != cpu + 1) drop_lazy_vcpu(vcpu);
    asi_switch_in(vcpu, cpu);       // its roots' slot 261 shows this pCPU's windows
    mapcache_switch_in(vcpu, cpu);  // its own slots once its root is loaded
    write_cr3(asi_root_cr3(vcpu));
    set_loaded_vcpu(cpu, &vcpu);
}

// Without vcpu-pt, or when a shadow must be re-copied: loaded_vcpu first, CR3 second. A
// shootdown sender that reads loaded_vcpu before this store made its page-table change before our
// CR3 load, so we walk the new entries; one that reads it after sends us its flush. With vcpu-pt
// the pCPU first leaves the root it may still hold lazily (its idle root): once loaded_vcpu no
// longer names that root's vCPU, another pCPU may load it and repoint its slot 261 at its own
// windows, and this pCPU's stacks would vanish under it.
void switch_root_via_idle(pv::Vcpu& vcpu, unsigned cpu) {
    if (asi_policy().vcpu_pt) {
        load_cpu_gdt(cpu);
        write_cr3(cpu_idle_root(cpu).maddr().raw());
    }
    set_loaded_vcpu(cpu, &vcpu);
    if (vcpu.asi_root[0] != 0) drop_lazy_vcpu(vcpu);  // as in switch_root_direct
    asi_switch_in(vcpu, cpu);
    mapcache_switch_in(vcpu, cpu);
    load_cpu_gdt(cpu);
    pv::reload_guest_root(vcpu);  // re-copies the stale shadows, now that loaded_vcpu names it
}

}  // namespace

// THE one place that makes a vCPU's address space and CPU state the pCPU's: loaded_vcpu, CR3,
// TLB, GDT, CR0.TS, x87/SSE, data selectors, segment bases and debug registers.
// Nothing of the previous vCPU survives (its state was saved when it left; the image restored
// here is complete). With asi vcpu-pt the CR3 is the vCPU's own shadow root (asi_roots.hpp).
// This is the only window where running != loaded on a switch.
void load_vcpu(pv::Vcpu& vcpu) {
    const unsigned cpu = current_cpu_index();
    // A full switch to another vCPU: nothing of the previous one may stay on this pCPU's stacks.
    if (asi_policy().zero_stack && last_vcpu[cpu] != &vcpu) zero_pending[cpu] = true;
    last_vcpu[cpu] = &vcpu;
    if (vcpu.asi_root[0] != 0 && asi_shadows_current(vcpu)) switch_root_direct(vcpu, cpu);
    else switch_root_via_idle(vcpu, cpu);
    flush_tlb_all();  // no translation of the previous vCPU survives, global or not, in any PCID
    pcid_vcpu_flushed(vcpu);
    pv::write_hardware_ts(vcpu, false);
    // After the CR3 load: its own window in the root just loaded.
    const pv::VcpuPrivateView state = pv::vcpu_private(vcpu);
    asm volatile("fxrstor64 %0" ::"m"(state->fxsave_area));
    pv::load_guest_gdt(vcpu);  // before the selectors, which are checked against it
    load_data_selectors(*state);
    wrmsr(kMsrFsBase, state->msr_fs_base);
    wrmsr(kMsrGsBase, state->msr_gs_base);
    wrmsr(kMsrKernelGsBase, state->msr_kernel_gs_base);
    pv::write_hardware_ts(vcpu, vcpu.cr0_ts);  // the virtual CR0.TS, for #NM on FPU use
    load_debug_registers(vcpu);
    pv::publish_vcpu_time(vcpu);
    vcpu.last_loaded_cpu = cpu + 1;
}

// Continues `vcpu` on this pCPU, which the scheduler just gave it. The lazy switch: when this
// pCPU still holds exactly its state (it was the last vCPU loaded here, and it has not run or
// been re-initialised elsewhere since), nothing is reloaded.
[[noreturn]] void run_vcpu(pv::Vcpu& vcpu) {
    const unsigned cpu = current_cpu_index();
    const bool lazy = loaded_vcpu(cpu) == &vcpu && vcpu.last_loaded_cpu == cpu + 1;
    if (!lazy) load_vcpu(vcpu);
    note_switch(lazy);
    resume(vcpu);
}

namespace {

// This pCPU's index, for code entered from a guest: it always runs on its pCPU's primary stack, so
// the stack's 2 MiB window says which pCPU this is (current_cpu_index() also copes with the boot
// stack, which a guest entry never runs on).
unsigned cpu_of_entry_stack() {
    u64 rsp;
    asm("movq %%rsp, %0" : "=r"(rsp));
    return static_cast<unsigned>((rsp - kCpuStacksBase) / kCpuStackWindow);
}

// Without an argument: the hot callers then keep nothing alive for it.
[[noreturn, gnu::cold, gnu::noinline]] void no_vcpu_on_entry() {
    print("isola: guest entry on pCPU %u with no vCPU loaded\n", current_cpu_index());
    machine_exit(ExitCode::HypervisorFault);
}

void hypercall_from(pv::Vcpu& vcpu, TrapFrame& frame) {
    // SYSCALL left the guest's RIP in RCX and RFLAGS in R11; the stub already put them in the
    // frame. The hypercall page saves RCX/R11 around the SYSCALL itself.
    frame.rflags = (frame.rflags & kGuestFlagsMask) | kGuestFlagsForced;
    pv::do_hypercall_frame(vcpu, frame);  // multicall needs the frame: an iret entry replaces it
}

// IRETQ to a non-canonical RIP would fault in the hypervisor: the guest gets #GP(0) instead, as on
// Xen (an iret or hypercall return to such an address).
[[gnu::cold, gnu::noinline]] void refuse_noncanonical_rip(pv::Vcpu& vcpu, TrapFrame& frame) {
    if (vcpu.domain->state != pv::DomainState::Running) return;
    frame.vector = 13;
    frame.error_code = 0;
    pv::handle_guest_exception(vcpu, frame, 0);
}

// Rare: an upcall waits. Delivering it may crash the domain (the bounce frame cannot be written),
// which must not return to the guest.
[[gnu::cold, gnu::noinline]] void deliver_upcall_then_check(pv::Vcpu& vcpu, TrapFrame& frame, unsigned cpu) {
    pv::deliver_pending_upcall(vcpu, frame);
    if (must_reschedule(vcpu, cpu)) {
        save_registers(vcpu, frame);
        schedule(vcpu);
    }
}

// pv::upcall_deliverable, inline through the vCPU's own window (the mapcache only when its area
// is not the loaded one, which an exit from its guest never sees).
[[gnu::always_inline]] inline bool upcall_waits(pv::Vcpu& vcpu) {
    if (const xen::VcpuInfo* info = vcpu_info_in_window(vcpu)) [[likely]]
        return upcall_deliverable_in(*info);
    return pv::read_upcall_deliverable(vcpu);
}

// Every return to a running guest delivers a deliverable event upcall first (pv-abi §4.8). A
// vCPU that blocks, yields, is preempted or whose domain ended goes through the scheduler. The
// common case (nothing to do) is a handful of inline loads: every hypercall and bounce pays it.
inline void resume_or_run_next(pv::Vcpu& vcpu, TrapFrame& frame, unsigned cpu) {
    if (!is_canonical(frame.rip)) [[unlikely]]
        refuse_noncanonical_rip(vcpu, frame);
    if (must_reschedule(vcpu, cpu)) [[unlikely]] {
        save_registers(vcpu, frame);
        schedule(vcpu);
    }
    if (upcall_waits(vcpu)) [[unlikely]]
        deliver_upcall_then_check(vcpu, frame, cpu);
}

}  // namespace

void syscall_init_cpu(unsigned cpu) {
    // LSTAR/CSTAR point at stub `cpu` by size: the stub arrays must start on a stub boundary.
    HV_CHECK(reinterpret_cast<u64>(hv_syscall_stubs) % HV_SYSCALL_STUB_SIZE == 0 &&
             reinterpret_cast<u64>(hv_syscall32_stubs) % HV_SYSCALL_STUB_SIZE == 0);
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
    pv::Vcpu* vcpu = running_vcpu(current_cpu_index());
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
    save_registers(*vcpu, guest);
    if (must_reschedule(*vcpu, current_cpu_index())) schedule(*vcpu);
    resume(*vcpu);
}

void handle_guest_exception_entry(TrapFrame& frame) {
    const unsigned cpu = cpu_of_entry_stack();
    pv::Vcpu* vcpu = running_vcpu(cpu);
    if (vcpu == nullptr) [[unlikely]]
        no_vcpu_on_entry();
    if (frame.vector == kVectorDebug) take_guest_debug_status(*vcpu);
    pv::handle_guest_exception(*vcpu, frame, frame.vector == 14 ? read_cr2() : 0);
    resume_or_run_next(*vcpu, frame, cpu);
}

void handle_guest_interrupt(TrapFrame& frame) {
    const unsigned cpu = cpu_of_entry_stack();
    pv::Vcpu* vcpu = running_vcpu(cpu);
    if (vcpu != nullptr) resume_or_run_next(*vcpu, frame, cpu);
}

}  // namespace hv::arch

// Every guest SYSCALL, from the per-pCPU stubs in vectors.S: a hypercall (guest kernel mode), the
// iret hypercall, or a user-mode SYSCALL bounced to the guest kernel's callback. Its own entry,
// not hv_handle_vector's dispatch: the null hypercall is the hottest path there is.
extern "C" void hv_handle_syscall(hv::arch::TrapFrame* frame) {
    using namespace hv::arch;
    const unsigned cpu = cpu_of_entry_stack();
    hv::pv::Vcpu* vcpu = running_vcpu(cpu);
    if (vcpu == nullptr) [[unlikely]]
        no_vcpu_on_entry();
    if (!vcpu->kernel_mode) {
        hv::pv::handle_user_syscall(*vcpu, *frame);
    } else if (frame->rax == ::xen::kIret) {
        hv::pv::do_iret(*vcpu, *frame);
    } else {
        hypercall_from(*vcpu, *frame);
    }
    resume_or_run_next(*vcpu, *frame, cpu);
}

namespace hv::arch {

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
    sched_init_boot(cpu_topology().online);
    __atomic_store_n(&domains_ready, true, __ATOMIC_RELEASE);
    wake_secondary_cpus();
    sched_start_cpu();
}

[[noreturn]] void run_domains_on_ap() {
    halt_until(&domains_ready);
    sched_start_cpu();
}

unsigned domain_total() { return domain_count; }
bool audit_requested() { return audit_at_end; }
pv::Domain& domain_at(unsigned index) { return domains[index]; }

}  // namespace hv::arch

namespace hv::pv {

// Domain id n lives in slot n - 1, from the moment its builder sets the id: the page-type engine
// needs the domain while the builder validates its first tables, before it counts as built.
Domain* find_domain(u16 id) {
    if (id == 0 || id > kMaxDomains || arch::domains[id - 1].id != id) return nullptr;
    return &arch::domains[id - 1];
}

}  // namespace hv::pv
