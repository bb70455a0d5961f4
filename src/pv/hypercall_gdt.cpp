// SPDX-License-Identifier: MIT
// set_gdt and update_descriptor. [pv-abi.md §3.5, §3.6]
#include "hv/core/addr.hpp"
#include "hv/pv/descriptors.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/xen_abi.hpp"
#include "hypercall_handlers.hpp"

namespace hv::pv {
namespace {

void drop_frames(PageTypeEngine& engine, const u64* frames, unsigned count) {
    for (unsigned i = 0; i < count; ++i) engine.put_page_and_type(Mfn(frames[i]));
}

bool same_gdt_frames(const Vcpu& vcpu, const u64* frames, unsigned count) {
    for (unsigned i = 0; i < count; ++i)
        if (vcpu.gdt_frames[i] != frames[i]) return false;
    return true;
}

}  // namespace

long set_gdt(Vcpu& vcpu, const HypercallArgs& args) {
    const u64 list = args.arg[0], entries = args.arg[1];
    if (entries > xen::kFirstReservedGdtEntry) return -xen::kEINVAL;
    const unsigned count = static_cast<unsigned>((entries + 511) / 512);
    u64 frames[kMaxGdtFrames] = {};
    if (count > 0 && !copy_from_guest(vcpu, frames, list, count * sizeof frames[0])) return -xen::kEFAULT;
    PageTypeEngine engine = domain_engine(*vcpu.domain);
    for (unsigned i = 0; i < count; ++i) {
        if (!engine.get_page_and_type(Mfn(frames[i]), PageType::SegDesc).ok()) {
            drop_frames(engine, frames, i);  // the old GDT stays in place
            return -xen::kEINVAL;
        }
    }
    const bool same_frames = count == vcpu.gdt_frame_count && same_gdt_frames(vcpu, frames, count);
    drop_frames(engine, vcpu.gdt_frames, vcpu.gdt_frame_count);
    for (unsigned i = 0; i < kMaxGdtFrames; ++i) vcpu.gdt_frames[i] = i < count ? frames[i] : 0;
    vcpu.gdt_frame_count = count;
    // The GDT window maps vcpu.gdt_frames from every switch-in and every change on, and GDTR's
    // base and limit never change: the same frames again leave nothing to remap or reload.
    if (!same_frames) load_guest_gdt(vcpu);
    return 0;
}

long update_descriptor(Vcpu& vcpu, const HypercallArgs& args) {
    const Maddr slot(args.arg[0]);
    u64 descriptor = args.arg[1];
    if ((slot.raw() & 7) != 0) return -xen::kEINVAL;
    const Mfn mfn = slot.mfn();
    const unsigned index = static_cast<unsigned>((slot.raw() & (kPageSize - 1)) / 8);
    PageTypeEngine engine = domain_engine(*vcpu.domain);
    if (!engine.get_page(mfn).ok()) return -xen::kEINVAL;
    // In a GDT/LDT (segment-descriptor type) or plain data (writable type); never a page table.
    const bool typed = engine.get_page_type(mfn, PageType::SegDesc).ok() ||
                       engine.get_page_type(mfn, PageType::Writable).ok();
    long result = -xen::kEINVAL;
    if (typed) {
        // A call gate's upper half is the next slot; check against what is there now.
        u64 next = index + 1 < 512 ? read_frame_word(mfn, index + 1) : 0;
        if (check_descriptor(descriptor, index + 1 < 512 ? &next : nullptr)) {
            write_frame_word(mfn, index, descriptor);
            result = 0;
        }
        engine.put_page_type(mfn);
    }
    engine.put_page(mfn);
    return result;
}

}  // namespace hv::pv
