// SPDX-License-Identifier: MIT
// vcpu_op (24) and set_timer_op (15): bringing vCPUs up and down, and their timers.
// [pv-abi.md §3.15; Xen ABI xen/include/public/vcpu.h]
#include "hv/core/spinlock.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/domain_private.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/vcpu_context.hpp"
#include "hv/pv/vcpu_sched.hpp"
#include "hv/pv/xen_abi.hpp"
#include "hypercall_handlers.hpp"

namespace hv::pv {
namespace {

constexpr u64 kMinPeriodNs = 1'000'000;        // Xen: MILLISECS(1)
constexpr u64 kMaxPeriodNs = u64{1} << 62;     // Xen: STIME_DELTA_MAX

long initialise_from(Vcpu& caller, Vcpu& target, xen::VcpuGuestContext& context, u64 argument) {
    if (!copy_from_guest(caller, &context, argument, sizeof context)) return -xen::kEFAULT;
    if (target.initialised) return -xen::kEEXIST;
    const long checked = check_vcpu_context(context);
    if (checked != 0) return checked;
    PageTypeEngine engine = domain_engine(*caller.domain);
    return load_vcpu_context(target, engine, context);
}

// The context is large (5 KiB): it is copied into the domain's buffer, under mm_lock like the
// references load_vcpu_context takes. The buffer is in the domain's private area
// (domain_private.hpp), which only the domain's own roots map; it is still cleared before the
// lock is dropped, so the registers live on only in the target's private page (vcpu_private.hpp).
long initialise(Vcpu& caller, Vcpu& target, u64 argument) {
    Domain& domain = *caller.domain;
    DomainPrivateView area(caller);
    SpinlockGuard guard(domain.mm_lock);
    xen::VcpuGuestContext& context = area.context_buffer();
    const long result = initialise_from(caller, target, context, argument);
    auto* bytes = reinterpret_cast<volatile u8*>(&context);  // volatile: a dead store to keep
    for (usize i = 0; i < sizeof context; ++i) bytes[i] = 0;
    return result;
}

long singleshot(Vcpu& caller, Vcpu& target, u64 argument) {
    if (&caller != &target) return -xen::kEINVAL;  // Xen: only the calling vCPU's own timer
    xen::VcpuSetSingleshotTimer request{};
    if (!copy_from_guest(caller, &request, argument, sizeof request)) return -xen::kEFAULT;
    // VCPU_SSHOTTMR_future is ignored, as in Xen 4.17 (checked against it): a passed deadline
    // fires at once.
    // A deadline of 0 would read as "off": it is in the past anyway, so it fires at once.
    __atomic_store_n(&target.singleshot_deadline, request.timeout_abs_ns == 0 ? 1 : request.timeout_abs_ns,
                     __ATOMIC_RELEASE);
    return 0;
}

long periodic(Vcpu& caller, Vcpu& target, u64 argument) {
    xen::VcpuSetPeriodicTimer request{};
    if (!copy_from_guest(caller, &request, argument, sizeof request)) return -xen::kEFAULT;
    if (request.period_ns < kMinPeriodNs || request.period_ns > kMaxPeriodNs) return -xen::kEINVAL;
    __atomic_store_n(&target.periodic_next, system_time_ns() + request.period_ns, __ATOMIC_RELEASE);
    __atomic_store_n(&target.periodic_period, request.period_ns, __ATOMIC_RELEASE);
    return 0;
}

}  // namespace

long vcpu_op(Vcpu& vcpu, const HypercallArgs& args) {
    // Xen's cmd and vcpuid parameters are ints: only the low halves count.
    const u32 command = static_cast<u32>(args.arg[0]), id = static_cast<u32>(args.arg[1]);
    const u64 argument = args.arg[2];
    Domain& domain = *vcpu.domain;
    if (id >= domain.vcpu_count) return -xen::kENOENT;
    Vcpu& target = domain.vcpus[id];
    switch (command) {
        case xen::kVcpuOpInitialise: return initialise(vcpu, target, argument);
        case xen::kVcpuOpUp:
            if (!target.initialised) return -xen::kEINVAL;
            vcpu_bring_up(target);
            return 0;
        case xen::kVcpuOpDown: vcpu_take_down(target); return 0;
        case xen::kVcpuOpIsUp: return vcpu_is_up(target) ? 1 : 0;
        case xen::kVcpuOpSetSingleshotTimer: return singleshot(vcpu, target, argument);
        case xen::kVcpuOpStopSingleshotTimer:
            if (&vcpu != &target) return -xen::kEINVAL;
            __atomic_store_n(&target.singleshot_deadline, 0, __ATOMIC_RELEASE);
            return 0;
        case xen::kVcpuOpSetPeriodicTimer: return periodic(vcpu, target, argument);
        case xen::kVcpuOpStopPeriodicTimer: __atomic_store_n(&target.periodic_period, 0, __ATOMIC_RELEASE); return 0;
        default: return -xen::kENOSYS;
    }
}

long set_timer_op(Vcpu& vcpu, const HypercallArgs& args) {
    // 0 stops the timer; a deadline in the past fires at once. [pv-abi.md §2.3]
    __atomic_store_n(&vcpu.singleshot_deadline, args.arg[0], __ATOMIC_RELEASE);
    return 0;
}

}  // namespace hv::pv
