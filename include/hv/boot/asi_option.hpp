// SPDX-License-Identifier: MIT
// The `asi=` option: which Address Space Isolation features each guest type gets.
//
// Same syntax and meaning as the seed series' option [asi-reference.md §4.1, §4.2], minus what
// Isola does not have: there is no hardware domain (every domain is an unprivileged PV domU) and
// no XPTI. The value is a comma-separated list, applied left to right on top of the policy so
// far (several `asi=` options accumulate, as in Xen):
//
//   item                         effect
//   <bool>                       all three features, PV and HVM
//   pv, no-pv, pv=<bool>         all three features, PV only
//   hvm, no-hvm, hvm=<bool>      all three features, HVM only (recorded; no effect in Isola)
//   F, no-F, F=<bool>            feature F for PV and HVM
//   F=pv, F=no-pv, F=pv=<bool>   feature F for PV only (likewise hvm)
//   F is one of vcpu-pt, cpu-stack, zero-stack. Anything else rejects the whole option.
//
// The bare option `asi` is `asi=1`, and `no-asi` is `asi=0` (cmdline Kind::CustomBool).
// After the whole command line: cpu-stack on for a type forces vcpu-pt on for that type, because
// per-CPU stacks need per-vCPU root tables (apply_asi_dependencies).
//
// Deviation from the seed: the default is every feature ON for PV, because ours is finished
// (the seed defaults to off, "until the feature is finished"). HVM defaults to off.
#pragma once

#include "hv/core/cmdline.hpp"
#include "hv/core/status.hpp"
#include "hv/core/types.hpp"

namespace hv::boot {

enum class GuestType : u8 { Pv, Hvm };

struct AsiFeatures {
    bool vcpu_pt = false;     // every vCPU has its own root table and per-vCPU slot-260 L3
    bool cpu_stack = false;   // a root maps only the stacks of the pCPU it runs on
    bool zero_stack = false;  // stacks are zeroed when switching vCPUs

    bool any() const { return vcpu_pt || cpu_stack || zero_stack; }
    bool operator==(const AsiFeatures&) const = default;
};

inline constexpr AsiFeatures kAllAsiFeatures{true, true, true};

struct AsiPolicy {
    AsiFeatures pv = kAllAsiFeatures;  // our default: on (see the header comment)
    AsiFeatures hvm{};                 // Isola runs no HVM guests; recorded, never used

    AsiFeatures& of(GuestType type) { return type == GuestType::Pv ? pv : hvm; }
    const AsiFeatures& of(GuestType type) const { return type == GuestType::Pv ? pv : hvm; }
    bool operator==(const AsiPolicy&) const = default;
};

// cmdline::CustomParser for `asi=` (target: AsiPolicy). Applies the list in `value` to the
// policy, all or nothing: on InvalidArgument (an unknown or malformed item, an empty item) the
// policy is unchanged. Does not apply the cpu-stack dependency; call apply_asi_dependencies once
// the whole command line is parsed.
Status parse_asi(cmdline::Token value, void* policy);

// cpu-stack implies vcpu-pt, per guest type. [asi-reference.md §4.2, post-processing]
void apply_asi_dependencies(AsiPolicy& policy);

// The boot log line for one guest type, NUL-terminated and truncated to `capacity`:
//   "ASI features for PV guests: vcpu-pt cpu-stack zero-stack"
//   "ASI features for PV guests: None"
//   "ASI features for HVM guests: None (no HVM guests)"
//   "ASI features for HVM guests: vcpu-pt (no effect: Isola has no HVM guests)"
// Returns the length written, as hv::format does.
usize format_asi_features(char* buffer, usize capacity, const AsiPolicy& policy, GuestType type);

}  // namespace hv::boot
