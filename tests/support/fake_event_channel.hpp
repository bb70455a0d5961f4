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
    unsigned waits = 0;
    // Runs when a vCPU would halt in wait_for_wake; it must set vcpu.wake (a test that forgets
    // fails instead of hanging).
    std::function<void(pv::Vcpu&)> on_wait;
};

FakeEventPlatform& fake_event_platform();
// The fake shared_info of `domain`.
xen::SharedInfo& fake_shared_info(const pv::Domain& domain);

}  // namespace hv::test
