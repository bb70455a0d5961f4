// SPDX-License-Identifier: MIT
// Grant tables (see grant_table.hpp): entry access, pins, maptrack, mappings through the
// page-type engine, versions and frame sharing. [pv-abi.md §3.14, §5.1]
#include "hv/pv/grant_table.hpp"

#include "arch/pte.hpp"
#include "hv/core/check.hpp"
#include "hv/mm/level.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/domain_private.hpp"
#include "hv/pv/page_types.hpp"
#include "grant_table_internal.hpp"

namespace hv::pv {
namespace {

using arch::X86PteFormat;

constexpr u16 kAccessFlags = xen::kGtfReading | xen::kGtfWriting;
constexpr u16 kTypeAndSubPage = xen::kGtfTypeMask | xen::kGtfSubPage;
constexpr u32 kMapParts = xen::kGnttabMapDeviceMap | xen::kGnttabMapHostMap;
constexpr u32 kKeptMapFlags = kMapParts | xen::kGnttabMapReadonly | xen::kGnttabMapContainsPte;
constexpr unsigned kCmpxchgTries = 5;  // Xen's bound against a guest rewriting an entry under us
constexpr unsigned kStandInEntries = kGrantEntriesPerFrameV1;  // the stand-in domain 0: one v1 frame

// ---- Entry layout: where entry `ref` lives. ----
// v1  word ref%512 of frame ref/512: flags | domid << 16 | frame << 32
// v2  words 2*(ref%256) and +1 of frame ref/256: flags | domid << 16 | (rest of the union) << 32,
//     then full_page.frame; GTF_reading/GTF_writing in u16 ref%4 of word (ref%2048)/4 of status
//     frame ref/2048.

struct Slot {
    Mfn frame;
    unsigned index;  // of the 8-byte word
};

unsigned entry_count(const GrantTable& table) {
    return table.nr_frames * (table.version == 2 ? kGrantEntriesPerFrameV2 : kGrantEntriesPerFrameV1);
}

Slot header_slot(const GrantTable& table, u32 ref) {
    if (table.version == 2) return {table.frames[ref / kGrantEntriesPerFrameV2], (ref % kGrantEntriesPerFrameV2) * 2};
    return {table.frames[ref / kGrantEntriesPerFrameV1], ref % kGrantEntriesPerFrameV1};
}

Slot frame_slot_v2(const GrantTable& table, u32 ref) {
    const Slot header = header_slot(table, ref);
    return {header.frame, header.index + 1};
}

// The word holding the entry's access flags (v1: its header; v2: its status) and their shift.
Slot access_slot(const GrantTable& table, u32 ref, unsigned& shift) {
    if (table.version != 2) {
        shift = 0;
        return header_slot(table, ref);
    }
    shift = 16 * (ref % 4);
    return {table.status_frames[ref / kGrantStatusPerFrame], (ref % kGrantStatusPerFrame) / 4};
}

u16 header_flags(u64 word) { return static_cast<u16>(word); }
u16 header_domid(u64 word) { return static_cast<u16>(word >> 16); }

u16 access_flags(const GrantTable& table, u32 ref) {
    unsigned shift = 0;
    const Slot slot = access_slot(table, ref, shift);
    return static_cast<u16>(read_frame_word(slot.frame, slot.index) >> shift) & kAccessFlags;
}

void clear_access(const GrantTable& table, u32 ref, u16 bits) {
    unsigned shift = 0;
    const Slot slot = access_slot(table, ref, shift);
    grant_word_and(slot.frame, slot.index, ~(u64{bits} << shift));
}

void set_access(const GrantTable& table, u32 ref, u16 bits) {
    unsigned shift = 0;
    const Slot slot = access_slot(table, ref, shift);
    grant_word_or(slot.frame, slot.index, u64{bits} << shift);
}

// What an entry that was not pinned yet must say to let `mapper` map it: permit_access (not a
// sub-page grant), granted to `mapper`; writable only if not GTF_readonly.
bool entry_allows(u16 flags, u16 domid, u16 mapper, bool readonly, bool unpinned) {
    if (unpinned && ((flags & kTypeAndSubPage) != xen::kGtfPermitAccess || domid != mapper)) return false;
    return readonly || (flags & xen::kGtfReadonly) == 0;
}

// Pins entry `ref` for `mapper`: checks it (type and domid only if it was not pinned; a pinned
// one was checked by its first pin) and sets GTF_reading, plus GTF_writing unless `readonly`.
// v1: check and set in one cmpxchg of the entry, so a concurrent guest update either comes
// first and is checked, or fails the cmpxchg (retried a bounded number of times, as Xen).
// v2: set the status, then re-check the header, undoing on failure (Xen's order).
// Returns false (nothing set) when the entry refuses; `frame` is the entry's frame number.
bool pin_entry(const GrantTable& table, u32 ref, u16 mapper, bool readonly, bool unpinned, u64& frame) {
    const u16 bits = readonly ? xen::kGtfReading : kAccessFlags;
    const Slot header = header_slot(table, ref);
    u64 word = read_frame_word(header.frame, header.index);
    if (table.version != 2) {
        for (unsigned attempt = 0; attempt < kCmpxchgTries; ++attempt) {
            if (!entry_allows(header_flags(word), header_domid(word), mapper, readonly, unpinned)) return false;
            if (grant_word_cmpxchg(header.frame, header.index, word, word | bits)) {
                frame = word >> 32;
                return true;
            }
        }
        return false;  // the guest keeps changing the entry
    }
    if (!entry_allows(header_flags(word), header_domid(word), mapper, readonly, unpinned)) return false;
    set_access(table, ref, bits);  // a locked operation: the re-read below comes after it
    word = read_frame_word(header.frame, header.index);
    if (!entry_allows(header_flags(word), header_domid(word), mapper, readonly, unpinned)) {
        clear_access(table, ref, unpinned ? kAccessFlags : xen::kGtfWriting);
        return false;
    }
    const Slot frame_word = frame_slot_v2(table, ref);
    frame = read_frame_word(frame_word.frame, frame_word.index);
    return true;
}

// After a pin change of an entry: GTF_writing goes when no writable pin is left (and the
// change concerned a writable one), GTF_reading when no pin is left.
void drop_access(const GrantTable& table, u32 ref, u32 pin, bool readonly) {
    u16 bits = 0;
    if (!readonly && (pin & kPinWriteMask) == 0) bits |= xen::kGtfWriting;
    if (pin == 0) bits |= xen::kGtfReading;
    if (bits != 0) clear_access(table, ref, bits);
}

u32 pin_increment(u32 flags) {
    const bool readonly = (flags & xen::kGnttabMapReadonly) != 0;
    u32 increment = 0;
    if (flags & xen::kGnttabMapDeviceMap) increment += readonly ? kPinDeviceRead : kPinDeviceWrite;
    if (flags & xen::kGnttabMapHostMap) increment += readonly ? kPinHostRead : kPinHostWrite;
    return increment;
}

// ---- Frames: sharing with the guest and taking back ----

unsigned status_frames_for(unsigned grant_frames) {
    return (grant_frames * kGrantEntriesPerFrameV2 + kGrantStatusPerFrame - 1) / kGrantStatusPerFrame;
}

// Gives a held-back frame to the domain, zeroed, with the table's Writable type reference.
void share_frame(Domain& domain, Mfn mfn) {
    mm::FrameInfo* info = grant_frame_info(mfn);
    HV_CHECK(info != nullptr && info->owner == mm::FrameOwner::Hypervisor && info->class_id == domain.id &&
             info->frame_class == mm::FrameClass::PerDomain && info->ref_count == 0);
    grant_frame_zero(mfn);  // before the guest can see it
    info->owner = mm::FrameOwner::Domain;
    info->frame_class = mm::FrameClass::Guest;
    PageTypeEngine engine = domain_engine(domain);
    HV_CHECK(engine.get_page_and_type(mfn, PageType::Writable).ok());  // a fresh frame takes it
}

// Whether only the table's own reference is left on a shared frame (no mapping of the guest).
bool only_table_holds(Mfn mfn) {
    const mm::FrameInfo* info = grant_frame_info(mfn);
    HV_CHECK(info != nullptr && info->owner == mm::FrameOwner::Domain);
    return info->ref_count == 1;
}

void take_back_frame(Domain& domain, Mfn mfn) {
    PageTypeEngine engine = domain_engine(domain);
    engine.put_page_and_type(mfn);
    mm::FrameInfo* info = grant_frame_info(mfn);
    info->owner = mm::FrameOwner::Hypervisor;
    info->frame_class = mm::FrameClass::PerDomain;
}

// Grows the shared frames to `nr_frames` (never shrinks) and, in v2, the status frames to match.
void grow(Domain& domain, unsigned nr_frames) {
    GrantTable& table = domain.grants;
    for (; table.nr_frames < nr_frames; ++table.nr_frames) share_frame(domain, table.frames[table.nr_frames]);
    if (table.version != 2) return;
    for (; table.nr_status_frames < status_frames_for(table.nr_frames); ++table.nr_status_frames)
        share_frame(domain, table.status_frames[table.nr_status_frames]);
}

// ---- Domains ----

// The domain whose table a setup/query operation names: DOMID_SELF or our own id; another
// existing domain (or the stand-in domain 0) is not ours to touch.
i16 own_domain(Vcpu& vcpu, u16 dom, Domain*& domain) {
    domain = dom == xen::kDomidSelf ? vcpu.domain : find_domain(dom);
    if (domain == nullptr) return dom == kGrantStandInDomain ? xen::kGntstPermissionDenied : xen::kGntstBadDomain;
    if (domain != vcpu.domain) return xen::kGntstPermissionDenied;
    return xen::kGntstOkay;
}

// A free maptrack entry, searched round robin from where the last search ended (Xen hands out
// handles in order and reuses freed ones late, too). False when all are in use.
bool free_handle(GrantTable& table, DomainPrivateView& area, u32& handle) {
    for (u32 i = 0; i < kMaptrackEntries; ++i) {
        const u32 candidate = (table.next_handle + i) % kMaptrackEntries;
        if (area.maptrack(candidate).flags == 0) {
            handle = candidate;
            table.next_handle = (candidate + 1) % kMaptrackEntries;
            return true;
        }
    }
    return false;
}

// ---- Host mappings: PTEs through the page-type engine ----

// The L1 entry a host mapping names: the machine address of the entry (GNTMAP_contains_pte: in
// an L1 of this domain, 8-byte aligned: xsa-227) or a linear address under the kernel root
// (outside the hypervisor range, with its L1 present).
Result<Slot> host_slot(Vcpu& vcpu, const PageTypeEngine& engine, u64 address, bool contains_pte) {
    if (contains_pte) {
        if (!is_aligned(address, sizeof(u64))) return Error{Status::InvalidArgument};
        const Mfn table = Maddr(address).mfn();
        if (!engine.is_l1_table(table)) return Error{Status::InvalidArgument};
        return Slot{table, static_cast<unsigned>((address & (kPageSize - 1)) / sizeof(u64))};
    }
    const Result<Mfn> l1 = engine.l1_for_va(Maddr(vcpu.kernel_cr3).mfn(), Vaddr(address));
    if (!l1.ok()) return Error{l1.error()};
    return Slot{l1.value(), mm::index_of(address, mm::Level::Pt)};
}

// The PTE of a grant host mapping (Xen's grant_to_pte_flags): P|A|D|NX, RW unless readonly, US
// for application_map, GNTMAP bits 16-18 as AVAIL bits 9-11. The engine adds the usual
// supervisor tag when US is clear.
u64 grant_pte(Mfn mfn, u32 flags) {
    u64 pte = mfn.maddr().raw() | X86PteFormat::kP | X86PteFormat::kA | X86PteFormat::kD | X86PteFormat::kXd;
    if ((flags & xen::kGnttabMapReadonly) == 0) pte |= X86PteFormat::kRw;
    if (flags & xen::kGnttabMapApplicationMap) pte |= X86PteFormat::kUs;
    pte |= u64{(flags >> xen::kGnttabMapGuestAvailShift) & 7} << 9;
    return pte;
}

Result<void> install_host_pte(Vcpu& vcpu, PageTypeEngine& engine, u64 host_addr, u32 flags, Mfn mfn) {
    const Result<Slot> slot = host_slot(vcpu, engine, host_addr, (flags & xen::kGnttabMapContainsPte) != 0);
    if (!slot.ok()) return Error{slot.error()};
    return engine.mod_l1_entry(slot.value().frame, slot.value().index, grant_pte(mfn, flags));
}

// Whether `pte` is present and maps a frame that is not one of the engine's domain (then it can
// only be a grant mapping of another domain's frame).
bool is_foreign_pte(const PageTypeEngine& engine, u64 pte) {
    if ((pte & X86PteFormat::kP) == 0) return false;
    const mm::FrameInfo* info = grant_frame_info(Mfn((pte & X86PteFormat::kAddrMask) >> kPageShift));
    return info != nullptr && !(info->owner == mm::FrameOwner::Domain && info->frame_class == mm::FrameClass::Guest &&
                                info->class_id == engine.domain());
}

// Drops `parts` sets of a foreign mapping's references on the granter's frame.
void put_foreign_parts(PageTypeEngine& owner, Mfn mfn, unsigned parts, bool readonly) {
    for (unsigned i = 0; i < parts; ++i) {
        if (!readonly) owner.put_page_type(mfn);
        owner.put_page(mfn);
    }
}

// Removes a host mapping (Xen's replace_grant_pv_mapping). With `new_addr` the PTE mapping
// new_addr is "stolen" first (cleared, its references dropped) and then takes the grant PTE's
// place; like Xen, a later failure leaves new_addr cleared. The PTE at `host_addr` must map the
// granted frame with the grant's P and RW bits (xsa-234); it is replaced through the engine, which
// drops exactly the references it held.
Result<void> remove_host_pte(Vcpu& vcpu, PageTypeEngine& engine, u64 host_addr, u64 new_addr, u16 flags, Mfn mfn) {
    const bool contains_pte = (flags & xen::kGnttabMapContainsPte) != 0;
    u64 replacement = 0;
    if (new_addr != 0) {
        if (contains_pte) return Error{Status::InvalidArgument};  // replacing needs linear addresses
        const Result<Slot> source = host_slot(vcpu, engine, new_addr, false);
        if (!source.ok()) return Error{source.error()};
        replacement = read_frame_word(source.value().frame, source.value().index);
        HV_TRY(engine.mod_l1_entry(source.value().frame, source.value().index, 0));  // clearing cannot fail
    }
    const Result<Slot> target = host_slot(vcpu, engine, host_addr, contains_pte);
    if (!target.ok()) return Error{target.error()};
    const u64 current = read_frame_word(target.value().frame, target.value().index);
    const u64 expected = X86PteFormat::kP | ((flags & xen::kGnttabMapReadonly) ? 0 : X86PteFormat::kRw);
    const bool maps_grant = Mfn((current & X86PteFormat::kAddrMask) >> kPageShift) == mfn &&
                            ((current ^ expected) & (X86PteFormat::kP | X86PteFormat::kRw)) == 0;
    if (!maps_grant) return Error{Status::InvalidArgument};
    // The stolen PTE may itself be a grant mapping of another domain's frame: it moves, and its
    // references stay with its own grant mapping.
    if (is_foreign_pte(engine, replacement))
        return engine.install_foreign_l1_entry(target.value().frame, target.value().index, replacement);
    return engine.mod_l1_entry(target.value().frame, target.value().index, replacement);
}

// ---- Mappings of another domain's frame ----
//
// The granter's references (general, and Writable unless readonly, one set per part) are taken
// through the granter's engine and held by the mapping until the grant unmap, also for the host
// part: its PTE holds nothing (install_foreign_l1_entry), so whatever the mapper does to that
// PTE (rewrite it, free its L1) the frame stays referenced and typed as granted, and Xen's
// unmap check then fails (general_error) as it does for an implicitly unmapped grant.

// Takes the granter's references for the parts in `flags`, then installs the host PTE.
i16 map_foreign(Vcpu& vcpu, Domain& granter, const xen::GnttabMapGrantRef& op, Mfn mfn, bool unpinned) {
    PageTypeEngine owner = domain_engine(granter);
    const bool readonly = (op.flags & xen::kGnttabMapReadonly) != 0;
    const unsigned parts = ((op.flags & xen::kGnttabMapDeviceMap) ? 1 : 0) + ((op.flags & xen::kGnttabMapHostMap) ? 1 : 0);
    unsigned taken = 0;
    i16 status = xen::kGntstOkay;
    for (; taken < parts && status == xen::kGntstOkay; ++taken) {
        if (!owner.get_page(mfn).ok()) {
            // The first reference proves the frame is the granter's RAM (as for own grants).
            status = taken == 0 && unpinned ? xen::kGntstBadPage : xen::kGntstGeneralError;
            break;
        }
        if (!readonly && !owner.get_page_type(mfn, PageType::Writable).ok()) {
            owner.put_page(mfn);
            status = xen::kGntstGeneralError;
            break;
        }
    }
    if (status == xen::kGntstOkay && (op.flags & xen::kGnttabMapHostMap)) {
        PageTypeEngine engine = domain_engine(*vcpu.domain);
        const Result<Slot> slot = host_slot(vcpu, engine, op.host_addr, (op.flags & xen::kGnttabMapContainsPte) != 0);
        const bool installed =
            slot.ok() &&
            engine.install_foreign_l1_entry(slot.value().frame, slot.value().index, grant_pte(mfn, op.flags)).ok();
        if (!installed) status = xen::kGntstGeneralError;
    }
    if (status != xen::kGntstOkay) put_foreign_parts(owner, mfn, taken, readonly);
    return status;
}


// The references of a mapping of one of our own frames: one general reference proves the frame
// is our RAM and becomes the device part's; the host PTE goes through the engine.
i16 map_own(Vcpu& vcpu, const xen::GnttabMapGrantRef& op, Mfn mfn, bool unpinned) {
    PageTypeEngine engine = domain_engine(*vcpu.domain);
    if (!engine.get_page(mfn).ok()) return unpinned ? xen::kGntstBadPage : xen::kGntstGeneralError;
    const bool device = (op.flags & xen::kGnttabMapDeviceMap) != 0;
    const bool device_typed = device && (op.flags & xen::kGnttabMapReadonly) == 0;
    bool failed = device_typed && !engine.get_page_type(mfn, PageType::Writable).ok();
    if (!failed && (op.flags & xen::kGnttabMapHostMap)) {
        failed = !install_host_pte(vcpu, engine, op.host_addr, op.flags, mfn).ok();
        if (failed && device_typed) engine.put_page_type(mfn);
    }
    if (failed || !device) engine.put_page(mfn);
    return failed ? xen::kGntstGeneralError : xen::kGntstOkay;
}

}  // namespace

void grant_table_init(Domain& domain, const Mfn (&frames)[kGrantFrames], const Mfn (&status)[kGrantStatusFrames]) {
    GrantTable& table = domain.grants;
    // Field by field: a GrantTable{} temporary would not fit on a hypervisor stack.
    table.nr_frames = table.nr_status_frames = 0;
    table.next_handle = 0;  // pins and maptrack: in the private area, zeroed when it was created
    table.version = 1;
    for (unsigned i = 0; i < kGrantFrames; ++i) table.frames[i] = frames[i];
    for (unsigned i = 0; i < kGrantStatusFrames; ++i) table.status_frames[i] = status[i];
    grow(domain, 1);  // Xen's INITIAL_NR_GRANT_FRAMES
}

// Xen's map_grant_ref, in its order: flags, domain, maptrack handle, ref, the entry (pin), the
// frame's owner, then the references: device part (writable type unless readonly), host part
// (a PTE). Own grants: the host PTE goes through the engine and holds its references; another
// domain's: see map_foreign. Any failure undoes everything and clears the access flags the pin
// set. The entry, its pin and the frame's counts are the granter's. [pv-abi.md §3.14 steps 1-6]
i16 grant_map(Vcpu& vcpu, xen::GnttabMapGrantRef& op) {
    Domain& self = *vcpu.domain;
    if ((op.flags & kMapParts) == 0) return xen::kGntstBadGntref;
    Domain* granter = find_domain(op.dom);  // an id: DOMID_SELF is not one (Xen: bad_domain)
    if (granter == nullptr && op.dom != kGrantStandInDomain) return xen::kGntstBadDomain;
    u32 handle = 0;
    DomainPrivateView mine(vcpu);
    if (!free_handle(self.grants, mine, handle)) return xen::kGntstNoDeviceSpace;
    if (granter == nullptr) return op.ref >= kStandInEntries ? xen::kGntstBadGntref : xen::kGntstGeneralError;
    GrantTable& table = granter->grants;
    if (op.ref >= entry_count(table)) return xen::kGntstBadGntref;

    DomainPrivateView theirs(*granter);  // the same area for our own grants
    ActiveGrant& active = theirs.grant_active(op.ref);
    const bool readonly = (op.flags & xen::kGnttabMapReadonly) != 0;
    const bool unpinned = active.pin == 0;
    if (!unpinned && (active.domid != self.id || (active.pin & kPinOverflowMask) != 0)) return xen::kGntstGeneralError;
    u64 frame = active.mfn;
    if (unpinned || (!readonly && (active.pin & kPinWriteMask) == 0)) {
        u64 entry_frame = 0;
        if (!pin_entry(table, op.ref, self.id, readonly, unpinned, entry_frame)) return xen::kGntstGeneralError;
        if (unpinned) frame = entry_frame;
    }
    const Mfn mfn(frame);
    const i16 status = granter == &self ? map_own(vcpu, op, mfn, unpinned) : map_foreign(vcpu, *granter, op, mfn, unpinned);
    if (status != xen::kGntstOkay) {
        drop_access(table, op.ref, active.pin, readonly);
        return status;
    }
    if (unpinned) {
        active.mfn = frame;
        active.domid = self.id;
    }
    active.pin += pin_increment(op.flags);
    mine.maptrack(handle) = GrantMapping{op.ref, static_cast<u16>(op.flags & kKeptMapFlags), granter->id};
    op.handle = handle;
    op.dev_bus_addr = mfn.maddr().raw();
    return xen::kGntstOkay;
}

Domain* grant_handle_domain(Vcpu& vcpu, u32 handle) {
    if (handle >= kMaptrackEntries) return vcpu.domain;
    DomainPrivateView mine(vcpu);
    const GrantMapping& mapping = mine.maptrack(handle);
    if (__atomic_load_n(&mapping.flags, __ATOMIC_RELAXED) == 0) return vcpu.domain;
    Domain* granter = find_domain(__atomic_load_n(&mapping.domid, __ATOMIC_RELAXED));
    return granter != nullptr ? granter : vcpu.domain;
}

// Xen's unmap_common + unmap_common_complete: the handle, the device address check, the host
// PTE (removed or replaced), the device part's references; the handle is freed once neither
// part is left, and the entry's access flags follow its pins. For another domain's frame the
// mapper's TLBs are flushed before the granter's references go: until then a stale translation
// could still write a frame the granter may make a page table next.
i16 grant_unmap(Vcpu& vcpu, u64 host_addr, u64 dev_bus_addr, u64 new_addr, u32 handle) {
    Domain& self = *vcpu.domain;
    if (handle >= kMaptrackEntries) return xen::kGntstBadHandle;
    DomainPrivateView mine(vcpu);
    GrantMapping& mapping = mine.maptrack(handle);
    if (mapping.flags == 0) return xen::kGntstBadHandle;
    Domain* granter = find_domain(mapping.domid);
    HV_CHECK(granter != nullptr && mapping.ref < entry_count(granter->grants));  // domains never go away
    GrantTable& table = granter->grants;
    DomainPrivateView theirs(*granter);
    ActiveGrant& active = theirs.grant_active(mapping.ref);
    const Mfn mfn(active.mfn);
    const bool readonly = (mapping.flags & xen::kGnttabMapReadonly) != 0;
    const bool device = (mapping.flags & xen::kGnttabMapDeviceMap) != 0;
    const bool foreign = granter != &self;
    if (dev_bus_addr != 0 && device && dev_bus_addr != mfn.maddr().raw()) return xen::kGntstBadDevAddr;

    PageTypeEngine engine = domain_engine(self);
    PageTypeEngine owner = domain_engine(*granter);
    u32 released = 0;
    if (host_addr != 0 && (mapping.flags & xen::kGnttabMapHostMap)) {
        if (!remove_host_pte(vcpu, engine, host_addr, new_addr, mapping.flags, mfn).ok())
            return xen::kGntstGeneralError;
        if (foreign) {
            flush_guest_tlb(vcpu);
            put_foreign_parts(owner, mfn, 1, readonly);
        }
        mapping.flags &= static_cast<u16>(~xen::kGnttabMapHostMap);
        released |= xen::kGnttabMapHostMap;
    }
    if (dev_bus_addr != 0 && device) {
        put_foreign_parts(owner, mfn, 1, readonly);  // own grants too: the device part's own refs
        mapping.flags &= static_cast<u16>(~xen::kGnttabMapDeviceMap);
        released |= xen::kGnttabMapDeviceMap;
    }
    if ((mapping.flags & kMapParts) == 0) mapping.flags = 0;
    if (released == 0) return xen::kGntstOkay;
    active.pin -= pin_increment(released | (readonly ? xen::kGnttabMapReadonly : 0));
    drop_access(table, mapping.ref, active.pin, readonly);
    return xen::kGntstOkay;
}

i16 grant_setup_table(Vcpu& vcpu, u16 dom, u32 nr_frames, const Mfn** frames) {
    Domain* domain = nullptr;
    const i16 found = own_domain(vcpu, dom, domain);
    if (found != xen::kGntstOkay) return found;
    if (nr_frames > kGrantFrames) return xen::kGntstGeneralError;
    grow(*domain, nr_frames);
    *frames = domain->grants.frames;
    return xen::kGntstOkay;
}

i16 grant_get_status_frames(Vcpu& vcpu, u16 dom, u32 nr_frames, const Mfn** frames) {
    Domain* domain = nullptr;
    const i16 found = own_domain(vcpu, dom, domain);
    if (found != xen::kGntstOkay) return found;
    if (nr_frames > domain->grants.nr_status_frames) return xen::kGntstGeneralError;  // v1 has none
    *frames = domain->grants.status_frames;
    return xen::kGntstOkay;
}

i16 grant_query_size(Vcpu& vcpu, xen::GnttabQuerySize& op) {
    Domain* domain = nullptr;
    const i16 found = own_domain(vcpu, op.dom, domain);
    if (found != xen::kGntstOkay) return found;
    op.nr_frames = domain->grants.nr_frames;
    op.max_nr_frames = kGrantFrames;
    return xen::kGntstOkay;
}

u32 grant_version(const Vcpu& vcpu) { return vcpu.domain->grants.version; }

long grant_get_version(Vcpu& vcpu, xen::GnttabGetVersion& op) {
    Domain* domain = nullptr;
    const i16 found = own_domain(vcpu, op.dom, domain);
    if (found == xen::kGntstBadDomain) return -xen::kESRCH;
    if (found != xen::kGntstOkay) return -xen::kEPERM;
    op.version = domain->grants.version;
    return 0;
}

// Xen's gnttab_set_version. The reserved entries 0-7 survive a switch, translated (their access
// flags move between the v1 header and the v2 status); everything else is cleared.
long grant_set_version(Vcpu& vcpu, u32 version) {
    Domain& self = *vcpu.domain;
    GrantTable& table = self.grants;
    if (version != 1 && version != 2) return -xen::kEINVAL;
    if (version == table.version) return 0;
    {
        DomainPrivateView area(vcpu);
        for (u32 ref = xen::kGnttabReservedEntries; ref < entry_count(table); ++ref)
            if (area.grant_active(ref).pin != 0) return -xen::kEBUSY;
    }

    xen::GrantEntryV1 reserved[xen::kGnttabReservedEntries] = {};
    for (u32 ref = 0; ref < xen::kGnttabReservedEntries; ++ref) {
        const Slot header = header_slot(table, ref);
        const u64 word = read_frame_word(header.frame, header.index);
        if (table.version == 1) {
            reserved[ref] = {header_flags(word), header_domid(word), static_cast<u32>(word >> 32)};
            continue;
        }
        const u16 type = header_flags(word) & xen::kGtfTypeMask;
        const Slot frame_word = frame_slot_v2(table, ref);
        const u64 frame = read_frame_word(frame_word.frame, frame_word.index);
        if ((type == xen::kGtfPermitAccess && (frame >> 32) != 0) || type == xen::kGtfTransitive) return -xen::kERANGE;
        if (type == xen::kGtfPermitAccess)
            reserved[ref] = {static_cast<u16>(header_flags(word) | access_flags(table, ref)), header_domid(word),
                             static_cast<u32>(frame)};
    }
    if (table.version == 2) {  // the status frames go back, unless the guest still maps one (xsa-255)
        for (unsigned i = 0; i < table.nr_status_frames; ++i)
            if (!only_table_holds(table.status_frames[i])) return -xen::kEBUSY;
        for (; table.nr_status_frames > 0; --table.nr_status_frames)
            take_back_frame(self, table.status_frames[table.nr_status_frames - 1]);
        flush_guest_tlb(vcpu);  // no stale mapping of them stays usable
    }

    for (unsigned i = 0; i < table.nr_frames; ++i) grant_frame_zero(table.frames[i]);
    table.version = static_cast<u8>(version);
    grow(self, table.nr_frames);  // v2: share status frames for the current size
    for (u32 ref = 0; ref < xen::kGnttabReservedEntries; ++ref) {
        const xen::GrantEntryV1& entry = reserved[ref];
        const Slot header = header_slot(table, ref);
        if (version == 1) {
            write_frame_word(header.frame, header.index, entry.flags | u64{entry.domid} << 16 | u64{entry.frame} << 32);
            continue;
        }
        write_frame_word(header.frame, header.index,
                         static_cast<u16>(entry.flags & ~kAccessFlags) | u64{entry.domid} << 16);
        const Slot frame_word = frame_slot_v2(table, ref);
        write_frame_word(frame_word.frame, frame_word.index, entry.frame);
        set_access(table, ref, entry.flags & kAccessFlags);
    }
    return 0;
}

// Xen's swap_grant_ref: both refs in range and not pinned (else eagain); swapping a ref with
// itself does nothing.
i16 grant_swap(Vcpu& vcpu, u32 ref_a, u32 ref_b) {
    GrantTable& table = vcpu.domain->grants;
    if (ref_a >= entry_count(table) || ref_b >= entry_count(table)) return xen::kGntstBadGntref;
    if (ref_a == ref_b) return xen::kGntstOkay;
    {
        DomainPrivateView area(vcpu);
        if (area.grant_active(ref_a).pin != 0 || area.grant_active(ref_b).pin != 0) return xen::kGntstEagain;
    }
    const auto swap_word = [](Slot a, Slot b) {
        const u64 word_a = read_frame_word(a.frame, a.index);
        write_frame_word(a.frame, a.index, read_frame_word(b.frame, b.index));
        write_frame_word(b.frame, b.index, word_a);
    };
    swap_word(header_slot(table, ref_a), header_slot(table, ref_b));
    if (table.version != 2) return xen::kGntstOkay;
    swap_word(frame_slot_v2(table, ref_a), frame_slot_v2(table, ref_b));
    const u16 status_a = access_flags(table, ref_a), status_b = access_flags(table, ref_b);
    clear_access(table, ref_a, kAccessFlags);
    clear_access(table, ref_b, kAccessFlags);
    set_access(table, ref_a, status_b);
    set_access(table, ref_b, status_a);
    return xen::kGntstOkay;
}

i16 grant_transfer(Vcpu& vcpu, const xen::GnttabTransfer& op) {
    PageTypeEngine engine = domain_engine(*vcpu.domain);
    if (!engine.get_page(Mfn(op.mfn)).ok()) return xen::kGntstBadPage;  // not a frame of ours
    engine.put_page(Mfn(op.mfn));
    return xen::kGntstGeneralError;  // frames never change owner
}

// Xen 4.17 on x86 (checked against it): argument checks, then the frame's owner: no domain
// (hypervisor, I/O or free frames) -EPERM, another domain -EINVAL (no grant mapping of it can
// exist here); on our own frames clean+invalidate and invalidate succeed, clean alone is
// -EOPNOTSUPP. The caches are coherent, so there is nothing to write back.
long grant_cache_flush(Vcpu& vcpu, const xen::GnttabCacheFlush& op, u32 cur_ref) {
    constexpr u32 kOps = xen::kGnttabCacheInval | xen::kGnttabCacheClean;
    if (op.offset >= kPageSize || op.length > kPageSize || op.offset + op.length > kPageSize || (op.op & ~kOps) != 0)
        return -xen::kEINVAL;
    if (op.length == 0 || op.op == 0) return cur_ref == 0 ? 0 : -xen::kEILSEQ;
    const mm::FrameInfo* info = grant_frame_info(Maddr(op.dev_bus_addr).mfn());
    if (info == nullptr) return -xen::kEINVAL;
    if (info->owner != mm::FrameOwner::Domain || info->frame_class != mm::FrameClass::Guest) return -xen::kEPERM;
    if (info->class_id != vcpu.domain->id) return -xen::kEINVAL;
    return op.op == xen::kGnttabCacheClean ? -xen::kEOPNOTSUPP : 0;
}

bool grant_frame_mapped_by(const Domain& granter, Mfn mfn, u16 mapper) {
    const GrantTable& table = granter.grants;
    DomainPrivateView area(granter);
    for (u32 ref = 0; ref < entry_count(table); ++ref) {
        const ActiveGrant& active = area.grant_active(ref);
        if (active.pin != 0 && active.domid == mapper && active.mfn == mfn.raw()) return true;
    }
    return false;
}

// Xen's acquire_grant_for_copy / release_grant_for_copy: a host pin (read or write) of entry
// `ref` of `granter` for `mapper` for the time of one copy, with the same checks as a map.
i16 grant_pin_for_copy(Domain& granter, u16 mapper, u32 ref, bool readonly, Mfn& mfn, bool& unpinned) {
    GrantTable& table = granter.grants;
    if (ref >= entry_count(table)) return xen::kGntstBadGntref;
    DomainPrivateView area(granter);
    ActiveGrant& active = area.grant_active(ref);
    unpinned = active.pin == 0;
    if (!unpinned && (active.domid != mapper || (active.pin & kPinOverflowMask) != 0)) return xen::kGntstGeneralError;
    u64 frame = active.mfn;
    if (unpinned || (!readonly && (active.pin & kPinWriteMask) == 0)) {
        u64 entry_frame = 0;
        if (!pin_entry(table, ref, mapper, readonly, unpinned, entry_frame)) return xen::kGntstGeneralError;
        if (unpinned) frame = entry_frame;
    }
    if (unpinned) {
        active.mfn = frame;
        active.domid = mapper;
    }
    active.pin += readonly ? kPinHostRead : kPinHostWrite;
    mfn = Mfn(frame);
    return xen::kGntstOkay;
}

void grant_unpin_for_copy(Domain& granter, u32 ref, bool readonly) {
    DomainPrivateView area(granter);
    ActiveGrant& active = area.grant_active(ref);
    active.pin -= readonly ? kPinHostRead : kPinHostWrite;
    drop_access(granter.grants, ref, active.pin, readonly);
}

}  // namespace hv::pv
