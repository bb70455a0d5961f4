// SPDX-License-Identifier: MIT
// A small Optional for trivially copyable values (std::optional is not freestanding).
#pragma once

#include <type_traits>

#include "hv/core/check.hpp"

namespace hv {

template <class T>
class Optional {
    static_assert(std::is_trivially_copyable_v<T>, "Optional holds plain values only");

  public:
    constexpr Optional() = default;
    constexpr Optional(T value) : value_(value), has_value_(true) {}  // NOLINT: implicit by design

    constexpr bool has_value() const { return has_value_; }
    constexpr explicit operator bool() const { return has_value_; }
    constexpr T value() const {
        HV_CHECK(has_value_);
        return value_;
    }
    constexpr T value_or(T fallback) const { return has_value_ ? value_ : fallback; }

  private:
    T value_{};
    bool has_value_ = false;
};

}  // namespace hv
