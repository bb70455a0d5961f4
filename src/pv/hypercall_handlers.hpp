// SPDX-License-Identifier: MIT
// Hypercall handlers, one family per file; hypercall.cpp holds the table.
#pragma once

#include "hv/pv/domain.hpp"
#include "hv/pv/hypercall.hpp"

namespace hv::pv {

long set_trap_table(Vcpu& vcpu, const HypercallArgs& args);
long stack_switch(Vcpu& vcpu, const HypercallArgs& args);
long callback_op(Vcpu& vcpu, const HypercallArgs& args);
long set_callbacks(Vcpu& vcpu, const HypercallArgs& args);

}  // namespace hv::pv
