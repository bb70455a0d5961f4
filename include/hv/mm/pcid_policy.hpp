// SPDX-License-Identifier: MIT
// PCIDs for a vCPU's two shadow roots (kernel, user): which PCID each root gets, and which CR3
// loads may keep that PCID's TLB entries. The image applies it (arch/x86_64/src/pcid.cpp, where
// the invariant that makes it safe is spelled out); the host tests check it against a model of
// a PCID-tagged TLB (tests/unit/mm/pcid_policy_test.cpp).
#pragma once

#include "hv/core/types.hpp"

namespace hv::mm {

inline constexpr unsigned kRootsPerVcpu = 2;  // 0: kernel root, 1: user root
inline constexpr u64 kIdlePcid = 0;            // the pCPUs' idle roots, always loaded with a flush

// Distinct for every (domain, vCPU, root), never 0: domain ids 1..max_domains, vCPU ids
// 0..max_vcpus-1; 1 + 2 * max_domains * max_vcpus must stay below 4096 (12 bits).
constexpr u64 vcpu_root_pcid(u32 domain_id, u32 vcpu_id, unsigned which, u32 max_vcpus) {
    return 1 + (u64{domain_id - 1} * max_vcpus + vcpu_id) * kRootsPerVcpu + which;
}

// One vCPU's PCIDs on the pCPU it is loaded on.
class VcpuPcidState {
  public:
    // Every PCID of the pCPU was just flushed, with root `loaded` in CR3 (load_vcpu).
    void flushed_all(unsigned loaded) {
        clean_[0] = clean_[1] = true;
        last_ = loaded;
    }
    // Root `which` was rewritten (its shadow re-copied from another guest L4): what its PCID
    // caches may be stale.
    void root_changed(unsigned which) { clean_[which] = false; }
    // Root `which` is being loaded: true when the load may keep its PCID's entries. Only a switch
    // to the other root of the vCPU keeps them; loading the same root again is a new base pointer,
    // which the guest expects to flush, and a changed root flushes.
    bool load(unsigned which) {
        const bool keep = clean_[which] && last_ != which;
        clean_[which] = true;  // after this load, kept entries are valid or the PCID was flushed
        last_ = which;
        return keep;
    }

  private:
    bool clean_[kRootsPerVcpu] = {false, false};
    unsigned last_ = 0;
};

}  // namespace hv::mm
