// SPDX-License-Identifier: MIT
// The iret hypercall with a frame the hypervisor cannot read: a raw SYSCALL (RAX = 23, as the
// iret stub ends) with RSP pointing at an unmapped page. Xen 4.17 crashes the domain ("iret frame
// unreadable", pv-abi §4.6 step 1, §4.7). A hypervisor that delivered a fault, or resumed the guest,
// would let it print the failure and a result line. Expected: CRASH (no "Test result" line).
// (A bad CS or SS in a *readable* frame is not a crash on Xen: the guest gets #GP(selector); see
// hostile_mm.)
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "crash_bad_iret: an unreadable iret frame crashes the domain";

namespace {
constexpr u64 kUnmapped = 0x40000000;  // 1 GiB: far above the initial mapping
}  // namespace

void test_main() {
    if (!setup_traps()) return;
    print("Trap table installed; iret with RSP 0x%lx, the domain must crash now.\n", kUnmapped);
    // RBX keeps the real stack pointer so that a (wrongly) resumed guest can still report. The
    // stub's three pushes are skipped (they would fault on the guest side first): SYSCALL directly.
    asm volatile("movq %%rsp, %%rbx\n\t"
                 "movq %[bad], %%rsp\n\t"
                 "movl %[nr], %%eax\n\t"
                 "syscall\n\t"
                 "movq %%rbx, %%rsp"
                 :
                 : [bad] "r"(kUnmapped), [nr] "i"(xen::kIret)
                 : "rax", "rbx", "rcx", "r11", "memory");
    fail("iret with an unreadable frame returned\n");
}

}  // namespace guest
