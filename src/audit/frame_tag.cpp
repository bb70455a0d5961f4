// SPDX-License-Identifier: MIT
// Isolation audit: frame tags, verdicts and their names (table in hv/audit/frame_tag.hpp).
#include "hv/audit/frame_tag.hpp"

#include "hv/core/format.hpp"

namespace hv::audit {

Verdict verdict_of(const FrameTag& tag, const Subject& subject) {
    switch (tag.kind) {
        case FrameKind::PerCpu: return tag.id == subject.pcpu ? Verdict::Own : Verdict::Foreign;
        case FrameKind::PerDomain: return tag.domain == subject.domain ? Verdict::Own : Verdict::Foreign;
        case FrameKind::Guest:
            if (tag.domain == subject.domain) return Verdict::Own;
            return tag.id == kGrantedToSubject ? Verdict::Granted : Verdict::Foreign;
        case FrameKind::PerVcpu:
            return tag.domain == subject.domain && tag.id == subject.vcpu ? Verdict::Own : Verdict::Foreign;
        // The directmap maps the whole hypervisor pool by design, free frames included (they are
        // scrubbed when freed); a free domain-pool frame is never in the directmap, so reaching
        // one is a stale mapping: a bug.
        case FrameKind::Free: return tag.id == kFreeInDomainPool ? Verdict::Bad : Verdict::Own;
        case FrameKind::Global:
        case FrameKind::Unusable:
        case FrameKind::BootModule:
        case FrameKind::OutsideRam: return Verdict::Own;
    }
    return Verdict::Bad;  // a corrupt tag is never silently fine
}

FrameTag tag_of(const mm::FrameInfo& info) {
    switch (info.owner) {
        case mm::FrameOwner::Free:
            return FrameTag{FrameKind::Free, 0, info.pool == mm::Pool::Domain ? kFreeInDomainPool : 0};
        case mm::FrameOwner::Unusable: return FrameTag{FrameKind::Unusable, 0, 0};
        case mm::FrameOwner::BootModule: return FrameTag{FrameKind::BootModule, 0, info.class_id};
        case mm::FrameOwner::Hypervisor:
        case mm::FrameOwner::Domain: break;
    }
    switch (info.frame_class) {
        case mm::FrameClass::Global: return FrameTag{FrameKind::Global, 0, 0};
        case mm::FrameClass::PerCpu: return FrameTag{FrameKind::PerCpu, 0, info.class_id};
        case mm::FrameClass::PerDomain: return FrameTag{FrameKind::PerDomain, info.class_id, 0};
        case mm::FrameClass::PerVcpu: return FrameTag{FrameKind::PerVcpu, info.class_id >> 16, info.class_id & 0xffff};
        case mm::FrameClass::Guest: return FrameTag{FrameKind::Guest, info.class_id, 0};
    }
    return FrameTag{FrameKind::Unusable, 0, 0};
}

const char* kind_name(FrameKind kind) {
    switch (kind) {
        case FrameKind::Global: return "global";
        case FrameKind::PerCpu: return "percpu";
        case FrameKind::PerDomain: return "perdomain";
        case FrameKind::PerVcpu: return "pervcpu";
        case FrameKind::Guest: return "guest";
        case FrameKind::Free: return "free";
        case FrameKind::Unusable: return "unusable";
        case FrameKind::BootModule: return "bootmod";
        case FrameKind::OutsideRam: return "outside";
    }
    return "?";
}

const char* verdict_name(Verdict verdict) {
    switch (verdict) {
        case Verdict::Own: return "own";
        case Verdict::Foreign: return "foreign";
        case Verdict::Bad: return "bad";
        case Verdict::Granted: return "granted";
    }
    return "?";
}

usize format_tag_id(char* buffer, usize capacity, const FrameTag& tag) {
    switch (tag.kind) {
        case FrameKind::PerCpu: return format(buffer, capacity, "c%u", tag.id);
        case FrameKind::PerDomain:
        case FrameKind::Guest: return format(buffer, capacity, "d%u", tag.domain);
        case FrameKind::PerVcpu: return format(buffer, capacity, "d%uv%u", tag.domain, tag.id);
        case FrameKind::BootModule: return format(buffer, capacity, "m%u", tag.id);
        case FrameKind::Global:
        case FrameKind::Free:
        case FrameKind::Unusable:
        case FrameKind::OutsideRam: break;
    }
    return format(buffer, capacity, "-");
}

}  // namespace hv::audit
