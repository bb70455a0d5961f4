// SPDX-License-Identifier: MIT
// A test-and-test-and-set spinlock with an RAII guard.
#pragma once

namespace hv {

// What a pCPU does while it spins on anything (a lock, a flush acknowledgement): in the image it
// also serves this pCPU's pending TLB-flush request (arch/x86_64/src/flush.cpp), so a pCPU that
// spins with interrupts off can never hold up another pCPU's synchronous shootdown. Host tests:
// a pause.
void spin_relax();

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
