// SPDX-License-Identifier: MIT
// A PerdomainEnv over fake machine memory, with a fake MMU for the linear-window fast path.
//
// Frames come from FakeMachineMemory (never reused, so a double free or a use after free aborts).
// Tables and owned pages are counted separately and each free is checked against its kind: a
// given (populated) frame freed as an owned page fails the test.
//
// The fake "CPU" holds one loaded root (CR3) and the per-CPU record of whose tables are loaded,
// which is what loaded() answers. linear_entry() stands in for the hardware walk through the
// self-map slot: it resolves the entry by its own four-line walk down from the loaded root,
// sharing no code with the perdomain slow path, and aborts where the hardware would fault (an
// entry above is not a present table), so a fast path that reads a level before checking the
// one above it is caught. perdomain_test.cpp checks separately, on the x86 format, that this
// walk lands where mm::linear_entry_va() points through a real self-map.
#pragma once

#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

#include "hv/core/addr.hpp"
#include "hv/core/optional.hpp"
#include "hv/mm/level.hpp"
#include "hv/mm/perdomain.hpp"
#include "support/fake_machine_memory.hpp"

namespace hv::test {

template <class Format>
class FakePerdomainEnv {
  public:
    // --- PerdomainEnv ---
    u64* table(Mfn mfn) {
        ++table_calls_;
        return memory_.words(mfn);
    }
    Optional<Mfn> alloc_table() { return allocate(tables_); }
    void free_table(Mfn mfn) { release(tables_, mfn, "free_table"); }
    Optional<Mfn> alloc_page() { return allocate(pages_); }
    void free_page(Mfn mfn) { release(pages_, mfn, "free_page"); }
    void invalidate(Vaddr va, mm::Level level) { invalidations_.push_back(Invalidation{va, level}); }
    bool loaded(const mm::VcpuRef& vcpu) const {
        return loaded_ && loaded_vcpu_.domain_id == vcpu.domain_id && loaded_vcpu_.vcpu_id == vcpu.vcpu_id;
    }
    u64* linear_entry(mm::Level level, Vaddr va) {
        ++linear_calls_;
        if (!loaded_) die("linear window used with no root loaded", level, va);
        Mfn table = cr3_;
        for (mm::Level above = mm::kRootLevel; above != level; above = mm::lower(above)) {
            const u64 entry = memory_.words(table)[mm::index_of(va, above)];
            if (!Format::present(above, entry) || Format::is_leaf(above, entry))
                die("linear window access would fault", above, va);
            table = Format::address(above, entry).mfn();
        }
        return memory_.words(table) + mm::index_of(va, level);
    }

    // --- The fake CPU ---
    // "Loads CR3" with `root` and records `vcpu` as the vCPU whose tables are loaded.
    void load(const mm::VcpuRef& vcpu, Mfn root) {
        loaded_ = true;
        loaded_vcpu_ = vcpu;
        cr3_ = root;
    }
    void unload() { loaded_ = false; }

    // A root table that is not the API's: allocated straight from machine memory, uncounted.
    Mfn alloc_root() { return memory_.alloc_frame(); }

    // --- Test controls and observations ---
    // The n-th allocation from now (tables and pages alike) fails; 0 disarms. One-shot.
    void fail_nth_allocation(u64 n) { fail_countdown_ = n; }
    u64 allocation_calls() const { return allocation_calls_; }
    usize live_tables() const { return tables_.size(); }
    usize live_pages() const { return pages_.size(); }
    bool is_live_page(Mfn mfn) const { return pages_.count(mfn.raw()) != 0; }
    u64 table_calls() const { return table_calls_; }
    u64 linear_calls() const { return linear_calls_; }
    const std::vector<Invalidation>& invalidations() const { return invalidations_; }
    void clear_invalidations() { invalidations_.clear(); }
    FakeMachineMemory& memory() { return memory_; }
    MemorySnapshot snapshot() const { return memory_.snapshot(); }

  private:
    Optional<Mfn> allocate(std::set<u64>& live) {
        ++allocation_calls_;
        if (fail_countdown_ != 0 && --fail_countdown_ == 0) return {};
        const Mfn mfn = memory_.alloc_frame();
        live.insert(mfn.raw());
        return mfn;
    }

    void release(std::set<u64>& live, Mfn mfn, const char* what) {
        if (live.erase(mfn.raw()) == 0) {
            ADD_FAILURE() << what << " of mfn 0x" << std::hex << mfn.raw() << ", which it did not hand out";
            return;
        }
        memory_.free_frame(mfn);
    }

    [[noreturn]] static void die(const char* what, mm::Level level, Vaddr va) {
        std::fprintf(stderr, "fake MMU: %s (level %u, va %#" PRIx64 ")\n", what, mm::level_number(level), va.raw());
        std::abort();
    }

    FakeMachineMemory memory_;
    std::set<u64> tables_;
    std::set<u64> pages_;
    std::vector<Invalidation> invalidations_;
    bool loaded_ = false;
    mm::VcpuRef loaded_vcpu_{};
    Mfn cr3_{};
    u64 fail_countdown_ = 0;
    u64 allocation_calls_ = 0;
    u64 table_calls_ = 0;
    u64 linear_calls_ = 0;
};

}  // namespace hv::test
