// SPDX-License-Identifier: MIT
// A ticket spinlock with an RAII guard.
#pragma once

#include "hv/core/types.hpp"

namespace hv {

// What a pCPU does while it spins on anything (a lock, a flush acknowledgement): in the image it
// also serves this pCPU's pending TLB-flush request (arch/x86_64/src/flush.cpp), so a pCPU that
// spins with interrupts off can never hold up another pCPU's synchronous shootdown. Host tests:
// a pause.
void spin_relax();

// A ticket lock: pCPUs get the lock in the order they asked for it. A test-and-set lock let one
// pCPU that takes sched_lock in a tight loop (a vCPU yielding with nothing else runnable) starve
// another forever under QEMU's deterministic round-robin TCG (-icount): the waiter only ever ran
// while the lock happened to be held. With tickets the holder cannot take it again ahead of a
// waiter. [Mellor-Crummey & Scott, "Algorithms for scalable synchronization", 1991]
class Spinlock {
  public:
    void lock() {
        const u32 ticket = __atomic_fetch_add(&next_ticket_, 1, __ATOMIC_RELAXED);
        while (__atomic_load_n(&now_serving_, __ATOMIC_ACQUIRE) != ticket) spin_relax();
    }
    void unlock() {
        // Only the holder writes now_serving_: a plain increment published with release order.
        __atomic_store_n(&now_serving_, now_serving_ + 1, __ATOMIC_RELEASE);
    }

  private:
    // No initializer: zero is unlocked (no ticket out), and a Spinlock lives in static or zeroed
    // storage. Structs that embed one (Domain) must stay trivially constructible (no huge stack
    // temporaries). 32-bit counters wrap together, so the comparison stays exact.
    u32 next_ticket_;
    u32 now_serving_;
};

class SpinlockGuard {
  public:
    explicit SpinlockGuard(Spinlock& lock) : lock_(lock) { lock_.lock(); }
    ~SpinlockGuard() { lock_.unlock(); }
    SpinlockGuard(const SpinlockGuard&) = delete;
    SpinlockGuard& operator=(const SpinlockGuard&) = delete;

  private:
    Spinlock& lock_;
};

}  // namespace hv
