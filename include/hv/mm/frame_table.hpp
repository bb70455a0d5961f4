// SPDX-License-Identifier: MIT
// Per-frame descriptors and the frame allocator.
//
// Every machine frame below the top of RAM has one 16-byte FrameInfo, indexed by mfn. It records
// who owns the frame, its isolation class (what the audit checks), and the type and reference
// counts the PV page-type engine builds on. Free frames sit on one LIFO list per pool; the list
// link reuses the count fields, which are meaningless while a frame is free.
//
// Two pools, because the directmap is sparse:
//   Hypervisor  frames the hypervisor owns globally; all of them are in the directmap.
//   Domain      everything else (guest memory, later vCPU-private frames); never in the directmap.
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/optional.hpp"
#include "hv/core/types.hpp"

namespace hv::mm {

enum class FrameOwner : u8 { Unusable, Free, Hypervisor, BootModule, Domain };
enum class FrameClass : u8 { Global, PerCpu, PerDomain, PerVcpu, Guest };
enum class Pool : u8 { Hypervisor, Domain };
inline constexpr unsigned kPoolCount = 2;

struct FrameInfo {
    FrameOwner owner;
    FrameClass frame_class;
    Pool pool;         // the pool a freed frame returns to
    u8 page_type;      // PV page type (PV page-type engine)
    u32 class_id;      // pCPU, domain or vCPU id, as frame_class says
    u32 type_count;    // while free: low half of the next-free link
    u32 ref_count;     // while free: high half of the next-free link
};
static_assert(sizeof(FrameInfo) == 16, "frame table entries are 16 bytes");

// Who a newly allocated frame belongs to.
struct FrameUse {
    FrameOwner owner;
    FrameClass frame_class;
    u32 class_id;
};

class FrameAllocator {
  public:
    // `table` holds `frame_count` entries, all initialised to Unusable by the caller or here.
    FrameAllocator(FrameInfo* table, u64 frame_count);

    // Hands frames [first, first+count) to a pool as free. Frames outside the table are ignored.
    void add_free(Pool pool, Mfn first, u64 count);
    // Marks frames as permanently owned without going through a pool (image, boot modules).
    void claim(Mfn first, u64 count, FrameUse use);

    Optional<Mfn> alloc(Pool pool, FrameUse use);
    // Returns a frame to its pool. Freeing a free or unusable frame is a hypervisor bug.
    void free(Mfn mfn);

    u64 free_count(Pool pool) const { return free_count_[static_cast<unsigned>(pool)]; }
    u64 frame_count() const { return frame_count_; }
    const FrameInfo& info(Mfn mfn) const;
    FrameInfo& info(Mfn mfn);
    // The descriptor of `mfn`, or nullptr beyond the table (an mfn from guest input).
    FrameInfo* find(Mfn mfn) { return mfn.raw() < frame_count_ ? &table_[mfn.raw()] : nullptr; }
    // Moves the table (the boot code remaps it once the final page tables are live).
    void relocate_table(FrameInfo* table) { table_ = table; }

  private:
    static constexpr u64 kNoFrame = ~u64{0};
    void push_free(Pool pool, u64 mfn);
    u64 next_of(u64 mfn) const;

    FrameInfo* table_;
    u64 frame_count_;
    u64 free_head_[kPoolCount]{kNoFrame, kNoFrame};
    u64 free_count_[kPoolCount]{};
};

}  // namespace hv::mm
