// SPDX-License-Identifier: MIT
// Host fakes for the event-channel platform hooks (hv/pv/guest_mode.hpp) and the domain list
// (find_domain): each registered domain gets its own fake shared_info.
#pragma once

#include <functional>
#include <map>
#include <vector>

#include "hv/core/types.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
struct Domain;
struct Vcpu;
}  // namespace hv::pv

namespace hv::test {

struct FakeEventPlatform {
    std::vector<pv::Domain*> domains;  // what find_domain sees
    std::map<const pv::Domain*, xen::SharedInfo> shared;  // zeroed on first use
    std::vector<const pv::Vcpu*> kicks;
    std::vector<const pv::Vcpu*> blocks;  // block_vcpu calls (the scheduler would deschedule)
    u64 now_ns = 1'000'000;               // system_time_ns()
};

FakeEventPlatform& fake_event_platform();
// The fake shared_info of `domain`.
xen::SharedInfo& fake_shared_info(const pv::Domain& domain);

}  // namespace hv::test
