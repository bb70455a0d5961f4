// SPDX-License-Identifier: MIT
// Descriptor checks for guest GDT/LDT pages. [pv-abi.md §3.6; SDM 3A §3.4.5, §5.8.3.1]
#include "hv/pv/descriptors.hpp"

#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

constexpr u64 kPresent = u64{1} << 47;
constexpr u64 kCodeOrData = u64{1} << 44;  // S bit
constexpr unsigned kDplShift = 45;
constexpr u64 kDplMask = u64{3} << kDplShift;
constexpr unsigned kTypeShift = 40;
constexpr u64 kCallGate64 = 0xc;

unsigned system_type(u64 descriptor) { return static_cast<unsigned>((descriptor >> kTypeShift) & 0xf); }

// A 64-bit call gate may only lead to a guest GDT selector, an LDT selector or exactly
// FLAT_RING3_CS64 (0xe033), with bits 32-39 (IST and reserved) clear. As on Xen 4.17 the next
// slot is not inspected, and a gate in the last slot of a page is accepted (found with
// update_descriptor probes on Xen 4.17; no guest test covers these cases yet).
bool check_call_gate(u64& descriptor, const u64*) {
    if (((descriptor >> 32) & 0xff) != 0) return false;
    const u16 selector = static_cast<u16>(descriptor >> 16);
    const bool ldt = (selector & 4) != 0;
    const bool guest_gdt = (selector >> 3) < xen::kFirstReservedGdtEntry;
    if (!ldt && !guest_gdt && selector != xen::kFlatRing3Cs64) return false;
    // Keep the gate's DPL in the target selector's RPL, force the gate's DPL to 0 so using it
    // traps into the hypervisor (which would emulate it).
    const u64 dpl = (descriptor & kDplMask) >> kDplShift;
    descriptor = (descriptor & ~(u64{0xffff} << 16)) | (u64{static_cast<u16>((selector & ~3u) | dpl)} << 16);
    descriptor &= ~kDplMask;
    return true;
}

}  // namespace

bool check_descriptor(u64& descriptor, const u64* next) {
    if ((descriptor & kPresent) == 0) return true;
    if ((descriptor & kCodeOrData) != 0) {
        descriptor |= kDplMask;  // a PV guest never gets ring 0-2 segments
        return true;
    }
    switch (system_type(descriptor)) {
        case 0: return true;  // upper half of a 16-byte descriptor
        case kCallGate64: return check_call_gate(descriptor, next);
        default: return false;  // TSS, LDT, interrupt and trap gates: refused
    }
}

bool check_descriptor_page(u64* page) {
    for (unsigned i = 0; i < 512; ++i) {
        u64 descriptor = page[i];
        if (!check_descriptor(descriptor, i + 1 < 512 ? &page[i + 1] : nullptr)) return false;
        if (descriptor != page[i]) __atomic_store_n(&page[i], descriptor, __ATOMIC_RELAXED);
    }
    return true;
}

}  // namespace hv::pv
