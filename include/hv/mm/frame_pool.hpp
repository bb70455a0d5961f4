// SPDX-License-Identifier: MIT
// FramePool: the frames a two-phase map allocates in phase 1 (where failure is still harmless)
// and consumes in phase 2 (which must not fail). Used by PageTable::map and Perdomain::create.
//
// The pool is chained through the first word of each (still unlinked) frame, so it needs no
// memory of its own; a frame is all zero again when it is taken.
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/check.hpp"
#include "hv/core/optional.hpp"
#include "hv/core/types.hpp"

namespace hv::mm {

// Table frames come from Env::alloc_table and go back with free_table; page frames use
// alloc_page / free_page (an Env that maps only tables never fills a Page pool).
enum class FrameKind : u8 { Table, Page };

template <class Env, FrameKind kKind = FrameKind::Table>
class FramePool {
  public:
    bool empty() const { return count_ == 0; }

    // Adds `count` fresh frames; false if the env ran out (those obtained stay pooled).
    bool fill(Env& env, u64 count) {
        for (u64 i = 0; i < count; ++i) {
            const Optional<Mfn> frame = allocate(env);
            if (!frame) return false;
            __atomic_store_n(env.table(frame.value()), head_.raw(), __ATOMIC_RELAXED);
            head_ = frame.value();
            ++count_;
        }
        return true;
    }

    // Takes a zeroed frame. Precondition: !empty().
    Mfn take(Env& env) {
        HV_CHECK(count_ > 0);
        const Mfn frame = head_;
        u64* const link = env.table(frame);
        head_ = Mfn(__atomic_load_n(link, __ATOMIC_RELAXED));
        __atomic_store_n(link, 0, __ATOMIC_RELEASE);
        --count_;
        return frame;
    }

    // Gives every pooled frame back to the env.
    void release(Env& env) {
        while (!empty()) {
            const Mfn frame = take(env);
            if constexpr (kKind == FrameKind::Table) env.free_table(frame);
            else env.free_page(frame);
        }
    }

  private:
    Optional<Mfn> allocate(Env& env) {
        if constexpr (kKind == FrameKind::Table) return env.alloc_table();
        else return env.alloc_page();
    }

    Mfn head_{};
    u64 count_ = 0;
};

}  // namespace hv::mm
