// SPDX-License-Identifier: MIT
// Range checks for guest pointers (the copies themselves are arch code).
#include "hv/pv/guest_memory.hpp"

#include "hv/pv/xen_abi.hpp"

namespace hv::pv {

bool guest_range_ok(u64 va, u64 length) {
    constexpr u64 kLowerHalfEnd = u64{1} << 47;  // first non-canonical address
    if (length == 0) return true;
    const u64 last = va + length - 1;
    if (last < va) return false;  // wraps
    if (last < kLowerHalfEnd) return true;
    // Upper half: guest space starts where the hypervisor's slots end.
    return va >= xen::kHypervisorVirtEnd;
}

}  // namespace hv::pv
