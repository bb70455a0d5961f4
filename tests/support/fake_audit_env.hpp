// SPDX-License-Identifier: MIT
// An AuditEnv over fake machine memory, with a tag per frame and read/classify counters.
//
// Tables are the live frames of a FakeMachineMemory; a table mfn that is not a live frame, or
// that lies at or above frame_count, is unreadable (as a frame outside RAM is in the image).
// Every frame starts Unusable; tests tag ranges.
#pragma once

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "hv/audit/frame_tag.hpp"
#include "hv/core/addr.hpp"
#include "hv/mm/level.hpp"
#include "support/fake_machine_memory.hpp"

namespace hv::test {

class FakeAuditEnv {
  public:
    FakeAuditEnv(FakeMachineMemory& memory, u64 frame_count)
        : memory_(memory), tags_(frame_count, audit::FrameTag{audit::FrameKind::Unusable, 0, 0}) {}

    // --- AuditEnv ---
    bool read_table(Mfn mfn, u64* entries) {
        if (mfn.raw() >= tags_.size() || !memory_.contains(mfn)) return false;
        std::memcpy(entries, memory_.words(mfn), kPageSize);
        ++table_reads_;
        return true;
    }
    u64 frame_count() { return tags_.size(); }
    audit::FrameTag classify(Mfn mfn) {
        EXPECT_LT(mfn.raw(), tags_.size()) << "classify() beyond frame_count";
        ++classify_calls_;
        return mfn.raw() < tags_.size() ? tags_[mfn.raw()] : audit::FrameTag{};
    }

    // --- Test controls ---
    void tag(Mfn first, u64 count, audit::FrameTag tag) {
        for (u64 i = 0; i < count; ++i) tags_.at(first.raw() + i) = tag;
    }
    audit::FrameTag tag_of(u64 mfn) const { return tags_.at(mfn); }
    u64 classify_calls() const { return classify_calls_; }
    u64 table_reads() const { return table_reads_; }

  private:
    FakeMachineMemory& memory_;
    std::vector<audit::FrameTag> tags_;
    u64 classify_calls_ = 0;
    u64 table_reads_ = 0;
};

}  // namespace hv::test
