// SPDX-License-Identifier: MIT
// PV page-type engine: type and reference counts of guest frames, page-table validation.
//
// Implements the rules Xen enforces on 64-bit PV guest page tables [pv-abi.md §5]: a frame has
// one type at a time, the type changes only while its type count is 0, and the first reference
// of a page-table type validates the frame's contents, taking references for every present entry.
// The hypercalls (mmu_update, mmuext_op, update_va_mapping) are thin wrappers around this class.
//
// Who holds what [pv-abi.md §5.1]:
//
//   user                                   general ref   type ref on the target
//   present L1 entry, RW                   yes           Writable
//   present L1 entry, read-only            yes           -
//   present L2 / L3 / L4 entry             yes           L1 / L2 / L3
//   linear entry (Ln -> other Ln, RO)      yes           Ln (target already validated)
//   linear entry (Ln -> itself, RO)        -             -
//   pin (MMUEXT_PIN_Lx_TABLE)              yes           Lx, plus the pinned bit
//   root (NEW_BASEPTR ...), GDT            yes           L4, SegDesc (get_page_and_type)
//   L4 slots 256-271                       -             - (hypervisor-owned, never validated)
//   L1 entry mapping another domain's      -             - (the grant mapping holds them on the
//   frame (install_foreign_l1_entry)                           granter's frame; put_entry skips it)
//
// Type state machine of one frame (count = type count):
//
//   type T, count 0 --get_page_type(T')--> type T', count 1   (validate if T' is a table or
//        ^                                                    SegDesc; flush_stale if T != T')
//        '---put_page_type (1 -> 0: devalidate, drop the entries' references; T is kept)---'
//
// The type of a frame whose count is 0 is remembered ("stale type", as Xen does): it says under
// which type the guest's CPUs may still cache translations through the frame, so the engine
// asks the environment to flush them before the frame takes a different type (a writable frame
// becoming a page table, or a page table becoming writable). With count 0 the frame has no
// type as far as the rules go (current_type() is None).
//
// Encoding in mm::FrameInfo (16 bytes, no room for more fields):
//   page_type   bits 2:0 PageType, bit 7 pinned
//   type_count  bits 23:0 type count (refused beyond kMaxTypeCount), bits 31:24 linear count
//               (signed; > 0: this table holds that many linear entries to other tables,
//               < 0: that many linear entries point at this table) [pv-abi.md §5.5]
//   ref_count   general reference count (refused beyond kMaxRefCount)
//
// Concurrency: none inside. The caller serialises all engine calls for a domain (one lock per
// domain); since frames of other domains are never referenced, that is enough. (A grant mapping
// of another domain's frame is no exception: its PTE holds nothing, the grant code takes the
// granter's references through the granter's engine, under the granter's lock.)
// Work is not preemptible: validating or devalidating a table tree walks all of it at once.
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/check.hpp"
#include "hv/core/result.hpp"
#include "hv/core/types.hpp"
#include "hv/mm/frame_table.hpp"
#include "hv/mm/level.hpp"

