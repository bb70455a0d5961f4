// SPDX-License-Identifier: MIT
// The spinlock: zeroed storage is unlocked, and mutual exclusion under real threads.
#include "hv/core/spinlock.hpp"
#include "hv/core/types.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace hv {
namespace {

TEST(Spinlock, ZeroedStorageIsUnlocked) {
    alignas(Spinlock) unsigned char storage[sizeof(Spinlock)] = {};
    auto* lock = reinterpret_cast<Spinlock*>(storage);
    lock->lock();
    lock->unlock();
    lock->lock();  // would spin forever if unlock did not hand the lock on
    lock->unlock();
}

TEST(Spinlock, ThreadsNeverOverlapInsideTheLock) {
    static Spinlock lock;
    u64 counter = 0;  // unsynchronised except by the lock: a lost update shows as a short count
    std::atomic<int> inside{0};
    std::atomic<bool> overlap{false};
    constexpr int kThreads = 4, kRounds = 20000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < kRounds; ++i) {
                SpinlockGuard guard(lock);
                if (inside.fetch_add(1) != 0) overlap = true;
                ++counter;
                inside.fetch_sub(1);
            }
        });
    for (auto& thread : threads) thread.join();
    EXPECT_FALSE(overlap.load());
    EXPECT_EQ(counter, u64{kThreads} * kRounds);
}

}  // namespace
}  // namespace hv
