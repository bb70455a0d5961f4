// SPDX-License-Identifier: MIT
// GNTTABOP_copy: bytes from a source to a destination, each named by a grant reference of some
// domain (which must have granted it to the caller) or by a frame of the caller's own.
// [pv-abi.md §3.14; Xen 4.17 gnttab_copy_one]
//
// Per side, in Xen's order: the domain (DOMID_SELF or an id; missing: bad_domain), then a frame
// rather than a grant only of the caller's own domain (permission_denied); source first. Then
// each buffer is claimed, source first: a grant is pinned for the copy like a host mapping
// (read-only for the source, writable for the destination: the entry's checks, GTF_reading /
// GTF_writing set meanwhile) and its frame referenced on the granter's engine (not the
// granter's RAM: bad_page); a frame of the caller's referenced on its own engine (bad_page).
// The destination also takes the Writable type (a page table or descriptor page:
// general_error). Then offset + len past the page is bad_copy_arg. Everything taken is dropped
// again before the op returns, so a copy leaves no reference and no flag behind. The caller
// holds the locks of the caller's domain and both named domains.
#include "hv/pv/domain.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/grant_table.hpp"
#include "hv/pv/page_types.hpp"
#include "grant_table_internal.hpp"

namespace hv::pv {
namespace {

constexpr u16 kSourceGref = 1;
constexpr u16 kDestGref = 2;

// One side of a copy while claimed: what has to be given back.
struct CopyBuffer {
    Domain* domain = nullptr;
    Mfn mfn{};
    u32 ref = 0;
    bool pinned = false;
    bool referenced = false;
    bool typed = false;
};

i16 claim(Vcpu& vcpu, const xen::GnttabCopyPtr& side, bool gref, bool readonly, CopyBuffer& buffer) {
    bool unpinned = true;
    if (gref) {
        const i16 pinned =
            grant_pin_for_copy(*buffer.domain, vcpu.domain->id, side.u.ref, readonly, buffer.mfn, unpinned);
        if (pinned != xen::kGntstOkay) return pinned;
        buffer.pinned = true;
        buffer.ref = side.u.ref;
    } else {
        buffer.mfn = Mfn(side.u.gmfn);
    }
    PageTypeEngine engine = domain_engine(*buffer.domain);
    if (!engine.get_page(buffer.mfn).ok()) return unpinned ? xen::kGntstBadPage : xen::kGntstGeneralError;
    buffer.referenced = true;
    if (readonly) return xen::kGntstOkay;
    if (!engine.get_page_type(buffer.mfn, PageType::Writable).ok()) return xen::kGntstGeneralError;
    buffer.typed = true;
    return xen::kGntstOkay;
}

void release(CopyBuffer& buffer, bool readonly) {
    if (buffer.domain == nullptr) return;
    PageTypeEngine engine = domain_engine(*buffer.domain);
    if (buffer.typed) engine.put_page_type(buffer.mfn);
    if (buffer.referenced) engine.put_page(buffer.mfn);
    if (buffer.pinned) grant_unpin_for_copy(*buffer.domain, buffer.ref, readonly);
}

i16 copy_claimed(Vcpu& vcpu, const xen::GnttabCopy& op, CopyBuffer& source, CopyBuffer& dest) {
    i16 status = claim(vcpu, op.source, (op.flags & kSourceGref) != 0, true, source);
    if (status != xen::kGntstOkay) return status;
    status = claim(vcpu, op.dest, (op.flags & kDestGref) != 0, false, dest);
    if (status != xen::kGntstOkay) return status;
    if (u32{op.source.offset} + op.len > kPageSize || u32{op.dest.offset} + op.len > kPageSize)
        return xen::kGntstBadCopyArg;
    copy_frame_bytes(dest.mfn, op.dest.offset, source.mfn, op.source.offset, op.len);
    return xen::kGntstOkay;
}

}  // namespace

Domain* grant_copy_domain(Vcpu& vcpu, u16 domid) { return domid == xen::kDomidSelf ? vcpu.domain : find_domain(domid); }

i16 grant_copy(Vcpu& vcpu, const xen::GnttabCopy& op) {
    CopyBuffer source, dest;
    source.domain = grant_copy_domain(vcpu, op.source.domid);
    if (source.domain == nullptr) return xen::kGntstBadDomain;
    if (source.domain != vcpu.domain && (op.flags & kSourceGref) == 0) return xen::kGntstPermissionDenied;
    dest.domain = grant_copy_domain(vcpu, op.dest.domid);
    if (dest.domain == nullptr) return xen::kGntstBadDomain;
    if (dest.domain != vcpu.domain && (op.flags & kDestGref) == 0) return xen::kGntstPermissionDenied;
    const i16 status = copy_claimed(vcpu, op, source, dest);
    release(dest, false);
    release(source, true);
    return status;
}

}  // namespace hv::pv
