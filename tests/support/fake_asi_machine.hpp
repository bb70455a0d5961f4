// SPDX-License-Identifier: MIT
// A small fake machine with per-vCPU roots built the way issue 6 plans them, for audit tests
// and the recorded protocol sample the Python tool is tested with.
//
// 256 MiB of RAM, 2 pCPUs, domains d1 and d2 with 2 vCPUs each. Frames (mfn ranges):
//
//   0x000-0x0ff  unusable            0x500-0x51f  stacks of c0, c1 (per-pCPU, 7 each)
//   0x100-0x1ff  image (global)      0x540-0x55f  d1, d2 per-domain frames (4 each)
//   0x200-0x23f  frame table         0x580-0x58f  per-vCPU frames of d1v0 d1v1 d2v0 d2v1 (4 each)
//   0x240-0x27f  M2P                 0x590-0x7ff  free pool frames
//   0x400-0x58f  pool (global where not listed)   0x1000-...   page tables (tagged by their role)
//   0x2000-0x27ff guest d1 memory    0x2800-0x2fff guest d2 memory    LAPIC 0xfee00 (outside RAM)
//
// Roots with ASI on: one per vCPU (per-vCPU frame): guest slot 0, RO M2P, self-map, a per-vCPU
// slot-260 L3 (domain frames and this vCPU's frames only), a per-pCPU slot-261 L3 (this pCPU's
// stacks only, global L2s shared), a directmap of the global pool frames only.
// Roots with ASI off: the guest's L4 (a guest frame), shared by its vCPUs: the per-domain L3
// maps every vCPU's frames, one global slot-261 L3 maps every pCPU's stacks, and the directmap
// maps the whole hypervisor pool, free frames included.
#pragma once

#include <functional>
#include <map>
#include <tuple>

#include "arch/pte.hpp"
#include "hv/audit/frame_tag.hpp"
#include "hv/core/addr.hpp"
#include "hv/mm/page_table.hpp"
#include "support/fake_audit_env.hpp"
#include "support/fake_machine_memory.hpp"

namespace hv::test {

class FakeAsiMachine {
  public:
    static constexpr u64 kFrameCount = 0x10000;
    static constexpr unsigned kCpus = 2;
    static constexpr unsigned kDomains = 2;  // d1, d2
    static constexpr unsigned kVcpus = 2;

    FakeAsiMachine();

    // The root of vCPU `vcpu` of domain `domain` (1-based) on pCPU `pcpu`; with ASI off the
    // guest's L4, the same for every vCPU and pCPU. Built on first use.
    Mfn root(bool asi, u32 domain, u32 vcpu, u32 pcpu);
    FakeAuditEnv& env() { return env_; }
    // The first of vCPU `vcpu`'s per-vCPU frames (class PerVcpu(domain, vcpu)), 1-based domain.
    static Mfn vcpu_frame(u32 domain, u32 vcpu);
    // Maps `frame` at `va` through `root`'s tables (any new table tagged global): for tests that
    // plant a mapping the layout must never have. Changes every root that shares those tables.
    void plant(Mfn root, u64 va, Mfn frame);

    using Table = mm::PageTable<arch::X86PteFormat, FakePagingEnv>;

  private:
    using Build = std::function<void(Table&)>;
    Mfn tree(audit::FrameTag table_tag, const Build& build);
    Mfn new_table(audit::FrameTag tag);
    u64& entry(Mfn table, unsigned index) { return paging_.table(table)[index]; }
    Mfn child(Mfn table, unsigned index);
    Mfn slot_261_l3(audit::FrameTag tag, Mfn stacks_tree);

    FakePagingEnv paging_;
    FakeAuditEnv env_;
    Mfn global_, directmap_on_, directmap_off_, stacks_all_, slot_261_off_;
    Mfn stacks_[kCpus];
    Mfn guest_[kDomains];
    Mfn perdomain_[kDomains];
    Mfn pervcpu_[kDomains][kVcpus];
    std::map<std::tuple<bool, u32, u32, u32>, Mfn> roots_;
};

}  // namespace hv::test
