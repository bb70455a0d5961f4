// SPDX-License-Identifier: MIT
// The one mapping from hypervisor Status to the Xen errno a hypercall returns.
#pragma once

#include "hv/core/status.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {

// The hypercall return value for `status`: 0 for Ok, else the negated Xen errno.
// [Xen ABI xen/include/public/errno.h, pv-abi.md §3.24]
constexpr long to_errno(Status status) {
    switch (status) {
        case Status::Ok: return 0;
        case Status::NoMemory: return -xen::kENOMEM;
        case Status::InvalidArgument: return -xen::kEINVAL;
        case Status::AlreadyMapped: return -xen::kEEXIST;
        case Status::NotMapped: return -xen::kENOENT;
        case Status::Busy: return -xen::kEBUSY;
        case Status::PermissionDenied: return -xen::kEPERM;
        case Status::Unsupported: return -xen::kEOPNOTSUPP;
    }
    return -xen::kEINVAL;
}

static_assert(to_errno(Status::InvalidArgument) == -22 && to_errno(Status::Busy) == -16);
static_assert(to_errno(Status::PermissionDenied) == -1 && to_errno(Status::Ok) == 0);

}  // namespace hv::pv
