// SPDX-License-Identifier: MIT
// Guest runtime: trap table, callbacks, exception dispatch, user mode and shared_info.
// Nothing here runs unless a test calls setup_traps() / exec_user() / map_shared_info().
#include <cstddef>

#include "guest.hpp"
#include "traps_layout.h"

namespace guest {
static_assert(kVecSyscall == GUEST_VEC_SYSCALL && kVecSyscall32 == GUEST_VEC_SYSCALL32);
static_assert(kVecSysenter == GUEST_VEC_SYSENTER && kVecEvent == GUEST_VEC_EVENT);
static_assert(GUEST_FLAT_USER_CS == xen::kFlatRing3Cs64 && GUEST_FLAT_USER_SS == xen::kFlatRing3Ss64);
static_assert(GUEST_HYPERCALL_IRET == xen::kIret);
// traps.S overlays this on the stack: the RIP slot must follow 15 GPRs, vector and error code.
static_assert(offsetof(ExceptionFrame, vector) == 15 * 8 && offsetof(ExceptionFrame, rip) == 17 * 8);
static_assert(sizeof(ExceptionFrame) == 22 * 8 && sizeof(ExceptionFrame) % 16 == 0);
}  // namespace guest

extern "C" {
#define GUEST_STUB(v) void guest_entry_##v();
GUEST_STUB(0) GUEST_STUB(1) GUEST_STUB(2) GUEST_STUB(3) GUEST_STUB(4) GUEST_STUB(5) GUEST_STUB(6)
GUEST_STUB(7) GUEST_STUB(8) GUEST_STUB(9) GUEST_STUB(10) GUEST_STUB(11) GUEST_STUB(12) GUEST_STUB(13)
GUEST_STUB(14) GUEST_STUB(15) GUEST_STUB(16) GUEST_STUB(17) GUEST_STUB(18) GUEST_STUB(19) GUEST_STUB(20)
GUEST_STUB(21) GUEST_STUB(22) GUEST_STUB(23) GUEST_STUB(24) GUEST_STUB(25) GUEST_STUB(26) GUEST_STUB(27)
GUEST_STUB(28) GUEST_STUB(29) GUEST_STUB(30) GUEST_STUB(31) GUEST_STUB(0x20) GUEST_STUB(0x21)
GUEST_STUB(0x40) GUEST_STUB(0x42) GUEST_STUB(0x80) GUEST_STUB(0x100) GUEST_STUB(0x101)
GUEST_STUB(0x102) GUEST_STUB(0x103)
#undef GUEST_STUB
long guest_exec_user_asm(long (*fn)());
[[noreturn]] void guest_exec_user_return(long result);
extern guest::u64 guest_exec_user_saved_rsp;
extern char guest_kernel_trap_stack_top[];
extern char guest_user_stack_top[];
struct GuestExtable {
    guest::u64 fault, fixup;
};
extern const GuestExtable __guest_extable_start[], __guest_extable_end[];
}

