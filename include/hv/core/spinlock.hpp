// SPDX-License-Identifier: MIT
// A test-and-test-and-set spinlock with an RAII guard.
#pragma once

namespace hv {

// What a pCPU does while it spins on anything (a lock, a flush acknowledgement): in the image it
// also serves this pCPU's pending TLB-flush request (arch/x86_64/src/flush.cpp), so a pCPU that
// spins with interrupts off can never hold up another pCPU's synchronous shootdown. Host tests:
// a pause.
void spin_relax();

// Not a ticket lock, on purpose: QEMU runs each pCPU as a host thread, usually more of them than
// host cores, and a ticket lock then waits for whichever preempted thread holds the next ticket.
// Tried: guest tests on 4 pCPUs went from seconds to 30 s timeouts.
class Spinlock {
  public:
    void lock() {
        while (__atomic_exchange_n(&locked_, true, __ATOMIC_ACQUIRE))
            while (__atomic_load_n(&locked_, __ATOMIC_RELAXED)) spin_relax();
    }
    void unlock() { __atomic_store_n(&locked_, false, __ATOMIC_RELEASE); }

  private:
    // No initializer: zero is unlocked, and a Spinlock lives in static or zeroed storage. Structs
    // that embed one (Domain) must stay trivially constructible (no huge stack temporaries).
    bool locked_;
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
