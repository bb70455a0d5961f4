// SPDX-License-Identifier: MIT
// Always-on invariant checks: only for states that mean the hypervisor itself is broken,
// never for anything a guest controls.
#pragma once

namespace hv {

// Implemented by the platform: the image prints and ends the run, host tests abort.
[[noreturn]] void panic(const char* file, int line, const char* message);

}  // namespace hv

#define HV_CHECK(cond)                                            \
    do {                                                          \
        if (!(cond)) ::hv::panic(__FILE__, __LINE__, "check failed: " #cond); \
    } while (0)

#ifdef HV_DEBUG
#define HV_DEBUG_ASSERT(cond) HV_CHECK(cond)
#else
#define HV_DEBUG_ASSERT(cond) ((void)0)
#endif
