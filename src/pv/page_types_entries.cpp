// SPDX-License-Identifier: MIT
// PV page-type engine: the rules for one entry of each level, table validation and
// devalidation, and checked entry updates. [pv-abi.md §5.2-§5.5]
#include "hv/core/check.hpp"
#include "hv/pv/page_types.hpp"
#include "page_types_internal.hpp"

namespace hv::pv {

using namespace detail;  // NOLINT: the engine's own bit and field helpers

// Bits a present entry of `level` may use; anything else is -EINVAL. L1 entries may also use G,
// and PWT/PCD/PAT with cache privilege; L2-L4 never PS (no superpages), PWT, PCD or G.
u64 PageTypeEngine::allowed_bits(PageType level) const {
    if (level != PageType::L1) return kBaseAllowed;
    return kBaseAllowed | kG | (cache_attrs_ == CacheAttrs::Allowed ? kCacheBits : 0);
}

// Takes the references a present entry of `table` (of type `level`) needs. Not-present
// entries need none and are not checked.
Result<void> PageTypeEngine::get_entry(Mfn table, PageType level, u64 entry) {
    if (!present(entry)) return {};
    if ((entry & ~allowed_bits(level)) != 0) return Error{Status::InvalidArgument};
    if (level == PageType::L1) return get_l1_entry(entry);
    return get_table_entry(table, level, entry);
}

// An L1 entry maps RAM of this domain; RW needs the writable type. [pv-abi.md §5.3]
Result<void> PageTypeEngine::get_l1_entry(u64 entry) {
    const Mfn target = entry_mfn(entry);
    // The all-ones frame number is Xen's INVALID_MFN: a bad argument, not a device frame.
    constexpr u64 kInvalidMfn = (kAddr >> kPageShift);
    if (target.raw() == kInvalidMfn) return Error{Status::InvalidArgument};
    const mm::FrameInfo* info = env_.frame(env_.context, target);
    if (info == nullptr || info->owner == mm::FrameOwner::Unusable) return Error{Status::PermissionDenied};  // MMIO
    if (!get_ref(target).ok()) return Error{Status::Busy};  // another owner, or the count limit
    if ((entry & kRw) == 0) return {};
    if (get_type(target, PageType::Writable).ok()) return {};
    put_ref(target);
    return Error{Status::Busy};  // a page table or descriptor page
}

// An L2/L3/L4 entry points at a table of the next lower level, validating it if needed; when
// that frame cannot take that type, the entry may still be a linear one. [pv-abi.md §5.2]
Result<void> PageTypeEngine::get_table_entry(Mfn table, PageType level, u64 entry) {
    const Result<void> normal = get_page_and_type(entry_mfn(entry), lower(level));
    if (normal.ok() || normal.error() != Status::InvalidArgument) return normal;
    return get_linear_entry(table, level, entry);
}

// A read-only entry pointing at a table of its own level [pv-abi.md §5.5]: to the table itself
// without references; to another one only if that one is already validated, holds no linear
// entries itself, and `table` is not the target of linear entries (no chains).
Result<void> PageTypeEngine::get_linear_entry(Mfn table, PageType level, u64 entry) {
    if ((entry & kRw) != 0) return Error{Status::InvalidArgument};
    const Mfn target = entry_mfn(entry);
    if (target == table) return {};
    HV_TRY(get_ref(target));
    mm::FrameInfo& holder = tracked(table);
    mm::FrameInfo& used = tracked(target);
    const u32 count = type_count(used);
    const bool allowed = linear_count(holder) >= 0 && linear_count(holder) < kMaxLinearCount &&
                         linear_count(used) <= 0 && linear_count(used) > -kMaxLinearCount &&
                         stored_type(used) == level && count != 0 && count < kMaxTypeCount;
    if (!allowed) {
        put_ref(target);
        return Error{Status::InvalidArgument};
    }
    set_linear_count(holder, linear_count(holder) + 1);
    set_linear_count(used, linear_count(used) - 1);
    set_type_count(used, count + 1);
    return {};
}

void PageTypeEngine::put_linear_entry(Mfn table, Mfn target) {
    mm::FrameInfo& holder = tracked(table);
    mm::FrameInfo& used = tracked(target);
    HV_CHECK(linear_count(holder) > 0 && linear_count(used) < 0);
    set_linear_count(holder, linear_count(holder) - 1);
    set_linear_count(used, linear_count(used) + 1);
}

// Drops what get_entry took for `entry`, an entry that was accepted into `table`. A target of
// the same level as `table` was reached through a linear entry (a normal entry's target has the
// level below, and keeps it while referenced).
void PageTypeEngine::put_entry(Mfn table, PageType level, u64 entry) {
    if (!present(entry)) return;
    const Mfn target = entry_mfn(entry);
    if (level == PageType::L1) {
        // Only a grant mapping of another domain's frame gets one (install_foreign_l1_entry):
        // its references belong to the grant mapping, which drops them at the grant unmap.
        if (owned(target) == nullptr) return;
        if ((entry & kRw) != 0) put_type(target);
        put_ref(target);
        return;
    }
    if (target == table) return;  // linear self-map: holds nothing
    if (stored_type(tracked(target)) == level) put_linear_entry(table, target);
    put_type(target);
    put_ref(target);
}

// Checks every entry of a frame that just took type `type` (count 0 -> 1) and takes their
// references. On failure the references taken so far are dropped again and the frame's
// contents are untouched; on success the entries are adjusted and an L4 gets the hypervisor's
// slots. [pv-abi.md §5.2, §5.4]
Result<void> PageTypeEngine::validate(Mfn table, PageType type) {
    if (type == PageType::SegDesc) {
        const bool ok = env_.descriptors_ok != nullptr && env_.descriptors_ok(env_.context, table);
        return ok ? Result<void>{} : Error{Status::InvalidArgument};
    }
    for (unsigned i = 0; i < mm::kEntriesPerTable; ++i) {
        if (is_hypervisor_slot(type, i)) continue;
        const Result<void> got = get_entry(table, type, env_.read_entry(env_.context, table, i));
        if (!got.ok()) {
            unwind_entries(table, type, i);
            return got;
        }
    }
    commit_validated(table, type);
    return {};
}

// Drops the references of entries [0, end) of a table whose validation failed at `end`.
void PageTypeEngine::unwind_entries(Mfn table, PageType level, unsigned end) {
    for (unsigned i = 0; i < end; ++i)
        if (!is_hypervisor_slot(level, i)) put_entry(table, level, env_.read_entry(env_.context, table, i));
}

void PageTypeEngine::commit_validated(Mfn table, PageType level) {
    for (unsigned i = 0; i < mm::kEntriesPerTable; ++i) {
        if (is_hypervisor_slot(level, i)) {
            env_.write_entry(env_.context, table, i, env_.hypervisor_l4_entry(env_.context, table, i));
            continue;
        }
        const u64 entry = env_.read_entry(env_.context, table, i);
        const u64 adjusted = adjust_entry(level, entry);
        if (adjusted != entry) env_.write_entry(env_.context, table, i, adjusted);
    }
}

// The last type reference of a table went away: drop every reference its entries held, and
// take the hypervisor's entries out of an L4 (the frame may become guest-writable next).
// Descriptor pages hold no references.
void PageTypeEngine::devalidate(Mfn table, PageType type) {
    if (!is_page_table(type)) return;
    for (unsigned i = 0; i < mm::kEntriesPerTable; ++i) {
        if (is_hypervisor_slot(type, i)) {
            env_.write_entry(env_.context, table, i, 0);
            continue;
        }
        put_entry(table, type, env_.read_entry(env_.context, table, i));
    }
}

// Checked update of one entry of a table of type `level` (mmu_update, update_va_mapping): the
// new entry's references are taken first, then it is written, then the old entry's references
// are dropped, so a failure changes nothing. A change of only the fast-path bits of a present
// entry to the same frame skips re-validation. [pv-abi.md §3.9, §5.3]
Result<void> PageTypeEngine::mod_entry(Mfn table, PageType level, unsigned index, u64 value) {
    if (is_hypervisor_slot(level, index)) return Error{Status::InvalidArgument};
    return replace_entry(table, level, index, env_.read_entry(env_.context, table, index), value);
}

// mod_entry once the entry's current value `old` has been read (update_va_mapping may read it
// through the linear page tables).
Result<void> PageTypeEngine::replace_entry(Mfn table, PageType level, unsigned index, u64 old, u64 value) {
    if (present(value)) {
        if ((value & ~allowed_bits(level)) != 0) return Error{Status::InvalidArgument};
        if (present(old) && ((old ^ value) & ~kFastPathBits) == 0) {
            const u64 adjusted = adjust_entry(level, value);
            if (adjusted != old) write(table, index, adjusted);  // the same entry again: nothing to do
            return {};
        }
    }
    return exchange_entry(table, level, index, old, value);
}

// The checked path of replace_entry, out of line so that the fast path above needs no frame:
// the new entry's references first, then the store, then the old entry's references dropped.
[[gnu::noinline]] Result<void> PageTypeEngine::exchange_entry(Mfn table, PageType level, unsigned index, u64 old,
                                                              u64 value) {
    if (present(value)) HV_TRY(get_entry(table, level, value));
    write(table, index, adjust_entry(level, value));
    put_entry(table, level, old);
    return {};
}

// A grant mapping of another domain's frame: the caller holds its references (on the granter's
// counts), so only the old entry's go. [pv-abi.md §5.1]
Result<void> PageTypeEngine::install_foreign_l1_entry(Mfn table, unsigned index, u64 value) {
    const mm::FrameInfo* info = owned(table);
    if (info == nullptr || current_type(*info) != PageType::L1 || index >= mm::kEntriesPerTable)
        return Error{Status::InvalidArgument};
    if (!present(value) || (value & ~allowed_bits(PageType::L1)) != 0) return Error{Status::InvalidArgument};
    if (owned(entry_mfn(value)) != nullptr) return Error{Status::InvalidArgument};
    const u64 old = env_.read_entry(env_.context, table, index);
    write(table, index, adjust_entry(PageType::L1, value));
    put_entry(table, PageType::L1, old);
    return {};
}

}  // namespace hv::pv
