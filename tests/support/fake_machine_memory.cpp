// SPDX-License-Identifier: MIT
// Fake machine memory and a PagingEnv over it (see fake_machine_memory.hpp).
#include "support/fake_machine_memory.hpp"

#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>

namespace hv::test {

Mfn FakeMachineMemory::alloc_frame() {
    const Mfn mfn(next_mfn_++);
    frames_.emplace(mfn.raw(), std::make_unique<Frame>());
    return mfn;
}

void FakeMachineMemory::free_frame(Mfn mfn) {
    if (frames_.erase(mfn.raw()) == 0) die_unknown("free", mfn);
}

u64* FakeMachineMemory::words(Mfn mfn) {
    const auto it = frames_.find(mfn.raw());
    if (it == frames_.end()) die_unknown("access", mfn);
    return it->second->words.data();
}

MemorySnapshot FakeMachineMemory::snapshot() const {
    MemorySnapshot copy;
    for (const auto& [mfn, frame] : frames_) copy.emplace(mfn, *frame);
    return copy;
}

void FakeMachineMemory::die_unknown(const char* what, Mfn mfn) const {
    ADD_FAILURE() << "fake machine memory: " << what << " of unknown mfn " << mfn.raw();
    std::fprintf(stderr, "fake machine memory: %s of unknown mfn %#" PRIx64 "; known mfns:", what, mfn.raw());
    for (const auto& entry : frames_) std::fprintf(stderr, " %#" PRIx64, entry.first);
    std::fprintf(stderr, "%s\n", frames_.empty() ? " (none)" : "");
    std::abort();
}

Optional<Mfn> FakePagingEnv::alloc_table() {
    ++allocation_calls_;
    if (fail_countdown_ != 0 && --fail_countdown_ == 0) return {};
    ++live_tables_;
    return memory_.alloc_frame();
}

void FakePagingEnv::free_table(Mfn mfn) {
    memory_.free_frame(mfn);
    --live_tables_;
}

}  // namespace hv::test
