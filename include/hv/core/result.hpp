// SPDX-License-Identifier: MIT
// Result<T, E>: a value or an error, never an exception. Result<void, E> carries only the error.
#pragma once

#include <type_traits>
#include <utility>

#include "hv/core/check.hpp"
#include "hv/core/status.hpp"

namespace hv {

template <class E>
struct Error {
    E error;
};
template <class E>
Error(E) -> Error<E>;

template <class T, class E = Status>
class [[nodiscard]] Result {
  public:
    constexpr Result(T value) : value_(std::move(value)), ok_(true) {}  // NOLINT: implicit
    constexpr Result(Error<E> error) : error_(error.error), ok_(false) {}  // NOLINT: implicit

    constexpr bool ok() const { return ok_; }
    constexpr const T& value() const {
        HV_CHECK(ok_);
        return value_;
    }
    constexpr E error() const {
        HV_CHECK(!ok_);
        return error_;
    }

  private:
    T value_{};
    E error_{};
    bool ok_;
};

template <class E>
class [[nodiscard]] Result<void, E> {
  public:
    constexpr Result() : ok_(true) {}
    constexpr Result(Error<E> error) : error_(error.error), ok_(false) {}  // NOLINT: implicit

    constexpr bool ok() const { return ok_; }
    constexpr E error() const {
        HV_CHECK(!ok_);
        return error_;
    }

  private:
    E error_{};
    bool ok_;
};

}  // namespace hv

// Propagate an error from a Result-returning expression (GNU statement expression).
#define HV_TRY(expr)                                        \
    ({                                                      \
        auto hv_try_result_ = (expr);                       \
        if (!hv_try_result_.ok()) return ::hv::Error{hv_try_result_.error()}; \
        hv_try_result_;                                     \
    })
