// SPDX-License-Identifier: MIT
// An exception with no trap table installed: the hypervisor has nowhere to bounce it and must
// crash the domain (pv-abi §4.7). Expected: no "Test result" line; Xen logs the crash.
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "crash_no_handler: #UD with an empty trap table crashes the domain";

void test_main() {
    print("Executing ud2 with no trap table; the domain must crash now.\n");
    asm volatile("ud2");
    // Only reached if the hypervisor resumed us: report it instead of a clean result.
    fail("ud2 with no trap table returned\n");
}

}  // namespace guest
