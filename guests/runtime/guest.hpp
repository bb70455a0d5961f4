// SPDX-License-Identifier: MIT
// The guest runtime: hypercall wrappers, console and test reporting for Isola's guest test
// kernels. The same binaries run on Isola and on Xen 4.17, so everything here is plain Xen PV ABI.
#pragma once

#include <cstdint>

#include "hv/pv/xen_abi.hpp"

namespace guest {

using u64 = std::uint64_t;

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

// Provided by each test kernel.
extern const char kTestTitle[];
void test_main();

}  // namespace guest
