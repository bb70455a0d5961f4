// SPDX-License-Identifier: MIT
// What the vCPU hypercalls (vcpu_op, sched_op, set_timer_op) need from the scheduler. The image
// implements these in arch/x86_64/src/sched.cpp; host tests use fakes.
#pragma once

#include "hv/core/types.hpp"

namespace hv::pv {

struct Domain;
struct Vcpu;

// VCPUOP_up: an initialised vCPU that is down becomes runnable (nothing if already up).
void vcpu_bring_up(Vcpu& vcpu);
// VCPUOP_down: the vCPU stops running; one running on another pCPU leaves it at its next exit
// (it is kicked), the caller itself at the end of its hypercall.
void vcpu_take_down(Vcpu& vcpu);
bool vcpu_is_up(const Vcpu& vcpu);
// The domain ended (shutdown or crash): every vCPU of it stops; those running elsewhere are kicked.
void stop_domain_vcpus(Domain& domain);

}  // namespace hv::pv
