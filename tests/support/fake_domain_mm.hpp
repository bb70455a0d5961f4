// SPDX-License-Identifier: MIT
// Host fakes for hv/pv/domain_mm.hpp: the domain engine runs over one FakePvFrames instance and
// TLB maintenance is counted.
#pragma once

#include <vector>

#include "support/fake_pv_frames.hpp"

namespace hv::test {

struct FakeDomainMm {
    FakePvFrames* frames = nullptr;  // set by the test before any memory hypercall
    unsigned full_flushes = 0;
    std::vector<u64> invalidated;
    struct MaskedFlush {
        u32 flags;
        u64 va, vcpu_mask;
        bool local_only;
    };
    std::vector<MaskedFlush> masked_flushes;
    unsigned root_releases = 0;
    unsigned root_reloads = 0;
    std::vector<std::pair<u64, u64>> m2p_writes;  // (mfn, pfn)
    u64 frame_limit = 0x48000;  // machine_frame_limit(): 1.125 GiB of fake RAM
    unsigned gdt_loads = 0;
    std::vector<std::pair<u64, bool>> m2p_slot_writes;  // set_guest_m2p_slot(l4, present)
    unsigned ldt_loads = 0;   // load_guest_ldt(): window remapped and LDTR loaded
    unsigned ldtr_loads = 0;  // load_guest_ldtr(): LDTR only
    u64 ldt_window = 0xffff820000010000;  // guest_ldt_window()
};

FakeDomainMm& fake_domain_mm();

}  // namespace hv::test
