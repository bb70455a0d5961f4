// SPDX-License-Identifier: MIT
// The PCID policy (hv/mm/pcid_policy.hpp) against a model of a PCID-tagged TLB: one vCPU with a
// kernel and a user root on one pCPU, random sequences of what the image does (full switch in,
// user/kernel switches, new base pointers, guest PTE changes with their invalidation, local
// flushes) and guest accesses. Every access must see what the loaded root maps now: a stale
// entry kept by a no-flush CR3 load would show up as an old frame.
#include "hv/mm/pcid_policy.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <utility>

namespace hv::mm {
namespace {

constexpr unsigned kPages = 4;

// A TLB that caches per (PCID, page) and keeps entries until told to drop them, as hardware may.
struct TaggedTlbModel {
    u64 tables[kRootsPerVcpu][kPages] = {};
    std::map<std::pair<u64, unsigned>, u64> tlb;
    unsigned current = 0;
    u64 next_frame = 1;
    VcpuPcidState state;
    unsigned no_flush_loads = 0;

    static u64 pcid(unsigned which) { return vcpu_root_pcid(1, 0, which, 8); }
    void flush_pcid(u64 id) {
        for (auto it = tlb.begin(); it != tlb.end();) it = it->first.first == id ? tlb.erase(it) : std::next(it);
    }
    // A CR3 load of root `which`, keeping its PCID's entries when the policy says so.
    void load(unsigned which) {
        if (state.load(which)) {
            ++no_flush_loads;
        } else {
            flush_pcid(pcid(which));
        }
        current = which;
    }
    // load_vcpu: CR3 then a flush of every PCID.
    void full_switch_in(unsigned which) {
        current = which;
        tlb.clear();
        state.flushed_all(which);
    }
    void toggle() { load(1 - current); }
    // MMUEXT_NEW_BASEPTR / NEW_USER_BASEPTR: the shadow of `which` is re-copied from another L4
    // (or not, when the guest gives the same one), then the current root is reloaded.
    void new_base_pointer(unsigned which, bool other_l4) {
        if (other_l4) {
            for (unsigned page = 0; page < kPages; ++page) tables[which][page] = next_frame++;
            state.root_changed(which);
        }
        load(current);
    }
    // A guest PTE both roots share changes, and the guest asks for its invalidation:
    // invalidate_page covers the current PCID and the vCPU's other one.
    void change_shared_page(unsigned page) {
        const u64 frame = next_frame++;
        tables[0][page] = tables[1][page] = frame;
        tlb.erase({pcid(0), page});
        tlb.erase({pcid(1), page});
    }
    // A guest flush request (flush_tlb_local): every PCID, global entries excepted.
    void flush_local() { tlb.clear(); }
    u64 access(unsigned page) {
        const auto key = std::make_pair(pcid(current), page);
        const auto found = tlb.find(key);
        if (found != tlb.end()) return found->second;
        return tlb[key] = tables[current][page];
    }
};

TEST(PcidPolicy, PcidsAreDistinctAndNeverZero) {
    std::map<u64, int> seen;
    for (u32 domain = 1; domain <= 8; ++domain)
        for (u32 vcpu = 0; vcpu < 8; ++vcpu)
            for (unsigned which = 0; which < kRootsPerVcpu; ++which) ++seen[vcpu_root_pcid(domain, vcpu, which, 8)];
    EXPECT_EQ(seen.size(), 8u * 8u * 2u);
    EXPECT_EQ(seen.count(kIdlePcid), 0u);
    EXPECT_LT(seen.rbegin()->first, 4096u);
}

// Only a switch to the other root keeps entries; the same root again, or a changed one, flushes.
TEST(PcidPolicy, KeepsOnlyOnSwitchToTheOtherRoot) {
    VcpuPcidState state;
    EXPECT_FALSE(state.load(0));  // never flushed: nothing may be kept
    state.flushed_all(0);
    EXPECT_TRUE(state.load(1));
    EXPECT_TRUE(state.load(0));
    EXPECT_FALSE(state.load(0));  // a new base pointer for the loaded root
    state.root_changed(1);
    EXPECT_FALSE(state.load(1));
    EXPECT_TRUE(state.load(0));
    EXPECT_TRUE(state.load(1));
}

// Random sequences: no access ever sees a frame the loaded root no longer maps, and the user/kernel
// switches do keep entries (the point of PCIDs).
TEST(PcidPolicy, NoStaleTranslationInRandomSequences) {
    std::mt19937 random(6);
    for (int run = 0; run < 200; ++run) {
        TaggedTlbModel model;
        for (unsigned root = 0; root < kRootsPerVcpu; ++root)
            for (unsigned page = 0; page < kPages; ++page) model.tables[root][page] = model.next_frame++;
        model.full_switch_in(0);
        for (int step = 0; step < 200; ++step) {
            switch (random() % 8) {
                case 0: model.full_switch_in(random() % 2); break;
                case 1: model.new_base_pointer(random() % 2, random() % 2 == 0); break;
                case 2: model.change_shared_page(random() % kPages); break;
                case 3: model.flush_local(); break;
                case 4: case 5: model.toggle(); break;
                default: break;
            }
            const unsigned page = random() % kPages;
            ASSERT_EQ(model.access(page), model.tables[model.current][page]) << "run " << run << " step " << step;
        }
        EXPECT_GT(model.no_flush_loads, 0u);
    }
}

// The model has teeth: keeping entries across a re-copied root reads a stale frame.
TEST(PcidPolicy, ModelCatchesAPolicyThatAlwaysKeeps) {
    TaggedTlbModel model;
    model.tables[0][0] = 10;
    model.tables[1][0] = 20;
    model.full_switch_in(0);
    model.toggle();
    EXPECT_EQ(model.access(0), 20u);
    model.toggle();
    // The user shadow changes behind the TLB; a policy that ignored root_changed would keep PCID 2.
    model.tables[1][0] = 30;
    model.current = 1;  // a no-flush load of the user root, bypassing the policy
    EXPECT_EQ(model.access(0), 20u);
}

}  // namespace
}  // namespace hv::mm
