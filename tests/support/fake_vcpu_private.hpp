// SPDX-License-Identifier: MIT
// Host fake for hv/pv/vcpu_private.hpp: each vCPU's private state in host memory, by address.
#pragma once

#include "hv/pv/vcpu_private.hpp"

namespace hv::test {

// Forgets every vCPU's private state (fixtures call it: a new Vcpu may reuse an old address).
void reset_fake_vcpu_private();
// How many views are open now (a view that leaks would hold a mapcache slot in the image).
unsigned fake_vcpu_private_views_open();

}  // namespace hv::test
