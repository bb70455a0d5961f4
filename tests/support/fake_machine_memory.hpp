// SPDX-License-Identifier: MIT
// Fake machine memory and a PagingEnv over it, for host tests of the page-table walker.
//
// Frames live on the host heap at made-up machine frame numbers, starting at kFirstMfn (not 0,
// so a walker that loses an address shows up) and never reused (so a use after free or a
// double free shows up). Touching an mfn that is not a live frame prints the known frames and
// aborts the test binary: a walker reading a bogus address must never pass silently.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <vector>

#include "hv/core/addr.hpp"
#include "hv/core/optional.hpp"
#include "hv/core/types.hpp"
#include "hv/mm/level.hpp"

namespace hv::test {

struct alignas(kPageSize) Frame {
    std::array<u64, kPageSize / sizeof(u64)> words{};
    bool operator==(const Frame&) const = default;
};

// Copy of every live frame, by mfn: compare two to prove "tables unchanged".
using MemorySnapshot = std::map<u64, Frame>;

class FakeMachineMemory {
  public:
    static constexpr u64 kFirstMfn = 0x1000;

    // A zero-filled frame at a machine frame number never handed out before.
    Mfn alloc_frame();
    // Forgets a live frame; an unknown or already freed mfn aborts.
    void free_frame(Mfn mfn);
    // The words of a live frame; an unknown or freed mfn aborts.
    u64* words(Mfn mfn);

    bool contains(Mfn mfn) const { return frames_.count(mfn.raw()) != 0; }
    usize frame_count() const { return frames_.size(); }
    MemorySnapshot snapshot() const;

  private:
    [[noreturn]] void die_unknown(const char* what, Mfn mfn) const;

    std::map<u64, std::unique_ptr<Frame>> frames_;
    u64 next_mfn_ = kFirstMfn;
};

// One queued TLB invalidation.
struct Invalidation {
    Vaddr va;
    mm::Level level;
    bool operator==(const Invalidation&) const = default;
};

// PagingEnv over FakeMachineMemory: failure injection, live-table counting, recorded
// invalidations.
class FakePagingEnv {
  public:
    // --- PagingEnv ---
    u64* table(Mfn mfn) { return memory_.words(mfn); }
    Optional<Mfn> alloc_table();
    void free_table(Mfn mfn);
    void invalidate(Vaddr va, mm::Level level) { invalidations_.push_back(Invalidation{va, level}); }

    // --- Test controls ---
    // Makes the n-th alloc_table() call from now fail (1 = the next call); 0 disarms. One-shot:
    // later calls succeed again.
    void fail_nth_allocation(u64 n) { fail_countdown_ = n; }
    // Calls to alloc_table() so far, failed ones included.
    u64 allocation_calls() const { return allocation_calls_; }
    // Tables allocated through this env and not freed yet.
    usize live_tables() const { return live_tables_; }
    const std::vector<Invalidation>& invalidations() const { return invalidations_; }
    void clear_invalidations() { invalidations_.clear(); }

    FakeMachineMemory& memory() { return memory_; }
    MemorySnapshot snapshot() const { return memory_.snapshot(); }

  private:
    FakeMachineMemory memory_;
    u64 fail_countdown_ = 0;
    u64 allocation_calls_ = 0;
    usize live_tables_ = 0;
    std::vector<Invalidation> invalidations_;
};

}  // namespace hv::test
