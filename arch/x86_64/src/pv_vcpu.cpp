// SPDX-License-Identifier: MIT
// Platform side of a running PV vCPU: mode switches, its vcpu_info, and the event-channel bits of
// any domain's shared_info.
#include "arch/asi_roots.hpp"
#include "arch/cpu.hpp"
#include "arch/lapic.hpp"
#include "arch/mapcache.hpp"
#include "arch/perdomain_area.hpp"
#include "arch/sched.hpp"
#include "arch/smp.hpp"
#include "arch/time.hpp"
#include "arch/vcpu_info.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

// shared_info is a guest frame, never in the directmap: the running domain's shows at a fixed
// VA of its per-domain area, any other through the mapcache.
class SharedInfoView {
  public:
    explicit SharedInfoView(Domain& domain)
        : mapping_(arch::domain_area_loaded(domain) ? arch::MappedFrame() : arch::map_domain_page(domain.shared_info)) {}
    xen::SharedInfo* operator->() const { return get(); }
    xen::SharedInfo* get() const {
        return mapping_.mapped() ? mapping_.as<xen::SharedInfo>()
                                           : reinterpret_cast<xen::SharedInfo*>(arch::kSharedInfoVa);
    }

  private:
    arch::MappedFrame mapping_;
};

template <class Fn>
[[gnu::noinline]] auto with_mapped_vcpu_info(Vcpu& vcpu, Fn fn) {
    const arch::MappedFrame mapping = arch::map_domain_page(vcpu.domain->shared_info);
    return fn(mapping.as<xen::SharedInfo>()->vcpu_info[vcpu.id]);
}

// fn(vcpu_info of `vcpu`), returning what fn returns: through the vCPU's slot-260 window when its
// area is the loaded one (every exit to the guest comes here: no mapping object, no stack frame
// on that path), else through the mapcache. fn takes its inputs by value and returns its output,
// so the fast path keeps everything in registers.
template <class Fn>
auto with_vcpu_info(Vcpu& vcpu, Fn fn) {
    if (xen::VcpuInfo* info = arch::vcpu_info_in_window(vcpu)) [[likely]]
        return fn(*info);
    return with_mapped_vcpu_info(vcpu, fn);
}

}  // namespace

void switch_guest_mode(Vcpu& vcpu, bool to_kernel) {
    if (vcpu.kernel_mode == to_kernel) return;
    vcpu.kernel_mode = to_kernel;
    arch::write_cr3(arch::asi_mode_root_cr3(vcpu));  // reload_guest_root, inline for this hot path
    // The guest kernel and user GS bases trade places, as SWAPGS would for a native kernel.
    asm volatile("swapgs" ::: "memory");
}

u8 read_upcall_mask(Vcpu& vcpu) {
    return with_vcpu_info(vcpu, [](xen::VcpuInfo& info) { return info.evtchn_upcall_mask; });
}

void write_upcall_mask(Vcpu& vcpu, u8 mask) {
    with_vcpu_info(vcpu, [mask](xen::VcpuInfo& info) { info.evtchn_upcall_mask = mask; });
}

void write_guest_cr2(Vcpu& vcpu, u64 cr2) {
    with_vcpu_info(vcpu, [cr2](xen::VcpuInfo& info) { info.cr2 = cr2; });
}

}  // namespace hv::pv

// ---- Event-channel bits of any domain's shared_info (event_channel.cpp) ----

