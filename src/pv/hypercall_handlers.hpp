// SPDX-License-Identifier: MIT
// Hypercall handlers, one family per file; hypercall.cpp holds the table.
#pragma once

#include "hv/pv/domain.hpp"
#include "hv/core/result.hpp"
#include "hv/pv/status_errno.hpp"
#include "hv/pv/hypercall.hpp"

namespace hv::pv {

long set_trap_table(Vcpu& vcpu, const HypercallArgs& args);
long stack_switch(Vcpu& vcpu, const HypercallArgs& args);
long callback_op(Vcpu& vcpu, const HypercallArgs& args);
long set_callbacks(Vcpu& vcpu, const HypercallArgs& args);
long mmu_update(Vcpu& vcpu, const HypercallArgs& args);
long mmuext_op(Vcpu& vcpu, const HypercallArgs& args);
long update_va_mapping(Vcpu& vcpu, const HypercallArgs& args);
long set_gdt(Vcpu& vcpu, const HypercallArgs& args);
long update_descriptor(Vcpu& vcpu, const HypercallArgs& args);
long event_channel_op(Vcpu& vcpu, const HypercallArgs& args);
long xen_version(Vcpu& vcpu, const HypercallArgs& args);
long memory_op(Vcpu& vcpu, const HypercallArgs& args);
long nested_multicall(Vcpu& vcpu, const HypercallArgs& args);
long vm_assist(Vcpu& vcpu, const HypercallArgs& args);
long physdev_op(Vcpu& vcpu, const HypercallArgs& args);
long fpu_taskswitch(Vcpu& vcpu, const HypercallArgs& args);
long set_debugreg(Vcpu& vcpu, const HypercallArgs& args);
long get_debugreg(Vcpu& vcpu, const HypercallArgs& args);
long set_segment_base(Vcpu& vcpu, const HypercallArgs& args);
long grant_table_op(Vcpu& vcpu, const HypercallArgs& args);
long vcpu_op(Vcpu& vcpu, const HypercallArgs& args);
long set_timer_op(Vcpu& vcpu, const HypercallArgs& args);

// A Result of the core as a hypercall return value (the mapping itself: status_errno.hpp).
inline long to_errno(Result<void> result) { return result.ok() ? 0 : to_errno(result.error()); }

}  // namespace hv::pv
