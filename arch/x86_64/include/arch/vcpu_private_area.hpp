// SPDX-License-Identifier: MIT
// The frame behind each vCPU's private state (hv/pv/vcpu_private.hpp) in the image.
//
// One domain-pool frame per vCPU, class PerVcpu(domain, vCPU): never in the directmap, so the
// audit counts it as foreign in every root but the vCPU's own (and, without vcpu-pt, its
// domain's). perdomain_init_vcpu maps it at vcpu_private_va(v) in slot 260 (va_layout.hpp).
#pragma once

#include "hv/core/result.hpp"

namespace hv::pv {
struct Vcpu;
}  // namespace hv::pv

namespace hv::arch {

// Allocates and zeroes the vCPU's private frame (vcpu.private_frame).
Result<void, const char*> vcpu_private_create(pv::Vcpu& vcpu);
// Frees it (a failed domain build); nothing when there is none.
void vcpu_private_release(pv::Vcpu& vcpu);

}  // namespace hv::arch
