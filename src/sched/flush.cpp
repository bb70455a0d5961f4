// SPDX-License-Identifier: MIT
// Flush-request targets and reduction (see flush.hpp).
#include "hv/sched/flush.hpp"

namespace hv::sched {

u32 flush_targets(const LoadedView* loaded, unsigned cpus, u16 domain, u64 vcpu_mask) {
    u32 mask = 0;
    for (unsigned cpu = 0; cpu < cpus && cpu < 32; ++cpu) {
        const LoadedView& view = loaded[cpu];
        if (view.domain == 0 || view.domain != domain) continue;
        if (view.vcpu >= 64 || ((vcpu_mask >> view.vcpu) & 1) == 0) continue;
        mask |= 1u << cpu;
    }
    return mask;
}

u32 effective_flush(u32 flags) {
    if (flags & kFlushTlbGlobal) flags &= ~(kFlushTlb | kFlushVa);
    if (flags & kFlushTlb) flags &= ~kFlushVa;
    return flags;
}

}  // namespace hv::sched
