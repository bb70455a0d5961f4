// SPDX-License-Identifier: MIT
// The local APIC (xAPIC, MMIO): enable, EOI and IPIs. [SDM 3A §10.4-10.6]
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/types.hpp"

namespace hv::arch {

inline constexpr u8 kVectorWakeup = 0xf0;    // IPI that only wakes a halted pCPU
inline constexpr u8 kVectorSpurious = 0xff;  // the LAPIC's spurious-interrupt vector

// Maps the LAPIC registers (boot CPU, once) and software-enables this pCPU's LAPIC.
void lapic_map(Maddr lapic_maddr);
void lapic_enable();
void lapic_eoi();
// Fixed-delivery IPI with `vector` to one APIC ID; INIT and STARTUP use their own commands.
void lapic_send_ipi(u8 apic_id, u32 command);
void lapic_send_fixed_ipi(u8 apic_id, u8 vector);
// The LAPIC timer (divide by 16): a masked one-shot from 2^32-1 (calibration reads it counting
// down), and the periodic tick.
void lapic_timer_oneshot_max();
u32 lapic_timer_current();
// Whether an interrupt waits in this pCPU's IRR (the hypervisor runs with interrupts off): a
// long hypercall then makes way (hypercall continuations).
bool lapic_interrupt_pending();
void lapic_timer_periodic(u8 vector, u32 count);

}  // namespace hv::arch
