// SPDX-License-Identifier: MIT
// Host fake for hv/pv/domain_private.hpp: each domain's private area in host memory, by address.
// Views see it whole, as the image's window shows the loaded domain's; set
// fake_domain_private_paged(true) to make views of one domain map page by page instead, as the
// image does for a domain whose area is not loaded.
#pragma once

#include "hv/pv/domain_private.hpp"

namespace hv::test {

// Forgets every domain's private state (fixtures call it: a new Domain may reuse an old address).
void reset_fake_domain_private();
// The area views of `domain` see (zeroed on first use), for tests to inspect.
pv::DomainPrivate& fake_domain_private(const pv::Domain& domain);
// Views of `domain` opened from now on go through the page-by-page path (or back to the window).
void fake_domain_private_paged(const pv::Domain& domain, bool paged);
// How many page mappings the paged path has made in all, and how many are held now (a view that
// ends releases its own; one that leaked would hold a mapcache slot in the image).
unsigned fake_domain_private_page_maps();
unsigned fake_domain_private_pages_mapped();

}  // namespace hv::test
