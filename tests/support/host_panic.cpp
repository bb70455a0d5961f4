// SPDX-License-Identifier: MIT
// Host-test implementation of hv::panic: print and abort, so death tests can match the message.
#include <cstdio>
#include <cstdlib>

#include "hv/core/check.hpp"

namespace hv {

[[noreturn]] void panic(const char* file, int line, const char* message) {
    std::fprintf(stderr, "hv panic at %s:%d: %s\n", file, line, message);
    std::abort();
}

}  // namespace hv

#include "hv/core/spinlock.hpp"

namespace hv {
// Host tests have no flush mailbox to serve while spinning.
void spin_relax() { __builtin_ia32_pause(); }
}  // namespace hv
