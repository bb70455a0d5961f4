// SPDX-License-Identifier: MIT
// Delivering exceptions, software interrupts and callbacks to a PV guest: the bounce frame.
// [pv-abi.md §4.2-4.4, §4.7]
#pragma once

#include "arch/trap_frame.hpp"
#include "hv/core/optional.hpp"
#include "hv/core/types.hpp"

namespace hv::pv {

struct Vcpu;

// Vectors for which the CPU (and so the bounce frame) carries an error code.
bool vector_has_error_code(unsigned vector);

// The frame is built top-aligned in `words`: RIP, CS, RFLAGS, RSP and SS always sit in the top
// five words, so building it needs no variable index; first() is its lowest word.
struct BounceFrame {
    static constexpr unsigned kCapacity = 8;
    static constexpr unsigned kRflags = kCapacity - 3;  // index of RFLAGS in words
    u64 words[kCapacity];
    unsigned count;  // 7, or 8 with an error code
    u64 rsp;         // the guest RSP after delivery: the address of first()
    const u64* first() const { return words + kCapacity - count; }
};

// The frame for interrupted state `regs` on stack `stack` (16-byte aligned down first).
// `was_kernel` decides the CS RPL in the frame, `saved_mask` is the upcall mask before delivery.
BounceFrame make_bounce_frame(const arch::TrapFrame& regs, u64 stack, bool was_kernel, u8 saved_mask,
                              Optional<u64> error_code);

struct Delivery {
    u64 handler;
    bool mask_events;
    Optional<u64> error_code;
    bool clear_df;  // SYSCALL callbacks
};

// Writes the bounce frame (switching to guest kernel mode first if needed) and points `regs` at
// the handler. False when the frame cannot be written: the caller crashes the domain, as Xen does.
[[nodiscard]] bool deliver(Vcpu& vcpu, arch::TrapFrame& regs, const Delivery& delivery, const char** why);

}  // namespace hv::pv
