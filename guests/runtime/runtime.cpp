// SPDX-License-Identifier: MIT
// Guest runtime: start-of-day, console through console_io, results, shutdown.
#include <cstdarg>

#include "guest.hpp"
#include "hv/core/format.hpp"

namespace guest {

const xen::StartInfo* start_info;

namespace {

Result worst = Result::Success;

void note(Result result) {
    if (static_cast<int>(result) > static_cast<int>(worst)) worst = result;
}

void vprint(const char* prefix, const char* fmt, va_list args) {
    char line[512];
    hv::usize length = hv::format(line, sizeof line, "%s", prefix);
    length += hv::format_v(line + length, sizeof line - length, fmt, args);
    hypercall(xen::kConsoleIo, xen::kConsoleIoWrite, length, reinterpret_cast<u64>(line));
}

const char* result_name(Result result) {
    switch (result) {
        case Result::Success: return "SUCCESS";
        case Result::Skip: return "SKIP";
        case Result::Error: return "ERROR";
        case Result::Failure: return "FAILURE";
    }
    return "ERROR";
}

}  // namespace

long hypercall(unsigned number, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5) {
    long result;
    register u64 r10 asm("r10") = a4;
    register u64 r8 asm("r8") = a5;
    const u64 stub = reinterpret_cast<u64>(hypercall_page) + number * xen::kHypercallStubSize;
    asm volatile("call *%[stub]"
                 : "=a"(result), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                 : [stub] "m"(stub)
                 : "rcx", "r11", "r9", "memory");
    return result;
}

void print(const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vprint("", fmt, args);
    va_end(args);
}

#define GUEST_REPORT(name, result, prefix)  \
    void name(const char* fmt, ...) {       \
        note(result);                       \
        va_list args;                       \
        va_start(args, fmt);                \
        vprint(prefix, fmt, args);          \
        va_end(args);                       \
    }
GUEST_REPORT(fail, Result::Failure, "FAIL: ")
GUEST_REPORT(skip, Result::Skip, "SKIP: ")
GUEST_REPORT(error, Result::Error, "ERROR: ")
#undef GUEST_REPORT

void expect_eq(const char* what, long actual, long expected) {
    if (actual != expected) fail("%s: got %ld, expected %ld\n", what, actual, expected);
}

[[noreturn]] void shutdown(xen::ShutdownReason reason) {
    xen::SchedShutdown request{reason};
    hypercall(xen::kSchedOp, xen::kSchedOpShutdown, reinterpret_cast<u64>(&request));
    // Shutdown must not return; if it does, crash loudly on a non-canonical stack.
    asm volatile("movabsq $0x8000000000000000, %%rsp; pushq $0" ::: "memory");
    for (;;) {
    }
}

}  // namespace guest

extern "C" [[noreturn]] void guest_start(const xen::StartInfo* info) {
    using namespace guest;
    start_info = info;
    print("--- Isola guest test: %s ---\n", kTestTitle);
    test_main();
    print("Test result: %s\n", result_name(worst));
    shutdown(xen::kShutdownPoweroff);
}

namespace hv {
// The formatter's HV_CHECK sites are unreachable from guest use; crash the guest if they fire.
[[noreturn]] void panic(const char*, int, const char* message) {
    guest::print("guest panic: %s\n", message);
    guest::shutdown(xen::kShutdownCrash);
}
}  // namespace hv
