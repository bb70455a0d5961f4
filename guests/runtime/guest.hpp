// SPDX-License-Identifier: MIT
// The guest runtime: hypercall wrappers, console and test reporting for Isola's guest test
// kernels. The same binaries run on Isola and on Xen 4.17, so everything here is plain Xen PV ABI.
#pragma once

#include <cstdint>

#include "hv/pv/xen_abi.hpp"

namespace guest {

using u64 = std::uint64_t;
using u32 = std::uint32_t;
using u16 = std::uint16_t;
using u8 = std::uint8_t;

extern const xen::StartInfo* start_info;
}  // namespace guest
extern "C" char hypercall_page[];
namespace guest {

// A hypercall through the hypercall page: `call hypercall_page + nr*32`, arguments in
// RDI, RSI, RDX, R10, R8; the result (>= 0, or -errno) in RAX.
long hypercall(unsigned number, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0, u64 a5 = 0);

void print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void shutdown(xen::ShutdownReason reason);

// XTF-style results: the worst one reported wins; "Test result: X" is the last line printed.
enum class Result { Success, Skip, Error, Failure };
void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void skip(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Checks `actual == expected`, reporting a failure naming `what` otherwise.
void expect_eq(const char* what, long actual, long expected);

// ---- Exceptions, user mode and shared_info (opt-in: hello and friends never call these) ----

// The frame the exception stubs build: saved GPRs, then vector and error code, then the bounce
// frame exactly where Xen wrote it (pv-abi §4.2). Handlers may edit it; it is restored on return.
struct ExceptionFrame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector;      // 0-255, or a kVec* pseudo-vector for callbacks
    u64 error_code;  // 0 for vectors without one
    u64 rip, cs, rflags, rsp, ss;
    bool user_mode() const { return (cs & 3) == 3; }
    unsigned saved_upcall_mask() const { return (cs >> xen::kBounceCsMaskShift) & 0xff; }
};
inline constexpr u64 kVecSyscall = 0x100;    // syscall callback (64-bit user SYSCALL)
inline constexpr u64 kVecSyscall32 = 0x101;  // syscall32 callback
inline constexpr u64 kVecSysenter = 0x102;   // sysenter callback
inline constexpr u64 kVecEvent = 0x103;      // event upcall
inline constexpr u16 kKernelCs = 0xe030;     // FLAT_KERNEL_CS with RPL 0, as bounce frames report it

// Installs the trap table (vectors 0-31, 0x20 and 0x40 for exec_user, 0x80), the stack_switch
// stack and the event/syscall/syscall32/sysenter callbacks. Reports error() and returns false on failure.
bool setup_traps();
// (Re)installs the runtime stub for one vector (0-31, 0x20, 0x21, 0x40, 0x42, 0x80) with `flags`
// (DPL | xen::kTrapMaskEvents). Returns the set_trap_table result.
long set_trap(unsigned vector, unsigned flags);

// A per-test hook sees every exception first; returning true resumes the (possibly edited) frame
// through the iret hypercall. Returns the previous hook.
using ExceptionHook = bool (*)(ExceptionFrame&);
ExceptionHook set_exception_hook(ExceptionHook hook);

// Expected faults: an entry maps the RIP a frame reports to a resume address. The runtime records
// the frame in last_exception and continues at the fixup. Use inside asm(): GUEST_EXTABLE(1b, 2f).
#define GUEST_EXTABLE(fault, fixup) \
    ".pushsection .guest_extable, \"a\"\n.balign 8\n.quad " #fault ", " #fixup "\n.popsection\n"
struct ExceptionRecord {
    bool seen;
    ExceptionFrame frame;
    u64 rip_slot;         // address of the frame's RIP slot, to check where Xen put the frame
    int handler_mask;     // evtchn_upcall_mask inside the handler (-1: shared_info not mapped)
};
extern ExceptionRecord last_exception;
void clear_last_exception();
const char* vector_name(u64 vector);

// Runs fn at guest user level (CS 0xe033) on the runtime's user stack, with the kernel page tables
// as the user root unless set_user_root() chose another, and returns its result. fn returns to
// kernel mode with `int $0x20`.
long exec_user(long (*fn)());
// Makes L4 frame `mfn` the user root exec_user runs on (NEW_USER_BASEPTR) instead of the kernel L4
// it installs by default; 0 sets none, and the next exec_user installs the kernel L4 again.
// Returns the mmuext_op result (nothing changes on failure).
long set_user_root(u64 mfn);
u64 kernel_trap_stack_top();  // the stack_switch stack: where user-mode bounces land
u64 user_stack_top();

// Maps the shared_info frame (pv-abi §1.8) into a page of the image; nullptr on failure.
volatile xen::SharedInfo* map_shared_info();
volatile xen::SharedInfo* shared_info();  // nullptr until mapped

// The machine frame behind a pseudo-physical frame (start_info's p2m list).
u64 pfn_to_mfn(u64 pfn);

// ---- Several vCPUs (smp.cpp) ----

// Brings up vCPU `id` (VCPUOP_initialise + VCPUOP_up) running fn(id) on its own stack, in kernel
// mode on our page tables, events masked, no trap table. When fn returns the vCPU takes itself
// down. Returns the first failing hypercall's result, or 0.
long start_vcpu(unsigned id, void (*fn)(unsigned));
// The vcpu_guest_context start_vcpu would use (tests edit copies of it for hostile cases).
void default_vcpu_context(xen::VcpuGuestContext& context, unsigned id, void (*fn)(unsigned));
long vcpu_op(unsigned command, unsigned id, void* argument);
// How many vCPUs the domain has (VCPUOP_is_up answers -ENOENT beyond), at most 8.
unsigned vcpu_count();
// Event channel helpers.
long evtchn_op(unsigned command, void* argument);
long bind_ipi(unsigned vcpu);  // the port, or -errno
long send_event(u32 port);
// Waits (SCHEDOP_poll, events may stay masked) until `port` is pending, then clears it.
// Gives up after `timeout_ns` of system time (0: never); false then.
bool wait_port(u32 port, u64 timeout_ns = 0);
bool take_port(u32 port);  // clears the pending bit; true if it was set
void yield();
// Xen system time (ns) from our vcpu_info.time (vCPU `vcpu`); needs map_shared_info().
u64 system_time(unsigned vcpu = 0);
// The value of "key=<decimal>" on the command line, or `fallback`.
unsigned cmdline_option(const char* key, unsigned fallback);
inline u64 rdtsc() {
    u32 lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (u64{hi} << 32) | lo;
}

// Provided by each test kernel.
extern const char kTestTitle[];
void test_main();

}  // namespace guest
