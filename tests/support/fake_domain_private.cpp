// SPDX-License-Identifier: MIT
// Host fake for the domain private-area view (fake_domain_private.hpp).
#include "support/fake_domain_private.hpp"

#include "hv/pv/domain.hpp"

#include <map>
#include <memory>
#include <set>

namespace hv::test {
namespace {

struct FakeDomainPrivateStore {
    std::map<const pv::Domain*, std::unique_ptr<pv::DomainPrivate>> areas;
    std::set<const pv::Domain*> paged;
    unsigned pages_mapped_now = 0;
    unsigned page_maps = 0;
};

FakeDomainPrivateStore& store() {
    static FakeDomainPrivateStore instance;
    return instance;
}

}  // namespace

void reset_fake_domain_private() {
    store().areas.clear();
    store().paged.clear();
    store().page_maps = 0;
    store().pages_mapped_now = 0;
}

pv::DomainPrivate& fake_domain_private(const pv::Domain& domain) {
    auto& slot = store().areas[&domain];
    if (!slot) slot = std::make_unique<pv::DomainPrivate>();
    return *slot;
}

void fake_domain_private_paged(const pv::Domain& domain, bool paged) {
    if (paged) store().paged.insert(&domain);
    else store().paged.erase(&domain);
}

unsigned fake_domain_private_pages_mapped() { return store().pages_mapped_now; }
unsigned fake_domain_private_page_maps() { return store().page_maps; }

}  // namespace hv::test

namespace hv::pv {

u8* domain_private_window(const Domain& domain) {
    if (test::store().paged.count(&domain) != 0) return nullptr;
    return reinterpret_cast<u8*>(&test::fake_domain_private(domain));
}

u8* domain_private_window(const Vcpu& running) { return domain_private_window(*running.domain); }

void DomainPrivateView::unmap_page() {
    --test::store().pages_mapped_now;
    mapped_page_ = -1;
}

// The paged path: the page holding `offset`, remembered as the one mapped (a call for another
// page counts as a new mapping, as the image's mapcache path makes one). The pointer is into the
// one host copy, so views stay coherent as the image's mappings of one frame are; a reference
// kept across a call for another page is not caught here (event_channel_test.cpp runs the
// cross-domain operations in this mode to cover the paths).
void* DomainPrivateView::map_page_of(usize offset) {
    const int page = static_cast<int>(offset / kDomainPrivatePageSize);
    HV_CHECK(page < static_cast<int>(kDomainPrivatePages));
    if (mapped_page_ != page) {
        if (mapped_page_ >= 0) unmap_page();
        ++test::store().page_maps;
        ++test::store().pages_mapped_now;
        mapped_page_ = page;
    }
    return reinterpret_cast<u8*>(&test::fake_domain_private(domain_)) + offset;
}

}  // namespace hv::pv