namespace guest {

ExceptionRecord last_exception;

namespace {

ExceptionHook hook;
volatile xen::SharedInfo* shared;
bool user_root_set;
alignas(4096) char shared_info_page[4096];  // its own page: update_va_mapping replaces it

u64 stub_address(unsigned vector) {
    using Stub = void (*)();
    static constexpr Stub kExceptions[32] = {
        guest_entry_0,  guest_entry_1,  guest_entry_2,  guest_entry_3,  guest_entry_4,  guest_entry_5,
        guest_entry_6,  guest_entry_7,  guest_entry_8,  guest_entry_9,  guest_entry_10, guest_entry_11,
        guest_entry_12, guest_entry_13, guest_entry_14, guest_entry_15, guest_entry_16, guest_entry_17,
        guest_entry_18, guest_entry_19, guest_entry_20, guest_entry_21, guest_entry_22, guest_entry_23,
        guest_entry_24, guest_entry_25, guest_entry_26, guest_entry_27, guest_entry_28, guest_entry_29,
        guest_entry_30, guest_entry_31};
    Stub stub = nullptr;
    if (vector < 32) stub = kExceptions[vector];
    if (vector == 0x20) stub = guest_entry_0x20;
    if (vector == 0x21) stub = guest_entry_0x21;
    if (vector == 0x40) stub = guest_entry_0x40;
    if (vector == 0x42) stub = guest_entry_0x42;
    if (vector == 0x80) stub = guest_entry_0x80;
    return reinterpret_cast<u64>(stub);
}

// Flags as XTF's table (pv-abi §3.3): everything masks events; #BP/#OF and the software vectors
// may be raised from user mode (DPL 3).
u8 default_flags(unsigned vector) {
    const bool user_raisable = vector == 3 || vector == 4 || vector >= 32;
    return xen::kTrapMaskEvents | (user_raisable ? 3 : 0);
}

long register_callback(unsigned type, u16 flags, void (*entry)()) {
    xen::CallbackRegister request{static_cast<u16>(type), flags, 0, reinterpret_cast<u64>(entry)};
    return hypercall(xen::kCallbackOp, xen::kCallbackOpRegister, reinterpret_cast<u64>(&request));
}

const GuestExtable* find_extable(u64 rip) {
    for (const GuestExtable* entry = __guest_extable_start; entry < __guest_extable_end; ++entry)
        if (entry->fault == rip) return entry;
    return nullptr;
}

}  // namespace

const char* vector_name(u64 vector) {
    static const char* const kNames[32] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
                                           "#DF", "#09", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
                                           "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23",
                                           "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31"};
    if (vector < 32) return kNames[vector];
    if (vector == kVecSyscall) return "syscall callback";
    if (vector == kVecSyscall32) return "syscall32 callback";
    if (vector == kVecSysenter) return "sysenter callback";
    if (vector == kVecEvent) return "event upcall";
    return "INT n";
}

bool setup_traps() {
    xen::TrapInfo table[32 + 3 + 1] = {};
    unsigned count = 0;
    // 0x40 doubles 0x20 because QEMU TCG reports `int $n` through a DPL-0 gate as #GP(n*16+2),
    // so Xen under TCG delivers vector 2n (pv-abi §4.10 #1); hardware and Isola deliver 0x20.
    static constexpr unsigned kSoftware[] = {0x20, 0x40, 0x80};
    for (unsigned vector = 0; vector < 32; ++vector)
        table[count++] = {static_cast<u8>(vector), default_flags(vector), kKernelCs, 0, stub_address(vector)};
    for (unsigned vector : kSoftware)
        table[count++] = {static_cast<u8>(vector), default_flags(vector), kKernelCs, 0, stub_address(vector)};
    bool ok = true;
    long rc = hypercall(xen::kSetTrapTable, reinterpret_cast<u64>(table));
    if (rc != 0) error("set_trap_table: %ld\n", rc), ok = false;
    // Bounces from user mode land on this stack (the SS RPL is raised to 3 by the hypervisor).
    rc = hypercall(xen::kStackSwitch, xen::kFlatKernelSs & ~3u, reinterpret_cast<u64>(guest_kernel_trap_stack_top));
    if (rc != 0) error("stack_switch: %ld\n", rc), ok = false;
    struct Callback {
        unsigned type;
        u16 flags;
        void (*entry)();
    };
    // The event callback masks events whatever the flag says; the others are told to (as XTF).
    static constexpr Callback kCallbacks[] = {
        {xen::kCallbackTypeEvent, 0, guest_entry_0x103},
        {xen::kCallbackTypeSyscall, xen::kCallbackFlagMaskEvents, guest_entry_0x100},
        {xen::kCallbackTypeSyscall32, xen::kCallbackFlagMaskEvents, guest_entry_0x101},
        {xen::kCallbackTypeSysenter, xen::kCallbackFlagMaskEvents, guest_entry_0x102},
    };
    for (const Callback& callback : kCallbacks) {
        rc = register_callback(callback.type, callback.flags, callback.entry);
        if (rc != 0) error("callback_op register type %u: %ld\n", callback.type, rc), ok = false;
    }
    return ok;
}

