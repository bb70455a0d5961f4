// SPDX-License-Identifier: MIT
// Typed reads and writes of fake guest memory for test fixtures: a fixture that builds hypercall
// arguments in guest memory inherits these, so its tests say put(va, op) and get<T>(va).
#pragma once

#include <gtest/gtest.h>

#include "support/fake_guest_memory.hpp"

namespace hv::test {

struct GuestValues {
    template <class T>
    static void put(u64 va, const T& value) {
        ASSERT_TRUE(fake_guest_memory().write(va, &value, sizeof value)) << "guest VA " << va;
    }
    template <class T>
    static T get(u64 va) {
        T value{};
        EXPECT_TRUE(fake_guest_memory().read(va, &value, sizeof value)) << "guest VA " << va;
        return value;
    }
};

}  // namespace hv::test
