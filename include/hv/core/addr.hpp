// SPDX-License-Identifier: MIT
// Strong address types: machine addresses and frames, guest frames, virtual addresses.
//   maddr  machine (host-physical) byte address      mfn  machine frame number (maddr >> 12)
//   gfn    guest frame number (guest "physical")     vaddr virtual address
#pragma once

#include <compare>

#include "hv/core/types.hpp"

namespace hv {

class Maddr;

class Mfn {
  public:
    constexpr Mfn() = default;
    constexpr explicit Mfn(u64 raw) : raw_(raw) {}
    constexpr u64 raw() const { return raw_; }
    constexpr Maddr maddr() const;
    constexpr Mfn operator+(u64 count) const { return Mfn(raw_ + count); }
    constexpr auto operator<=>(const Mfn&) const = default;

  private:
    u64 raw_ = 0;
};

class Maddr {
  public:
    constexpr Maddr() = default;
    constexpr explicit Maddr(u64 raw) : raw_(raw) {}
    constexpr u64 raw() const { return raw_; }
    constexpr Mfn mfn() const { return Mfn(raw_ >> kPageShift); }
    constexpr Maddr operator+(u64 offset) const { return Maddr(raw_ + offset); }
    constexpr auto operator<=>(const Maddr&) const = default;

  private:
    u64 raw_ = 0;
};

constexpr Maddr Mfn::maddr() const { return Maddr(raw_ << kPageShift); }

class Gfn {
  public:
    constexpr Gfn() = default;
    constexpr explicit Gfn(u64 raw) : raw_(raw) {}
    constexpr u64 raw() const { return raw_; }
    constexpr auto operator<=>(const Gfn&) const = default;

  private:
    u64 raw_ = 0;
};

class Vaddr {
  public:
    constexpr Vaddr() = default;
    constexpr explicit Vaddr(u64 raw) : raw_(raw) {}
    constexpr u64 raw() const { return raw_; }
    constexpr Vaddr operator+(u64 offset) const { return Vaddr(raw_ + offset); }
    constexpr auto operator<=>(const Vaddr&) const = default;
    template <class T>
    T* as() const {
        return reinterpret_cast<T*>(raw_);  // NOLINT: the one place a VA becomes a pointer
    }

  private:
    u64 raw_ = 0;
};

// x86-64 canonical form: bits 63..47 all equal. [SDM 3A §3.3.7.1]
constexpr bool is_canonical(u64 va) {
    const u64 top = va >> 47;
    return top == 0 || top == 0x1ffff;
}

}  // namespace hv