namespace hv::pv {

using DomainId = u16;

// Xen's numbering (type 6, "shared", is not used by 64-bit PV).
enum class PageType : u8 { None = 0, L1 = 1, L2 = 2, L3 = 3, L4 = 4, SegDesc = 5, Writable = 7 };

// Whether a domain may set PWT/PCD/PAT in L1 entries (I/O or cache-flush privilege).
enum class CacheAttrs : u8 { Refused, Allowed };
// mmu_update MMU_NORMAL_PT_UPDATE, or MMU_PT_UPDATE_PRESERVE_AD (keep the entry's A and D).
enum class UpdateMode : u8 { Normal, PreserveAd };

inline constexpr u32 kMaxTypeCount = 0x00ff'ffff;
inline constexpr u32 kMaxRefCount = 0xffff'ffff;
inline constexpr i32 kMaxLinearCount = 127;

// Xen software bit in L1 entries: the guest asked for a supervisor-only page; the engine sets
// US (the guest kernel runs in ring 3) and records the request here. [pv-abi.md §1.6]
inline constexpr u64 kGuestKernelBit = u64{1} << 52;

// --- FrameInfo accessors (the encoding above) ----------------------------------------------
constexpr PageType stored_type(const mm::FrameInfo& info) { return static_cast<PageType>(info.page_type & 0x07); }
constexpr u32 type_count(const mm::FrameInfo& info) { return info.type_count & kMaxTypeCount; }
constexpr bool is_pinned(const mm::FrameInfo& info) { return (info.page_type & 0x80) != 0; }
constexpr i32 linear_count(const mm::FrameInfo& info) { return static_cast<std::int8_t>(info.type_count >> 24); }
// The type the rules see: the stored type while the type count is non-zero, else None.
constexpr PageType current_type(const mm::FrameInfo& info) {
    return type_count(info) != 0 ? stored_type(info) : PageType::None;
}
constexpr bool is_page_table(PageType type) { return type >= PageType::L1 && type <= PageType::L4; }

// How the engine reaches frames and their contents. Plain function pointers (no virtuals): the
// hypervisor implements them with the frame table and the mapcache, tests with host memory.
// All pointers are required except descriptors_ok.
struct PageTypeEnv {
    void* context;
    // The descriptor of `mfn`, or nullptr when `mfn` is not a frame of this machine (guest input:
    // an invalid mfn is an error, never a crash).
    mm::FrameInfo* (*frame)(void* context, Mfn mfn);
    // Entry `index` (< 512) of the table in frame `table`; the engine only asks for valid frames.
    u64 (*read_entry)(void* context, Mfn table, unsigned index);
    // One aligned 8-byte store, so a CPU walking the table sees either the old or the new entry.
    void (*write_entry)(void* context, Mfn table, unsigned index, u64 value);
    // What slot `slot` (256..271) of every validated L4 holds; `l4` is that L4 (slot 258 is its
    // linear self-map).
    u64 (*hypervisor_l4_entry)(void* context, Mfn l4, unsigned slot);
    // `frame` is about to change type: flush every TLB (and paging-structure cache) of the
    // owning domain's CPUs that may still translate through it under its old type. This is
    // what makes the type rules hold against stale translations, so it must be complete:
    // on every pCPU that may hold the domain's translations, not only the current one (and
    // global entries too, should guest translations ever be global; adjust_entry strips G).
    void (*flush_stale)(void* context, Mfn frame);
    // Whether every descriptor in `frame` may be loaded by the guest (GDT/LDT rules). nullptr:
    // the SegDesc type is refused.
    bool (*descriptors_ok)(void* context, Mfn frame);
    // Optional, both or neither (update_va_mapping's fast walk): whether validated L4 `root` is
    // the root loaded on this CPU (or a copy whose guest slots mirror it), so that its entries
    // can be read through the loaded root's linear page tables without mapping any frame; and
    // then the entry of `level` that translates guest `va` there. The engine asks for a level
    // only after checking every entry above it (present, no superpage, a table of the domain):
    // exactly the condition under which the linear address is mapped.
    bool (*root_loaded)(void* context, Mfn root);
    u64 (*read_loaded_entry)(void* context, u64 va, mm::Level level);
};

// The engine acting for one domain: every frame it references must belong to that domain
// (owner Domain, class Guest, class_id == domain). Cheap to construct; its only state is the
// count of entry updates it stored (entry_writes).
class PageTypeEngine {
  public:
    // Inline: a hypercall builds one per call, and with a constant environment the checks fold away.
    PageTypeEngine(const PageTypeEnv& env, DomainId domain, CacheAttrs cache_attrs = CacheAttrs::Refused)
        : env_(env), domain_(domain), cache_attrs_(cache_attrs) {
        HV_CHECK(env.frame != nullptr && env.read_entry != nullptr && env.write_entry != nullptr);
        HV_CHECK(env.hypervisor_l4_entry != nullptr && env.flush_stale != nullptr);
        HV_CHECK((env.root_loaded == nullptr) == (env.read_loaded_entry == nullptr));
    }

    // General reference. InvalidArgument: not a frame of this domain, or the count is at its limit.
    [[nodiscard]] Result<void> get_page(Mfn mfn);
    // Precondition (hypervisor bug otherwise): the caller holds a general reference on `mfn`.
    void put_page(Mfn mfn);

    // Type reference; the caller must already hold a general reference (else InvalidArgument).
    // InvalidArgument: type conflict (the frame has another type with a non-zero count), count
    // limit, or a validation failure (whose own error is returned when more specific, e.g. Busy
    // for an L1 that maps a page table writable). On any error nothing changed.
    [[nodiscard]] Result<void> get_page_type(Mfn mfn, PageType type);
    // Precondition: the caller holds a type reference. The last one devalidates a table.
    void put_page_type(Mfn mfn);

    // Both at once: NEW_BASEPTR / NEW_USER_BASEPTR / VCPUOP_initialise (L4), set_gdt (SegDesc).
    [[nodiscard]] Result<void> get_page_and_type(Mfn mfn, PageType type);
    void put_page_and_type(Mfn mfn);

    // MMUEXT_PIN_L{1,2,3,4}_TABLE: `level` is L1..L4. InvalidArgument: not this domain's frame,
    // already pinned, type conflict (e.g. mapped writable), validation failure.
    [[nodiscard]] Result<void> pin(Mfn mfn, PageType level);
    // MMUEXT_UNPIN_TABLE. InvalidArgument: not this domain's frame, or not pinned.
    [[nodiscard]] Result<void> unpin(Mfn mfn);

