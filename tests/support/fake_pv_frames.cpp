// SPDX-License-Identifier: MIT
// Fake machine frames and frame table for host tests of the PV page-type engine.
#include "support/fake_pv_frames.hpp"

#include <cstdio>
#include <cstdlib>

#include "arch/pte.hpp"

namespace hv::test {

using arch::X86PteFormat;

FakePvFrames::FakePvFrames(u64 frame_count)
    : infos_(frame_count, mm::FrameInfo{mm::FrameOwner::Unusable, mm::FrameClass::Global, mm::Pool::Domain, 0, 0, 0,
                                        0}) {}

void FakePvFrames::give(Mfn mfn, pv::DomainId domain) {
    set_owner(mfn, mm::FrameOwner::Domain, mm::FrameClass::Guest, domain);
}

void FakePvFrames::set_owner(Mfn mfn, mm::FrameOwner owner, mm::FrameClass frame_class, u32 class_id) {
    info(mfn) = mm::FrameInfo{owner, frame_class, mm::Pool::Domain, 0, class_id, 0, 0};
}

mm::FrameInfo& FakePvFrames::info(Mfn mfn) {
    if (mfn.raw() >= infos_.size()) {
        std::fprintf(stderr, "FakePvFrames: no frame info for mfn %#llx\n", static_cast<unsigned long long>(mfn.raw()));
        std::abort();
    }
    return infos_[mfn.raw()];
}

FrameWords& FakePvFrames::words(Mfn mfn) {
    if (mfn.raw() >= infos_.size()) {
        std::fprintf(stderr, "FakePvFrames: contents of mfn %#llx beyond the frame table\n",
                     static_cast<unsigned long long>(mfn.raw()));
        std::abort();
    }
    return contents_[mfn.raw()];
}

u64& FakePvFrames::word(Mfn mfn, unsigned index) { return words(mfn).at(index); }

u64 FakePvFrames::hypervisor_entry(Mfn l4, unsigned slot) {
    if (slot == 258)
        return l4.maddr().raw() | X86PteFormat::kP | X86PteFormat::kRw | X86PteFormat::kA | X86PteFormat::kD |
               X86PteFormat::kXd;
    return (u64{0xabc00 + slot} << kPageShift) | X86PteFormat::kP | X86PteFormat::kRw | X86PteFormat::kA;
}

u64 FakePvFrames::read_linear(u64 va, mm::Level level) {
    ++linear_reads;
    Mfn table(loaded_root);
    for (mm::Level at = mm::Level::Pml4; at != level; at = mm::lower(at)) {
        const u64 entry = word(table, mm::index_of(va, at));
        if ((entry & X86PteFormat::kP) == 0 || (at != mm::Level::Pml4 && (entry & X86PteFormat::kPs) != 0)) {
            std::fprintf(stderr, "FakePvFrames: linear read of %#llx faults\n", static_cast<unsigned long long>(va));
            std::abort();
        }
        table = Mfn((entry & X86PteFormat::kAddrMask) >> kPageShift);
    }
    return word(table, mm::index_of(va, level));
}

pv::PageTypeEnv FakePvFrames::env() {
    pv::PageTypeEnv env{};
    env.context = this;
    env.frame = [](void* self, Mfn mfn) -> mm::FrameInfo* {
        auto* frames = static_cast<FakePvFrames*>(self);
        return mfn.raw() < frames->infos_.size() ? &frames->infos_[mfn.raw()] : nullptr;
    };
    env.read_entry = [](void* self, Mfn table, unsigned index) {
        auto* frames = static_cast<FakePvFrames*>(self);
        ++frames->mapped_reads;
        return frames->word(table, index);
    };
    if (loaded_root != kNoRoot) {
        env.root_loaded = [](void* self, Mfn root) { return root.raw() == static_cast<FakePvFrames*>(self)->loaded_root; };
        env.read_loaded_entry = [](void* self, u64 va, mm::Level level) {
            return static_cast<FakePvFrames*>(self)->read_linear(va, level);
        };
    }
    env.write_entry = [](void* self, Mfn table, unsigned index, u64 value) {
        auto* frames = static_cast<FakePvFrames*>(self);
        frames->word(table, index) = value;
        if (frames->after_write) frames->after_write(table, index, value);
    };
    env.hypervisor_l4_entry = [](void*, Mfn l4, unsigned slot) { return hypervisor_entry(l4, slot); };
    env.flush_stale = [](void* self, Mfn frame) { static_cast<FakePvFrames*>(self)->flushes.push_back(frame); };
    if (offer_descriptor_check)
        env.descriptors_ok = [](void* self, Mfn frame) {
            return static_cast<FakePvFrames*>(self)->bad_descriptor_pages.count(frame.raw()) == 0;
        };
    return env;
}

}  // namespace hv::test
