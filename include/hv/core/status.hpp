// SPDX-License-Identifier: MIT
// Status codes of the hypervisor core; mapped to Xen errno values only at the hypercall boundary.
#pragma once

#include "hv/core/types.hpp"

namespace hv {

enum class Status : u8 {
    Ok,
    NoMemory,
    InvalidArgument,
    AlreadyMapped,
    NotMapped,
    Busy,
    PermissionDenied,
    Unsupported,
};

constexpr const char* status_name(Status status) {
    switch (status) {
        case Status::Ok: return "ok";
        case Status::NoMemory: return "no memory";
        case Status::InvalidArgument: return "invalid argument";
        case Status::AlreadyMapped: return "already mapped";
        case Status::NotMapped: return "not mapped";
        case Status::Busy: return "busy";
        case Status::PermissionDenied: return "permission denied";
        case Status::Unsupported: return "unsupported";
    }
    return "?";
}

}  // namespace hv