long set_trap(unsigned vector, unsigned flags) {
    const xen::TrapInfo table[2] = {{static_cast<u8>(vector), static_cast<u8>(flags), kKernelCs, 0, stub_address(vector)}, {}};
    if (table[0].address == 0) return -xen::kEINVAL;
    return hypercall(xen::kSetTrapTable, reinterpret_cast<u64>(table));
}

ExceptionHook set_exception_hook(ExceptionHook new_hook) {
    ExceptionHook previous = hook;
    hook = new_hook;
    return previous;
}

void clear_last_exception() { last_exception = {}; }

u64 pfn_to_mfn(u64 pfn) { return reinterpret_cast<const u64*>(start_info->mfn_list)[pfn]; }

u64 kernel_trap_stack_top() { return reinterpret_cast<u64>(guest_kernel_trap_stack_top); }
u64 user_stack_top() { return reinterpret_cast<u64>(guest_user_stack_top); }

long exec_user(long (*fn)()) {
    if (!user_root_set) {
        // XTF's model: user and kernel share one address space (every PV page is user-accessible
        // in hardware), so the bootstrap L4 doubles as the user root.
        xen::MmuextOp op{xen::kMmuextNewUserBaseptr, 0, pfn_to_mfn(start_info->pt_base >> 12), 0};
        const long rc = hypercall(xen::kMmuextOp, reinterpret_cast<u64>(&op), 1, 0, xen::kDomidSelf);
        if (rc != 0) {
            error("mmuext_op NEW_USER_BASEPTR: %ld\n", rc);
            return -1;
        }
        user_root_set = true;
    }
    return guest_exec_user_asm(fn);
}

long set_user_root(u64 mfn) {
    xen::MmuextOp op{xen::kMmuextNewUserBaseptr, 0, mfn, 0};
    const long rc = hypercall(xen::kMmuextOp, reinterpret_cast<u64>(&op), 1, 0, xen::kDomidSelf);
    if (rc == 0) user_root_set = mfn != 0;
    return rc;
}

volatile xen::SharedInfo* map_shared_info() {
    if (shared != nullptr) return shared;
    constexpr u64 kPresentRwAccessedDirty = 0x63;
    const long rc = hypercall(xen::kUpdateVaMapping, reinterpret_cast<u64>(shared_info_page),
                              start_info->shared_info | kPresentRwAccessedDirty, xen::kUvmfInvlpg);
    if (rc != 0) {
        error("update_va_mapping(shared_info): %ld\n", rc);
        return nullptr;
    }
    shared = reinterpret_cast<volatile xen::SharedInfo*>(shared_info_page);
    return shared;
}

volatile xen::SharedInfo* shared_info() { return shared; }

}  // namespace guest

// Called by traps.S with the frame on the stack; returns only when the exception was handled.
extern "C" void guest_handle_exception(guest::ExceptionFrame* frame) {
    using namespace guest;
    const int mask = shared != nullptr ? shared->vcpu_info[0].evtchn_upcall_mask : -1;
    // exec_user's way home: `int $0x20` from user mode (0x40: the same under QEMU TCG, see above).
    if ((frame->vector == 0x20 || frame->vector == 0x40) && frame->user_mode() && guest_exec_user_saved_rsp != 0)
        guest_exec_user_return(static_cast<long>(frame->rax));
    if (hook != nullptr && hook(*frame)) return;
    if (const GuestExtable* entry = find_extable(frame->rip)) {
        last_exception.seen = true;
        last_exception.frame = *frame;
        last_exception.rip_slot = reinterpret_cast<u64>(&frame->rip);
        last_exception.handler_mask = mask;
        frame->rip = entry->fixup;
        return;
    }
    print("Unhandled exception vec %lu (%s) at rip 0x%lx\n", frame->vector, vector_name(frame->vector), frame->rip);
    print("  error code 0x%lx cs 0x%lx rflags 0x%lx rsp 0x%lx ss 0x%lx\n", frame->error_code, frame->cs,
          frame->rflags, frame->rsp, frame->ss);
    if (frame->vector == 14 && shared != nullptr) print("  cr2 0x%lx\n", shared->vcpu_info[0].cr2);
    shutdown(xen::kShutdownCrash);
}
