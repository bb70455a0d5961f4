// SPDX-License-Identifier: MIT
// The frames behind each domain's private state (hv/pv/domain_private.hpp) in the image.
//
// kDomainPrivatePages domain-pool frames per domain, class PerDomain(domain): never in the
// directmap, so the audit counts them as the domain's own in its roots and foreign in every
// other root that could reach them (none do: perdomain_init_vcpu maps them at domain_private_va
// in slot 260 of the domain's own L3s only).
#pragma once

#include "hv/core/result.hpp"

namespace hv::pv {
struct Domain;
}  // namespace hv::pv

namespace hv::arch {

// Allocates and zeroes the domain's private frames (domain.private_frames).
Result<void, const char*> domain_private_create(pv::Domain& domain);
// Frees them (a failed domain build); nothing for frames never allocated.
void domain_private_release(pv::Domain& domain);

}  // namespace hv::arch
