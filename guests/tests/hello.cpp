// SPDX-License-Identifier: MIT
// The smallest guest: start_info sanity, console output, xen_version, an unknown hypercall.
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "hello: start of day, console, xen_version, ENOSYS, M2P";

void test_main() {
    if (start_info == nullptr) return fail("no start_info\n");
    const char* magic = start_info->magic;
    if (magic[0] != 'x' || magic[1] != 'e' || magic[2] != 'n' || magic[3] != '-')
        fail("start_info magic '%s' does not start with xen-\n", magic);
    if (start_info->nr_pages == 0) fail("start_info reports no pages\n");
    print("start_info: magic '%s', %lu pages, pt_base 0x%lx, mfn_list 0x%lx, flags 0x%x\n", magic,
          start_info->nr_pages, start_info->pt_base, start_info->mfn_list, start_info->flags);
    const long version = hypercall(xen::kXenVersion, xen::kXenVersionVersion, 0);
    if (version < (3 << 16)) fail("xen_version %lx is older than 3.0\n", version);
    expect_eq("hypercall 127 (unknown)", hypercall(127), -xen::kENOSYS);
    // The p2m list and the read-only M2P agree (XTF walks its page tables through the M2P).
    const auto* p2m = reinterpret_cast<const u64*>(start_info->mfn_list);
    const auto* m2p = reinterpret_cast<const volatile u64*>(xen::kMachToPhysVirtStart);
    const u64 pfns[] = {0, start_info->pt_base >> 12, start_info->nr_pages - 1};
    for (u64 pfn : pfns)
        expect_eq("M2P[p2m[pfn]] == pfn", static_cast<long>(m2p[p2m[pfn]]), static_cast<long>(pfn));
}

}  // namespace guest
