// SPDX-License-Identifier: MIT
// Copies between the hypervisor and the address space of the running guest vCPU.
//
// Guest pointers are untrusted: a range that touches the non-canonical hole or the hypervisor's
// slots 256-271, or wraps, is refused before any access; a page fault during the copy (unmapped,
// read-only) ends the copy. Both report false, which hypercalls turn into -EFAULT.
#pragma once

#include "hv/core/types.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {

struct Vcpu;

// True when [va, va + length) lies entirely in guest-controlled virtual space. Inline: every
// guest copy (bounce frames, iret frames, hypercall arguments) checks it first.
inline bool guest_range_ok(u64 va, u64 length) {
    constexpr u64 kLowerHalfEnd = u64{1} << 47;  // first non-canonical address
    if (length == 0) return true;
    const u64 last = va + length - 1;
    if (last < va) return false;  // wraps
    if (last < kLowerHalfEnd) return true;
    // Upper half: guest space starts where the hypervisor's slots end.
    return va >= xen::kHypervisorVirtEnd;
}

[[nodiscard]] bool copy_from_guest(Vcpu& vcpu, void* destination, u64 guest_va, usize length);
[[nodiscard]] bool copy_to_guest(Vcpu& vcpu, u64 guest_va, const void* source, usize length);

}  // namespace hv::pv
