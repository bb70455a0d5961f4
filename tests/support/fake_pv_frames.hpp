// SPDX-License-Identifier: MIT
// Fake machine frames and frame table for host tests of the PV page-type engine.
//
// Every mfn below frame_count has a FrameInfo (Unusable until given to someone) and 512 words
// of contents, zero until written. env() hands the engine a PageTypeEnv over them; touching the
// contents of an mfn beyond the table aborts (the engine must check mfns through frame()).
#pragma once

#include <array>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "hv/core/addr.hpp"
#include "hv/mm/frame_table.hpp"
#include "hv/pv/page_types.hpp"

namespace hv::test {

using FrameWords = std::array<u64, 512>;

class FakePvFrames {
  public:
    explicit FakePvFrames(u64 frame_count);

    // Gives `mfn` to `domain` as guest RAM (owner Domain, class Guest).
    void give(Mfn mfn, pv::DomainId domain);
    void set_owner(Mfn mfn, mm::FrameOwner owner, mm::FrameClass frame_class, u32 class_id);

    mm::FrameInfo& info(Mfn mfn);
    u64& word(Mfn mfn, unsigned index);
    FrameWords& words(Mfn mfn);
    u64 frame_count() const { return infos_.size(); }

    pv::PageTypeEnv env();
    u64 read_linear(u64 va, mm::Level level);

    // What the fake says slot `slot` of a validated L4 holds: a recognisable pattern, slot 258
    // the L4's own linear map.
    static u64 hypervisor_entry(Mfn l4, unsigned slot);

    std::vector<Mfn> flushes;           // flush_stale calls, in order
    // Called after every write_entry store, as the image's write_entry calls the ASI shadow hook.
    std::function<void(Mfn table, unsigned index, u64 value)> after_write;
    std::set<u64> bad_descriptor_pages;  // frames descriptors_ok refuses
    bool offer_descriptor_check = true;  // false: env().descriptors_ok is nullptr
    // The "loaded" root: env() offers root_loaded/read_loaded_entry only when it is set. The
    // linear read walks from it the way the MMU walks the self-map, and aborts where the MMU
    // would fault (an entry above the one read not present, or a superpage).
    static constexpr u64 kNoRoot = ~u64{0};
    u64 loaded_root = kNoRoot;
    unsigned mapped_reads = 0;  // read_entry calls
    unsigned linear_reads = 0;  // read_loaded_entry calls

  private:
    std::vector<mm::FrameInfo> infos_;
    std::map<u64, FrameWords> contents_;
};

}  // namespace hv::test