    // mmu_update MMU_NORMAL_PT_UPDATE / MMU_PT_UPDATE_PRESERVE_AD of entry `index` of `table`
    // (ptr = table.maddr + 8 * index). What happens depends on the frame's current type:
    //   L1..L4         checked update (mod_entry rules below)
    //   None/Writable  plain store (the frame is data)
    //   SegDesc        InvalidArgument
    // InvalidArgument also when `table` is not this domain's frame or index >= 512.
    [[nodiscard]] Result<void> update_entry(Mfn table, unsigned index, u64 value,
                                            UpdateMode mode = UpdateMode::Normal);

    // Checked update of an entry of an L1 (`table` must currently be an L1). Takes the new
    // entry's references, writes it, then drops the old one's. Errors, with nothing changed:
    //   InvalidArgument   reserved/disallowed bits (PWT/PCD/PAT without CacheAttrs::Allowed)
    //   PermissionDenied  target is not RAM (beyond the frame table, or an Unusable frame)
    //   Busy              target not owned by the domain, RW on a page-table or SegDesc frame,
    //                     count limit
    [[nodiscard]] Result<void> mod_l1_entry(Mfn table, unsigned index, u64 value);

    // update_va_mapping: walks the tables of the validated L4 `root` to the L1 that maps `va`
    // and applies mod_l1_entry to it. InvalidArgument: va non-canonical or in the hypervisor
    // range [0xffff800000000000, 0xffff880000000000), root not a current L4 of this domain, an
    // L4/L3/L2 entry on the way not present or a superpage, the last table not an L1.
    // TLB flushing (UVMF_*) is the caller's job, and only after success. When the environment
    // says `root` is loaded, the walk and the old L1 entry are read through its linear tables
    // (same checks, same results, no frame mapped).
    [[nodiscard]] Result<void> update_va_mapping(Mfn root, Vaddr va, u64 value);

    // A grant host mapping of another domain's frame (grant_table.cpp): writes entry `index` of
    // the L1 `table` without taking references for it, since the grant mapping holds them on the
    // granting domain's counts (which this engine never touches). The old entry's references are
    // dropped as by mod_l1_entry. InvalidArgument: `table` not currently an L1 of this domain,
    // index >= 512, `value` not present, disallowed bits, or its frame one of this domain's.
    [[nodiscard]] Result<void> install_foreign_l1_entry(Mfn table, unsigned index, u64 value);

    // For grant host mappings (grant_table.cpp), which install and check their PTEs with
    // mod_l1_entry: the L1 holding the entry for `va` under `root`, with update_va_mapping's
    // refusals (InvalidArgument); and whether `table` is currently an L1 of this domain.
    [[nodiscard]] Result<Mfn> l1_for_va(Mfn root, Vaddr va) const;
    bool is_l1_table(Mfn table) const;
    // Whether `table` is currently an L4 of this domain (a change to it needs a root resync).
    bool is_l4_table(Mfn table) const;

    DomainId domain() const { return domain_; }
    // Entries this engine stored for update_entry / mod_l1_entry / update_va_mapping: 0 when
    // every update left its entry as it was, so no translation can have changed (mmu_update
    // then needs no TLB flush).
    u64 entry_writes() const { return entry_writes_; }

  private:
    // page_types.cpp: counts.
    mm::FrameInfo* owned(Mfn mfn) const;
    mm::FrameInfo& tracked(Mfn mfn) const;
    Result<void> get_ref(Mfn mfn);
    void put_ref(Mfn mfn);
    Result<void> get_type(Mfn mfn, PageType type);
    void put_type(Mfn mfn);
    Result<void> store_data_entry(Mfn table, unsigned index, u64 value);
    Result<Mfn> walk_to_l1(Mfn root, u64 va, bool loaded) const;
    u64 walk_entry(Mfn table, u64 va, mm::Level level, bool loaded) const;

    // page_types_entries.cpp: entries and tables.
    Result<void> get_entry(Mfn table, PageType level, u64 entry);
    void put_entry(Mfn table, PageType level, u64 entry);
    Result<void> get_l1_entry(u64 entry);
    Result<void> get_table_entry(Mfn table, PageType level, u64 entry);
    Result<void> get_linear_entry(Mfn table, PageType level, u64 entry);
    void put_linear_entry(Mfn table, Mfn target);
    Result<void> validate(Mfn table, PageType type);
    void devalidate(Mfn table, PageType type);
    void unwind_entries(Mfn table, PageType level, unsigned end);
    void commit_validated(Mfn table, PageType level);
    Result<void> mod_entry(Mfn table, PageType level, unsigned index, u64 value);
    Result<void> replace_entry(Mfn table, PageType level, unsigned index, u64 old, u64 value);
    Result<void> exchange_entry(Mfn table, PageType level, unsigned index, u64 old, u64 value);
    u64 allowed_bits(PageType level) const;
    void write(Mfn table, unsigned index, u64 value) {
        ++entry_writes_;
        env_.write_entry(env_.context, table, index, value);
    }

    PageTypeEnv env_;
    DomainId domain_;
    CacheAttrs cache_attrs_;
    u64 entry_writes_ = 0;
};

}  // namespace hv::pv