namespace hv::pv {
namespace {

// The u64 word of evtchn_pending or evtchn_mask holding `port`, inside the mapped page.
u64* evtchn_word(const SharedInfoView& page, EvtchnBits bits, unsigned port) {
    auto* shared = page.get();
    u64* array = bits == EvtchnBits::Pending ? shared->evtchn_pending : shared->evtchn_mask;
    return &array[port / 64];
}

u64 port_bit(unsigned port) { return u64{1} << (port % 64); }

}  // namespace

bool evtchn_test_bit(Domain& domain, EvtchnBits bits, unsigned port) {
    const SharedInfoView page(domain);
    return (__atomic_load_n(evtchn_word(page, bits, port), __ATOMIC_SEQ_CST) & port_bit(port)) != 0;
}

bool evtchn_test_and_set_bit(Domain& domain, EvtchnBits bits, unsigned port) {
    const SharedInfoView page(domain);
    return (__atomic_fetch_or(evtchn_word(page, bits, port), port_bit(port), __ATOMIC_SEQ_CST) & port_bit(port)) != 0;
}

bool evtchn_test_and_clear_bit(Domain& domain, EvtchnBits bits, unsigned port) {
    const SharedInfoView page(domain);
    return (__atomic_fetch_and(evtchn_word(page, bits, port), ~port_bit(port), __ATOMIC_SEQ_CST) & port_bit(port)) !=
           0;
}

bool evtchn_selector_test_and_set(Domain& domain, unsigned vcpu_id, unsigned word) {
    const SharedInfoView page(domain);
    u64* selector = &page->vcpu_info[vcpu_id].evtchn_pending_sel;
    return (__atomic_fetch_or(selector, u64{1} << word, __ATOMIC_SEQ_CST) & (u64{1} << word)) != 0;
}

bool upcall_pending_test_and_set(Domain& domain, unsigned vcpu_id) {
    const SharedInfoView page(domain);
    u8* pending = &page->vcpu_info[vcpu_id].evtchn_upcall_pending;
    return __atomic_exchange_n(pending, u8{1}, __ATOMIC_SEQ_CST) != 0;
}

u8 read_upcall_pending(Vcpu& vcpu) {
    return with_vcpu_info(vcpu, [](xen::VcpuInfo& info) {
        return __atomic_load_n(&info.evtchn_upcall_pending, __ATOMIC_SEQ_CST);
    });
}

bool read_upcall_deliverable(Vcpu& vcpu) {
    return with_vcpu_info(vcpu, [](xen::VcpuInfo& info) { return arch::upcall_deliverable_in(info); });
}

// vcpu_info.time: the TSC's scale since boot. The values never change (one calibration, the
// TSC is invariant), so a guest's extrapolation matches system_time_ns() exactly; the version
// is still bumped odd/even around the write as the protocol requires. [pv-abi.md §1.8]
void publish_vcpu_time(Vcpu& vcpu) {
    with_vcpu_info(vcpu, [&](xen::VcpuInfo& info) {
        xen::VcpuTimeInfo& time = info.time;
        const u32 version = __atomic_load_n(&time.version, __ATOMIC_RELAXED);
        __atomic_store_n(&time.version, (version | 1) + 0, __ATOMIC_RELEASE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        time.tsc_timestamp = arch::boot_tsc();
        time.system_time = 0;
        time.tsc_to_system_mul = arch::tsc_scale().mul;
        time.tsc_shift = arch::tsc_scale().shift;
        time.flags = 0;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        __atomic_store_n(&time.version, (version | 1) + 1, __ATOMIC_RELEASE);
    });
}

}  // namespace hv::pv

// ---- Segment bases, CR0.TS and shared_info.arch of the running vCPU (hypercall_misc.cpp,
// emulate_io.cpp, hypercall_memory.cpp) ----

namespace hv::pv {
namespace {

constexpr u32 kMsrFsBase = 0xC0000100, kMsrGsBase = 0xC0000101, kMsrKernelGsBase = 0xC0000102;
constexpr u64 kCr0Ts = 1u << 3;

// Where a GS base lives while the vCPU runs: the hypervisor swaps GS on every guest mode switch
// (and not on its own entry), so the current mode's base is the live GS_BASE and the other one
// waits in KERNEL_GS_BASE.
u32 gs_base_msr(const Vcpu& vcpu, SegmentBase which) {
    const bool live = (which == SegmentBase::GsKernel) == vcpu.kernel_mode;
    return live ? kMsrGsBase : kMsrKernelGsBase;
}

u32 base_msr(const Vcpu& vcpu, SegmentBase which) {
    return which == SegmentBase::Fs ? kMsrFsBase : gs_base_msr(vcpu, which);
}

// Whether loading `selector` into a data segment register at CPL 3 succeeds, checked in software
// against the live GDT (guest pages 0-13 and Xen's reserved page 14, every page mapped) so the
// load itself cannot fault in hypervisor context. [SDM 3A §5.5, MOV (to a segment register)]
bool user_data_selector_loads(u16 selector) {
    if ((selector & 4) != 0) return false;  // an LDT selector: Isola gives PV guests no LDT
    struct [[gnu::packed]] {
        u16 limit;
        u64 base;
    } gdtr{};
    asm volatile("sgdt %0" : "=m"(gdtr));
    const u64 offset = selector & ~u64{7};
    if (offset + 7 > gdtr.limit) return false;
    const u64 descriptor = *reinterpret_cast<const volatile u64*>(gdtr.base + offset);
    const bool present = (descriptor >> 47) & 1, system = ((descriptor >> 44) & 1) == 0;
    const bool code = (descriptor >> 43) & 1, conforming = code && ((descriptor >> 42) & 1);
    const bool readable = !code || ((descriptor >> 41) & 1);
    const unsigned dpl = (descriptor >> 45) & 3;
    return present && !system && readable && (conforming || dpl == 3);
}

}  // namespace

void write_segment_base(Vcpu& vcpu, SegmentBase which, u64 base) { arch::wrmsr(base_msr(vcpu, which), base); }

u64 read_segment_base(Vcpu& vcpu, SegmentBase which) { return arch::rdmsr(base_msr(vcpu, which)); }

void load_user_gs_selector(Vcpu& vcpu, u16 selector) {
    if (selector > 3) selector |= 3;  // RPL 3, as the guest runs in ring 3
    if (!user_data_selector_loads(selector)) selector = 0;
    const u16 flat = xen::kFlatRing3Ss64;
    // Make the user GS the live one, load it (first the flat selector, so a null selector ends with
    // base 0 on AMD as on Intel), and swap back.
    if (vcpu.kernel_mode) asm volatile("swapgs" ::: "memory");
    asm volatile("mov %0, %%gs\n\tmov %1, %%gs" ::"r"(flat), "r"(selector) : "memory");
    if (vcpu.kernel_mode) asm volatile("swapgs" ::: "memory");
}

u16 user_selector_or_null(u16 selector) { return user_data_selector_loads(selector) ? selector : 0; }

void write_hardware_ts(Vcpu&, bool set) {
    const u64 cr0 = arch::read_cr0();
    const u64 wanted = set ? cr0 | kCr0Ts : cr0 & ~kCr0Ts;
    if (wanted != cr0) asm volatile("mov %0, %%cr0" ::"r"(wanted) : "memory");
}

bool hypervisor_work_pending(Vcpu& vcpu) {
    return arch::lapic_interrupt_pending() || arch::must_reschedule(vcpu, arch::current_cpu_index());
}

// Read once with FXSAVE (into a scratch area: the live x87/SSE state is the running guest's and
// stays as it is); CR0.TS is cleared around it, as FXSAVE would raise #NM.
u32 cpu_mxcsr_mask() {
    static u32 mask;  // zero until first asked; the same on every pCPU
    if (mask != 0) return mask;
    alignas(16) u8 area[512] = {};
    const u64 cr0 = arch::read_cr0();
    if ((cr0 & kCr0Ts) != 0) asm volatile("clts" ::: "memory");
    asm volatile("fxsave64 %0" : "=m"(area));
    if ((cr0 & kCr0Ts) != 0) asm volatile("mov %0, %%cr0" ::"r"(cr0) : "memory");
    const u32 reported = u32{area[28]} | u32{area[29]} << 8 | u32{area[30]} << 16 | u32{area[31]} << 24;
    mask = reported != 0 ? reported : 0xffbf;
    return mask;
}

u64 read_guest_max_pfn(Vcpu& vcpu) {
    const SharedInfoView page(*vcpu.domain);
    return __atomic_load_n(&page->max_pfn, __ATOMIC_RELAXED);
}

}  // namespace hv::pv
