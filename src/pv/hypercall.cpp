// SPDX-License-Identifier: MIT
// The hypercall table. One small handler per hypercall; families that grow get their own file.
#include "hv/pv/hypercall.hpp"

#include "hv/core/console.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/event_channel.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/xen_abi.hpp"
#include "hypercall_handlers.hpp"

namespace hv::pv {
namespace {

using Handler = long (*)(Vcpu&, const HypercallArgs&);

long console_io(Vcpu& vcpu, const HypercallArgs& args) {
    const u64 command = args.arg[0], count = args.arg[1], buffer = args.arg[2];
    if (command == xen::kConsoleIoRead) return 0;  // no console input yet: nothing to read
    if (command != xen::kConsoleIoWrite) return -xen::kENOSYS;
    if (count > (u64{1} << 31)) return -xen::kEINVAL;
    char chunk[128];
    for (u64 done = 0; done < count;) {
        const usize step = count - done < sizeof chunk ? static_cast<usize>(count - done) : sizeof chunk;
        if (!copy_from_guest(vcpu, chunk, buffer + done, step)) return -xen::kEFAULT;
        domain_console_write(*vcpu.domain, chunk, step);
        done += step;
    }
    return 0;
}

long sched_op(Vcpu& vcpu, const HypercallArgs& args) {
    switch (args.arg[0]) {
        case xen::kSchedOpYield:
            vcpu.yielding = true;  // the exit to the guest gives the pCPU to the next queued vCPU
            return 0;
        case xen::kSchedOpBlock: return sched_block(vcpu);
        case xen::kSchedOpPoll: return sched_poll(vcpu, args.arg[1]);
        case xen::kSchedOpShutdown: {
            xen::SchedShutdown request{};
            if (!copy_from_guest(vcpu, &request, args.arg[1], sizeof request)) return -xen::kEFAULT;
            domain_shutdown(*vcpu.domain, request.reason);
            return 0;
        }
        default: return -xen::kENOSYS;
    }
}

struct TableEntry {
    u64 number;
    Handler handler;
};

constexpr TableEntry kTable[] = {
    {xen::kSetTrapTable, set_trap_table},
    {xen::kSetGdt, set_gdt},
    {xen::kUpdateDescriptor, update_descriptor},
    {xen::kMmuUpdate, mmu_update},
    {xen::kUpdateVaMapping, update_va_mapping},
    {xen::kMmuextOp, mmuext_op},
    {xen::kStackSwitch, stack_switch},
    {xen::kSetCallbacks, set_callbacks},
    {xen::kCallbackOp, callback_op},
    {xen::kConsoleIo, console_io},
    {xen::kSchedOp, sched_op},
    {xen::kEventChannelOp, event_channel_op},
    {xen::kXenVersion, xen_version},
    {xen::kMemoryOp, memory_op},
    {xen::kMulticall, nested_multicall},  // a top-level multicall goes through do_hypercall_frame
    {xen::kVmAssist, vm_assist},
    {xen::kPhysdevOp, physdev_op},
    {xen::kFpuTaskswitch, fpu_taskswitch},
    {xen::kSetDebugreg, set_debugreg},
    {xen::kGetDebugreg, get_debugreg},
    {xen::kSetSegmentBase, set_segment_base},
    {xen::kGrantTableOp, grant_table_op},
    {xen::kVcpuOp, vcpu_op},
    {xen::kSetTimerOp, set_timer_op},
};

// The hypercalls that use the domain's page-type engine: serialised per domain (mm_lock), since
// the domain's vCPUs may run on several pCPUs at once and the engine has no lock of its own
// (page_types.hpp). VCPUOP_initialise takes the lock itself, and so does grant_table_op (per
// operation, with the other domain's when one maps another's grant). A multicall takes it per
// entry.
constexpr bool uses_page_types(u64 number) {
    switch (number) {
        case xen::kMmuUpdate:
        case xen::kUpdateVaMapping:
        case xen::kMmuextOp:
        case xen::kSetGdt:
        case xen::kUpdateDescriptor:
        case xen::kMemoryOp:
        case xen::kEventChannelOp: return true;  // init_control looks at a frame's references
        default: return false;
    }
}

// The same table indexed by number, with whether the call takes mm_lock: dispatch is one bounds
// check, one load of the slot and one indirect call (the null hypercall is the benchmark every PV
// hypervisor is judged by).
struct DispatchSlot {
    Handler handler;
    bool takes_mm_lock;
};
struct DispatchTable {
    DispatchSlot by_number[xen::kHypercallCount];
};
constexpr DispatchTable make_dispatch_table() {
    DispatchTable table{};
    for (const TableEntry& entry : kTable)
        table.by_number[entry.number] = {entry.handler, uses_page_types(entry.number)};
    return table;
}
constexpr DispatchTable kDispatch = make_dispatch_table();
static_assert([] {
    for (const TableEntry& entry : kTable)
        if (entry.number >= xen::kHypercallCount) return false;
    return true;
}(), "every hypercall number fits the hypercall page");

[[gnu::noinline]] long call_under_mm_lock(Handler handler, Vcpu& vcpu, const HypercallArgs& args) {
    SpinlockGuard guard(vcpu.domain->mm_lock);
    return handler(vcpu, args);
}

}  // namespace

long do_hypercall(Vcpu& vcpu, u64 number, const HypercallArgs& args) {
    if (number >= xen::kHypercallCount) return -xen::kENOSYS;
    const DispatchSlot& slot = kDispatch.by_number[number];
    if (slot.handler == nullptr) return -xen::kENOSYS;
    if (slot.takes_mm_lock) return call_under_mm_lock(slot.handler, vcpu, args);
    return slot.handler(vcpu, args);
}

bool hypercall_preempt_check(Vcpu& vcpu) {
    return hypervisor_work_pending(vcpu) || (read_upcall_pending(vcpu) != 0 && read_upcall_mask(vcpu) == 0);
}

long create_continuation(Vcpu& vcpu, u64 number, const HypercallArgs& args) {
    HypercallContinuation& continuation = vcpu.continuation;
    continuation.pending = true;
    continuation.number = number;
    for (unsigned i = 0; i < 5; ++i) continuation.args[i] = args.arg[i];
    return static_cast<long>(number);
}

}  // namespace hv::pv
