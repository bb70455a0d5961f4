// SPDX-License-Identifier: MIT
// Benchmarks of descriptor-table loads: set_gdt with one read-only frame, and MMUEXT_SET_LDT
// alternating between two sizes (Xen does nothing when base and size are unchanged).
// [pv-abi.md §3.5, §3.8]
#include "bench.hpp"

namespace guest::bench {
namespace {

alignas(4096) u64 gdt_page[512];
alignas(4096) u64 ldt_page[512];

constexpr u64 kPteKernelRo = 0x61;  // P|A|D: a descriptor page must not be writable
constexpr u64 kGdtEntries = 15;     // below Xen's reserved page: the flat selectors stay valid
constexpr u64 kLdtEntries[2] = {16, 32};

long remap_read_only(const void* va) {
    return hypercall(xen::kUpdateVaMapping, reinterpret_cast<u64>(va), maddr_of(va) | kPteKernelRo,
                     xen::kUvmfInvlpg);
}

long set_ldt(u64 base, u64 entries) {
    const xen::MmuextOp op{xen::kMmuextSetLdt, 0, base, entries};
    return fast_hypercall<xen::kMmuextOp>(reinterpret_cast<u64>(&op), 1, 0, xen::kDomidSelf);
}

}  // namespace

Timing bench_set_gdt(u64 iterations) {
    gdt_page[0] = 0;  // resident and zero before it turns read-only
    const long rc = remap_read_only(gdt_page);
    if (rc != 0) return report_error("set_gdt", "update_va_mapping(read-only)", rc);
    const u64 frames[1] = {maddr_of(gdt_page) >> 12};
    const u64 request = reinterpret_cast<u64>(frames);
    const Timing t = time_calls("set_gdt", "set_gdt(1 frame)", iterations,
                                [=] { return fast_hypercall<xen::kSetGdt>(request, kGdtEntries); });
    hypercall(xen::kSetGdt, 0, 0);  // back to no guest GDT, as at boot
    return t;
}

// The op under test itself may be missing (Isola has no LDT yet): that is `unsupported`.
Timing bench_set_ldt(u64 iterations) {
    ldt_page[0] = 0;
    const long remapped = remap_read_only(ldt_page);
    if (remapped != 0) return report_error("set_ldt", "update_va_mapping(read-only)", remapped);
    const u64 base = reinterpret_cast<u64>(ldt_page);
    const long rc = set_ldt(base, kLdtEntries[0]);
    if (rc == -xen::kENOSYS || rc == -xen::kEOPNOTSUPP)
        return report_unsupported("set_ldt", "mmuext_op(SET_LDT)", rc);
    if (rc != 0) return report_error("set_ldt", "mmuext_op(SET_LDT)", rc);
    u64 round = 0;
    const Timing t = time_calls("set_ldt", "mmuext_op(SET_LDT)", iterations,
                                [&] { return set_ldt(base, kLdtEntries[++round & 1]); });
    set_ldt(0, 0);
    return t;
}

}  // namespace guest::bench
