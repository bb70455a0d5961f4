// SPDX-License-Identifier: MIT
// PV page-type engine: reference and type counts, pins, and the hypercall-facing operations.
// Entry rules and table (de)validation are in page_types_entries.cpp.
#include "hv/pv/page_types.hpp"

#include "hv/core/check.hpp"
#include "page_types_internal.hpp"

namespace hv::pv {

using namespace detail;  // NOLINT: the engine's own bit and field helpers

namespace {

// Canonical and outside the hypervisor's 16 slots. [pv-abi.md §3.10]
bool guest_va(Vaddr va) { return va.raw() < (u64{1} << 47) || va.raw() >= xen::kHypervisorVirtEnd; }

}  // namespace

// The descriptor of `mfn` if this domain owns it (RAM given to the domain), else nullptr.
mm::FrameInfo* PageTypeEngine::owned(Mfn mfn) const {
    mm::FrameInfo* info = env_.frame(env_.context, mfn);
    if (info == nullptr || info->owner != mm::FrameOwner::Domain || info->frame_class != mm::FrameClass::Guest ||
        info->class_id != domain_)
        return nullptr;
    return info;
}

// The descriptor of a frame the engine holds a reference on; anything else is a hypervisor bug.
mm::FrameInfo& PageTypeEngine::tracked(Mfn mfn) const {
    mm::FrameInfo* info = env_.frame(env_.context, mfn);
    HV_CHECK(info != nullptr);
    return *info;
}

Result<void> PageTypeEngine::get_ref(Mfn mfn) {
    mm::FrameInfo* info = owned(mfn);
    if (info == nullptr || info->ref_count == kMaxRefCount) return Error{Status::InvalidArgument};
    ++info->ref_count;
    return {};
}

void PageTypeEngine::put_ref(Mfn mfn) {
    mm::FrameInfo& info = tracked(mfn);
    HV_CHECK(info.ref_count > 0);
    --info.ref_count;
}

// One type reference. On 0 -> 1 the frame takes `type` (flushing stale translations if it last
// had another type) and tables/descriptor pages are validated; a failure restores the old type.
Result<void> PageTypeEngine::get_type(Mfn mfn, PageType type) {
    mm::FrameInfo& info = tracked(mfn);
    const u32 count = type_count(info);
    if (count != 0) {
        if (stored_type(info) != type || count == kMaxTypeCount) return Error{Status::InvalidArgument};
        set_type_count(info, count + 1);
        return {};
    }
    const PageType old = stored_type(info);
    if (old != PageType::None && old != type) env_.flush_stale(env_.context, mfn);
    set_stored_type(info, type);
    set_type_count(info, 1);
    if (type == PageType::Writable) return {};
    const Result<void> valid = validate(mfn, type);
    if (!valid.ok()) {
        set_type_count(info, 0);
        set_stored_type(info, old);
    }
    return valid;
}

// Drops one type reference; the last one of a table drops the references its entries held.
void PageTypeEngine::put_type(Mfn mfn) {
    mm::FrameInfo& info = tracked(mfn);
    const u32 count = type_count(info);
    HV_CHECK(count > 0);
    set_type_count(info, count - 1);
    if (count > 1) return;
    HV_CHECK(!is_pinned(info) && linear_count(info) >= 0);  // pins and linear users hold type refs
    if (stored_type(info) != PageType::Writable) devalidate(mfn, stored_type(info));
    HV_DEBUG_ASSERT(linear_count(info) == 0);
}

Result<void> PageTypeEngine::get_page(Mfn mfn) { return get_ref(mfn); }

void PageTypeEngine::put_page(Mfn mfn) { put_ref(mfn); }

Result<void> PageTypeEngine::get_page_type(Mfn mfn, PageType type) {
    const mm::FrameInfo* info = owned(mfn);
    if (info == nullptr || info->ref_count == 0 || type == PageType::None) return Error{Status::InvalidArgument};
    return get_type(mfn, type);
}

void PageTypeEngine::put_page_type(Mfn mfn) { put_type(mfn); }

Result<void> PageTypeEngine::get_page_and_type(Mfn mfn, PageType type) {
    if (type == PageType::None) return Error{Status::InvalidArgument};
    HV_TRY(get_ref(mfn));
    const Result<void> typed = get_type(mfn, type);
    if (!typed.ok()) put_ref(mfn);
    return typed;
}

void PageTypeEngine::put_page_and_type(Mfn mfn) {
    put_type(mfn);
    put_ref(mfn);
}

// Pin: one general and one type reference, held until unpin. [pv-abi.md §3.8, §5.1 rule 3]
Result<void> PageTypeEngine::pin(Mfn mfn, PageType level) {
    const mm::FrameInfo* info = owned(mfn);
    if (info == nullptr || !is_page_table(level) || is_pinned(*info)) return Error{Status::InvalidArgument};
    HV_TRY(get_page_and_type(mfn, level));
    set_pinned(tracked(mfn), true);
    return {};
}

Result<void> PageTypeEngine::unpin(Mfn mfn) {
    mm::FrameInfo* info = owned(mfn);
    if (info == nullptr || !is_pinned(*info)) return Error{Status::InvalidArgument};
    set_pinned(*info, false);
    put_page_and_type(mfn);
    return {};
}

// A store into a frame that is not a page table: it takes the writable type for the store, so
// a frame last used as a table has stale translations flushed first. [pv-abi.md §3.9]
Result<void> PageTypeEngine::store_data_entry(Mfn table, unsigned index, u64 value) {
    HV_TRY(get_type(table, PageType::Writable));
    write(table, index, value);
    put_type(table);
    return {};
}

Result<void> PageTypeEngine::update_entry(Mfn table, unsigned index, u64 value, UpdateMode mode) {
    const mm::FrameInfo* info = owned(table);
    if (info == nullptr || index >= mm::kEntriesPerTable) return Error{Status::InvalidArgument};
    const PageType type = current_type(*info);
    if (type == PageType::None || type == PageType::Writable) return store_data_entry(table, index, value);
    if (!is_page_table(type)) return Error{Status::InvalidArgument};  // SegDesc: update_descriptor only
    if (mode == UpdateMode::PreserveAd) value |= env_.read_entry(env_.context, table, index) & (kA | kD);
    return mod_entry(table, type, index, value);
}

Result<void> PageTypeEngine::mod_l1_entry(Mfn table, unsigned index, u64 value) {
    const mm::FrameInfo* info = owned(table);
    if (info == nullptr || current_type(*info) != PageType::L1 || index >= mm::kEntriesPerTable)
        return Error{Status::InvalidArgument};
    return mod_entry(table, PageType::L1, index, value);
}

// The entry of `level` translating `va`, in `table` (the table of that level on the walk).
[[gnu::always_inline]] inline u64 PageTypeEngine::walk_entry(Mfn table, u64 va, mm::Level level, bool loaded) const {
    if (loaded) return env_.read_loaded_entry(env_.context, va, level);
    return env_.read_entry(env_.context, table, mm::index_of(va, level));
}

// The L1 that maps `va` under `root`: L4e, L3e and L2e present, no superpage, and the frame
// reached is currently an L1 of this domain. [pv-abi.md §3.10 step 2]
// Every table on the way must be a frame of this domain: through a linear entry the walk can
// reach the L4's hypervisor slots, whose tables the engine must never read. `loaded`: read the
// entries through the loaded root's linear tables (root_loaded said yes), which map exactly the
// table each checked entry names.
Result<Mfn> PageTypeEngine::walk_to_l1(Mfn root, u64 va, bool loaded) const {
    Mfn table = root;
    const mm::FrameInfo* info = nullptr;
    for (mm::Level level = mm::Level::Pml4; level != mm::Level::Pt; level = mm::lower(level)) {
        const u64 entry = walk_entry(table, va, level, loaded);
        if (!present(entry) || (level != mm::Level::Pml4 && (entry & X86PteFormat::kPs) != 0))
            return Error{Status::InvalidArgument};
        table = entry_mfn(entry);
        info = owned(table);
        if (info == nullptr) return Error{Status::InvalidArgument};
    }
    if (current_type(*info) != PageType::L1) return Error{Status::InvalidArgument};
    return table;
}

Result<void> PageTypeEngine::update_va_mapping(Mfn root, Vaddr va, u64 value) {
    if (!guest_va(va)) return Error{Status::InvalidArgument};
    const mm::FrameInfo* info = owned(root);
    if (info == nullptr || current_type(*info) != PageType::L4) return Error{Status::InvalidArgument};
    const bool loaded = env_.root_loaded != nullptr && env_.root_loaded(env_.context, root);
    const Result<Mfn> l1 = walk_to_l1(root, va.raw(), loaded);
    if (!l1.ok()) return Error{l1.error()};
    const u64 old = walk_entry(l1.value(), va.raw(), mm::Level::Pt, loaded);
    return replace_entry(l1.value(), PageType::L1, mm::index_of(va.raw(), mm::Level::Pt), old, value);
}

Result<Mfn> PageTypeEngine::l1_for_va(Mfn root, Vaddr va) const {
    if (!guest_va(va)) return Error{Status::InvalidArgument};
    const mm::FrameInfo* info = owned(root);
    if (info == nullptr || current_type(*info) != PageType::L4) return Error{Status::InvalidArgument};
    return walk_to_l1(root, va.raw(), false);
}

bool PageTypeEngine::is_l1_table(Mfn table) const {
    const mm::FrameInfo* info = owned(table);
    return info != nullptr && current_type(*info) == PageType::L1;
}

bool PageTypeEngine::is_l4_table(Mfn table) const {
    const mm::FrameInfo* info = owned(table);
    return info != nullptr && current_type(*info) == PageType::L4;
}

}  // namespace hv::pv
