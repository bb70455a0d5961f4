// SPDX-License-Identifier: MIT
// A fault whose bounce frame cannot be written: RSP non-canonical, then PUSHF raises #SS and the
// hypervisor cannot push the frame, so it must crash the domain even though a #SS handler exists
// (pv-abi §4.7, XTF's arch_crash_hard). Expected: no "Test result" line.
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "crash_bad_stack: fault on a non-canonical stack crashes the domain";

void test_main() {
    if (!setup_traps()) return;
    print("Trap table installed; pushf on RSP 0x800000000badc0de, the domain must crash now.\n");
    // RBX keeps the real stack pointer so that a (wrongly) resumed guest can still report.
    asm volatile("movq %%rsp, %%rbx\n\t"
                 "movabsq $0x800000000badc0de, %%rsp\n\t"
                 "pushfq\n\t"
                 "movq %%rbx, %%rsp" ::: "rbx", "memory");
    fail("pushf on a non-canonical stack returned\n");
}

}  // namespace guest
