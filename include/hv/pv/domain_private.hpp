// SPDX-License-Identifier: MIT
// A domain's private state: what the hypervisor keeps for one domain that no other domain's roots
// may reach.
//
// pv::Domain sits in the image's .bss, which every root maps (design.md, "The isolation
// property"). What a domain's guest put there would therefore be readable from any vCPU's root:
// the bytes it wrote to the console, the register image it handed to VCPUOP_initialise, which
// event channels it bound to whom, and which grants it mapped from whom and handed to whom. Those live in this area instead: a few domain-pool
// frames of class PerDomain(d), never in the directmap, mapped only in slot 260 of that domain's
// own roots (domain_private_va, va_layout.hpp).
//
// What stays in pv::Domain is bookkeeping any pCPU needs about any domain (state, sizes, frame
// numbers, locks), the count of valid event-channel buckets, which another domain's
// bind_interdomain checks, and the grant table's version and frame lists.
//
// Access goes through one object, DomainPrivateView, built per operation:
//   - the fixed window (arch: domain_private_va) when the domain's slot-260 area is the one loaded
//     on this pCPU: every hypercall of the domain, no mapping work;
//   - else the mapcache, one page at a time: another domain's event-channel port (a send, a bind,
//     a close) or active grant entry (a map, unmap or copy of its grant), a shutdown or crash of
//     a domain decided elsewhere, the audit.
// Members that cross a page (the VCPUOP_initialise buffer) are reachable through the window only:
// only the domain itself ever touches them. A view must not outlive a CR3 switch.
#pragma once

#include <cstddef>

#include "hv/core/check.hpp"
#include "hv/core/types.hpp"
#include "hv/pv/event_channel.hpp"
#include "hv/pv/grant_table.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {

struct Domain;

inline constexpr usize kDomainPrivatePageSize = 4096;

// The guest's console output not yet printed: one line, flushed with a "(dN) " prefix.
struct ConsoleLine {
    usize length;
    char text[160];
};

struct DomainPrivate {
    EvtchnPort ports[kEvtchnPorts];     // pages 0-1: the event-channel port table
    u16 virq_port[kEvtchnVirqs];        // page 2: global VIRQ bindings (per-vCPU ones: Vcpu::virq_port); 0 = unbound
    ConsoleLine console;
    GrantMapping maptrack[kMaptrackEntries];  // the grant mappings this domain holds (handles)
    // pages 3-10: the pins of this domain's grant entries (Xen's active entries), by ref
    alignas(kDomainPrivatePageSize) ActiveGrant grant_active[kMaxGrantEntries];
    alignas(kDomainPrivatePageSize) xen::VcpuGuestContext context_buffer;  // pages 11-12: VCPUOP_initialise's copy (under mm_lock)
};
inline constexpr unsigned kDomainPrivatePages =
    static_cast<unsigned>((sizeof(DomainPrivate) + kDomainPrivatePageSize - 1) / kDomainPrivatePageSize);
static_assert(kDomainPrivatePages == 13);
static_assert(kDomainPrivatePageSize % sizeof(EvtchnPort) == 0, "no port entry crosses a page");
static_assert(kDomainPrivatePageSize % sizeof(ActiveGrant) == 0 && kDomainPrivatePageSize % sizeof(GrantMapping) == 0 &&
                  offsetof(DomainPrivate, maptrack) % sizeof(GrantMapping) == 0,
              "no grant entry crosses a page");
static_assert(offsetof(DomainPrivate, maptrack) / kDomainPrivatePageSize ==
              (offsetof(DomainPrivate, maptrack) + sizeof(DomainPrivate::maptrack) - 1) / kDomainPrivatePageSize);
static_assert(offsetof(DomainPrivate, console) / kDomainPrivatePageSize ==
                  (offsetof(DomainPrivate, console) + sizeof(ConsoleLine) - 1) / kDomainPrivatePageSize,
              "the console line is one page's");
static_assert(offsetof(DomainPrivate, virq_port) / kDomainPrivatePageSize ==
              offsetof(DomainPrivate, console) / kDomainPrivatePageSize);

struct Vcpu;

// Platform: the whole area of `domain` when its slot-260 area is the loaded one (the window),
// else nullptr. The second asks first whether `running`'s own area is loaded (one compare: the
// usual case for the calling vCPU's hypercalls), then about its domain.
u8* domain_private_window(const Domain& domain);
u8* domain_private_window(const Vcpu& running);

class DomainPrivateView {
  public:
    // Inline, and nothing to undo for a window: every event-channel hypercall opens one.
    explicit DomainPrivateView(const Domain& domain) : domain_(domain), window_(domain_private_window(domain)) {}
    // The domain of `running`, the vCPU whose hypercall this is (defined in domain.hpp).
    explicit DomainPrivateView(Vcpu& running);
    ~DomainPrivateView() {
        if (mapped_page_ >= 0) unmap_page();
    }
    DomainPrivateView(const DomainPrivateView&) = delete;
    DomainPrivateView& operator=(const DomainPrivateView&) = delete;

    // Port `port` (< kEvtchnPorts). Through the mapcache only one page is mapped at a time: a
    // reference from an earlier call into another page of the area is then stale.
    EvtchnPort& port(u32 port) { return *static_cast<EvtchnPort*>(at(offsetof(DomainPrivate, ports) + port * sizeof(EvtchnPort))); }
    u16& global_virq_port(u32 virq) {
        return *static_cast<u16*>(at(offsetof(DomainPrivate, virq_port) + virq * sizeof(u16)));
    }
    ConsoleLine& console() { return *static_cast<ConsoleLine*>(at(offsetof(DomainPrivate, console))); }
    ActiveGrant& grant_active(u32 ref) {
        return *static_cast<ActiveGrant*>(at(offsetof(DomainPrivate, grant_active) + ref * sizeof(ActiveGrant)));
    }
    GrantMapping& maptrack(u32 handle) {
        return *static_cast<GrantMapping*>(at(offsetof(DomainPrivate, maptrack) + handle * sizeof(GrantMapping)));
    }
    // The domain's own hypercalls only (its area is loaded): crosses pages.
    xen::VcpuGuestContext& context_buffer() {
        HV_CHECK(window_ != nullptr);
        return reinterpret_cast<DomainPrivate*>(window_)->context_buffer;
    }

  private:
    void* at(usize offset) { return window_ != nullptr ? window_ + offset : map_page_of(offset); }
    void* map_page_of(usize offset);  // platform: the mapcache path
    void unmap_page();                 // platform: ends the mapping map_page_of made

    const Domain& domain_;
    u8* window_;                 // the whole area, contiguous (the window, or the host fake's copy)
    int mapped_page_ = -1;       // the page mapping_ holds (-1: none)
    alignas(8) unsigned char mapping_[32];  // the platform's mapping handle while mapped_page_ >= 0
};

}  // namespace hv::pv
