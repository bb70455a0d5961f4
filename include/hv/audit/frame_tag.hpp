// SPDX-License-Identifier: MIT
// Isolation audit: what a reachable frame is, and whether the audited vCPU may see it.
//
// The isolation property [design.md, "The isolation property"]: the root table of vCPU v of
// domain d, running on pCPU c, must not reach a frame that belongs to another vCPU, pCPU or
// domain. Every frame gets a tag from the frame table; the subject (d, v, c) turns it into a
// verdict:
//
//   kind        id fields       Foreign when                  protocol name   id text
//   Global      -               never                         global          -
//   PerCpu      id = pCPU       id != c                       percpu          c<id>
//   PerDomain   domain          domain != d                   perdomain       d<domain>
//   PerVcpu     domain, id=vCPU (domain, id) != (d, v)        pervcpu         d<domain>v<id>
//   Guest       domain          domain != d, unless granted   guest           d<domain>
//               (id: kGrantedToSubject when its owner granted it to d and d mapped it:
//               verdict Granted, a frame shared on purpose, neither own nor a leak)
//   Free        id = pool       never; Bad if in the domain pool (never directmapped, so a
//                               mapping is stale); a free hypervisor-pool frame is the
//                               directmap's by design (scrubbed on free)       free   -
//   Unusable    -               never (firmware, MMIO holes below the top of RAM)  unusable  -
//   BootModule  id = module     never (guest kernel images as loaded)      bootmod   m<id>
//   OutsideRam  -               never (MMIO above the top of RAM, e.g. the LAPIC)  outside  -
#pragma once

#include "hv/core/types.hpp"
#include "hv/mm/frame_table.hpp"

namespace hv::audit {

enum class FrameKind : u8 { Global, PerCpu, PerDomain, PerVcpu, Guest, Free, Unusable, BootModule, OutsideRam };
inline constexpr unsigned kFrameKindCount = 9;

struct FrameTag {
    FrameKind kind = FrameKind::Unusable;
    u32 domain = 0;  // PerDomain, PerVcpu, Guest
    u32 id = 0;      // PerCpu: pCPU; PerVcpu: vCPU index within `domain`; BootModule: module
    bool operator==(const FrameTag&) const = default;
};

// FrameTag::id of a free frame of the domain pool (0: the hypervisor pool).
inline constexpr u32 kFreeInDomainPool = 1;
// FrameTag::id of a Guest frame of another domain that is mapped in the subject's domain
// through an active grant of its owner (the env decides: it knows the grant tables).
inline constexpr u32 kGrantedToSubject = 1;

// Whose root table is audited: vCPU `vcpu` of domain `domain`, running on pCPU `pcpu`.
struct Subject {
    u32 domain;
    u32 vcpu;
    u32 pcpu;
};

// Granted: another domain's guest frame its owner granted to the subject's domain (grant
// tables, docs/pv.md): shared on purpose, so not a violation, but reported apart from own.
enum class Verdict : u8 { Own, Foreign, Bad, Granted };

Verdict verdict_of(const FrameTag& tag, const Subject& subject);

// FrameInfo::class_id of a per-vCPU frame carries both ids: the domain in bits 31..16 and the
// vCPU index in bits 15..0. tag_of() decodes it; the code that allocates per-vCPU frames must
// encode it with this function.
constexpr u32 pervcpu_class_id(u32 domain, u32 vcpu) { return (domain << 16) | (vcpu & 0xffff); }

// The tag of a frame from its frame-table entry: the owner decides Free/Unusable/BootModule,
// otherwise the isolation class and class_id do.
FrameTag tag_of(const mm::FrameInfo& info);

// The protocol name of a kind ("global", "percpu", ...; table above).
const char* kind_name(FrameKind kind);
// "own", "foreign", "bad" or "granted".
const char* verdict_name(Verdict verdict);
// The id text of a tag (table above), NUL-terminated in `buffer`; returns its length.
usize format_tag_id(char* buffer, usize capacity, const FrameTag& tag);

}  // namespace hv::audit
