// SPDX-License-Identifier: MIT
// Grant tables: each domain's grant entries (frames shared with the guest), the active-entry pins,
// the maptrack handles of its grant mappings, and the grant_table_op operations.
// [pv-abi.md §3.14, §5.1; Xen ABI xen/include/public/grant_table.h]
//
// Frames. A domain has kGrantFrames shared frames and kGrantStatusFrames v2 status frames, all
// allocated by the domain builder (nothing is allocated at hypercall time). They are hypervisor
// state shared with the guest, owned the way Xen owns the xen-heap pages it shares:
//
//   state        FrameInfo owner / class / class_id     references              guest may map
//   held back    Hypervisor / PerDomain / domain id      none                    no (not its frame)
//   shared       Domain / Guest / domain id              1 general + 1 Writable  RW or RO
//
// The Writable type reference the table holds on a shared frame means the frame can never become
// a page table or a descriptor page: the hypervisor writes these frames, so their contents must
// stay plain data. Shared frames are 0..nr_frames-1: frame 0 from the start, setup_table grows
// the table (never shrinks it). Status frames are shared while the table is v2. Taking a frame
// back (v2 -> v1) is refused with -EBUSY while the guest holds any other reference (a mapping:
// xsa-255); it is zeroed when shared again.
//
// Version (set_version), a state machine on the whole table:
//
//   v1 --set_version(2)--> v2 --set_version(1)--> v1        (same version: no-op, 0)
//   refused: an entry >= 8 pinned (-EBUSY); v2 -> v1 also when a reserved entry names a frame
//   >= 2^32 or is transitive (-ERANGE), or a status frame is still mapped (-EBUSY).
//   A switch clears every entry except the reserved 0-7, which are translated.
//
// Mappings (map_grant_ref) of the domain's own grants. The references they hold [pv-abi.md §5.1]:
//
//   part      held by                          general ref   Writable type ref
//   host      the PTE, through the page-type   1             unless GNTMAP_readonly
//             engine (like any L1 entry)
//   device    the maptrack entry               1             unless GNTMAP_readonly
//
// A host mapping is an ordinary L1 entry installed with mod_l1_entry, so its references always
// match the PTE that exists: unmap checks the PTE still maps the granted frame with the P and RW
// bits the grant gave it (xsa-234), then clears it through the engine, which drops exactly what
// the install took (xsa-224). If the guest rewrites the PTE itself, the engine drops the
// references with it and the unmap is refused; nothing ever goes out of balance.
//
// Another domain's grants (the granter is not the mapper) take the same references, but on the
// granter's frame counts, through the granter's engine, and all held by the mapping itself
// (maptrack): the host PTE in the mapper's L1 holds none (PageTypeEngine::
// install_foreign_l1_entry; the mapper's engine skips such entries), so the mapper's engine
// never touches another domain's counts. The entry's pin (ActiveGrant) and GTF_reading/writing
// are in the granter's table; the maptrack entry (handle) is the mapper's and names the granter.
//
//   part      general ref (granter's frame)   Writable type ref          held by
//   host      1                               unless GNTMAP_readonly     the maptrack entry
//   device    1                               unless GNTMAP_readonly     the maptrack entry
//
// While a grant is mapped the granter cannot take it back: its pin makes set_version -EBUSY and
// swap eagain, and the frame stays referenced whatever the granter writes into the entry (a
// guest ending access first checks GTF_reading/GTF_writing, which stay set until the unmap). A
// writable mapping's type reference keeps the frame from becoming a page table.
// Domains are never destroyed (domain.hpp: a crashed or shut-down domain keeps its memory), so a
// mapping outlives its granter's or mapper's end safely: nothing is freed, nothing is torn down.
// (Xen tears the mapper's mappings down at destruction and the granter's frames stay allocated
// until then; with no destruction, Isola's end state is the same as before it.)
// Domain 0, which Isola does not run, exists for grant purposes only as a domain that grants
// nothing: a v1 table of one frame of invalid entries (map: general_error, or bad_gntref past
// 512 refs; setup/query: permission_denied). That is the foreign domain 0 of xsa-316.
//
// Concurrency: grant_table_op holds the mm_lock of the calling domain, and for map/unmap of
// another domain's grant also the granter's (both taken in domain-id order,
// hypercall_grant_table.cpp); a domain's engine, grant entries' pins and maptrack are only
// changed under its lock. The guest writes the shared frames concurrently, so every hypervisor
// update of an entry is one atomic operation (cmpxchg, and, or) on its 8-byte word.
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/result.hpp"
#include "hv/core/types.hpp"
#include "hv/mm/frame_table.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {

struct Domain;
struct Vcpu;

inline constexpr unsigned kGrantFrames = 4;  // max_nr_frames (Xen's default is 64)
inline constexpr unsigned kGrantEntriesPerFrameV1 = 512;
inline constexpr unsigned kGrantEntriesPerFrameV2 = 256;
inline constexpr unsigned kGrantStatusPerFrame = 2048;
// Status frames for kGrantFrames v2 frames: one 16-bit status per 16-byte entry.
inline constexpr unsigned kGrantStatusFrames =
    (kGrantFrames * kGrantEntriesPerFrameV2 + kGrantStatusPerFrame - 1) / kGrantStatusPerFrame;
inline constexpr unsigned kMaxGrantEntries = kGrantFrames * kGrantEntriesPerFrameV1;
inline constexpr unsigned kMaptrackEntries = 256;  // grant mappings a domain may hold at once
inline constexpr u16 kGrantStandInDomain = 0;      // the domain that grants nothing (see above)

// Xen's active grant entry: four 8-bit pin counters, and the frame and mapping domain fixed by the
// first pin. Counters at 0x80 refuse further pins (Xen's overflow guard).
struct ActiveGrant {
    u32 pin;    // host writable | host readonly << 8 | device writable << 16 | device readonly << 24
    u16 domid;  // the mapping domain
    u16 pad;
    u64 mfn;
};
inline constexpr u32 kPinHostWrite = 1u << 0;
inline constexpr u32 kPinHostRead = 1u << 8;
inline constexpr u32 kPinDeviceWrite = 1u << 16;
inline constexpr u32 kPinDeviceRead = 1u << 24;
inline constexpr u32 kPinWriteMask = 0x00ff00ff;
inline constexpr u32 kPinOverflowMask = 0x80808080;

// One maptrack entry: a handle of a grant mapping this domain made.
struct GrantMapping {
    u32 ref;
    u16 flags;  // the GNTMAP_device_map/host_map/readonly/contains_pte parts still mapped; 0: free
    u16 domid;  // the granting domain
};

// The table's bookkeeping, in pv::Domain. Its pins (ActiveGrant, by ref) and maptrack
// (GrantMapping, by handle) say which grants the guest mapped from whom and handed to whom: they
// are in the domain's private area (domain_private.hpp), not in the image.
struct GrantTable {
    u8 version;  // 1 or 2 (0: not built)
    u8 nr_frames;
    u8 nr_status_frames;
    u8 pad;
    u32 next_handle;  // where the search for a free maptrack entry starts (round robin, as Xen)
    Mfn frames[kGrantFrames];
    Mfn status_frames[kGrantStatusFrames];
};

// Builder: takes the frames (owner Hypervisor / PerDomain / domain id, from the domain pool),
// makes the table v1 and shares frame 0. Precondition: the frames belong to nobody else.
void grant_table_init(Domain& domain, const Mfn (&frames)[kGrantFrames], const Mfn (&status)[kGrantStatusFrames]);

// ---- Operations for the guest running `vcpu` (hypercall_grant_table.cpp copies the structures
// in and out). Per-op results are GNTST_* statuses; `long` results are 0 or a negated errno. ----

// GNTTABOP_map_grant_ref: fills op.handle and op.dev_bus_addr on success. The caller holds the
// mm_locks of vcpu's domain and of find_domain(op.dom).
i16 grant_map(Vcpu& vcpu, xen::GnttabMapGrantRef& op);
// The granting domain of mapping `handle` (the vCPU's own domain when the handle is not in use):
// whose lock an unmap needs besides the caller's. Read without locks; recheck under them.
Domain* grant_handle_domain(Vcpu& vcpu, u32 handle);
// GNTTABOP_unmap_grant_ref (new_addr 0) and GNTTABOP_unmap_and_replace (dev_bus_addr 0). The
// caller holds the mm_locks of vcpu's domain and of grant_handle_domain(vcpu, handle).
i16 grant_unmap(Vcpu& vcpu, u64 host_addr, u64 dev_bus_addr, u64 new_addr, u32 handle);
// GNTTABOP_setup_table without the frame list: looks the domain up, grows its table to
// nr_frames. On GNTST_okay *frames points at the table's frame numbers.
i16 grant_setup_table(Vcpu& vcpu, u16 dom, u32 nr_frames, const Mfn** frames);
// GNTTABOP_get_status_frames likewise (v2 only has status frames).
i16 grant_get_status_frames(Vcpu& vcpu, u16 dom, u32 nr_frames, const Mfn** frames);
i16 grant_query_size(Vcpu& vcpu, xen::GnttabQuerySize& op);
long grant_set_version(Vcpu& vcpu, u32 version);
u32 grant_version(const Vcpu& vcpu);
long grant_get_version(Vcpu& vcpu, xen::GnttabGetVersion& op);
i16 grant_swap(Vcpu& vcpu, u32 ref_a, u32 ref_b);
// GNTTABOP_copy of one op (grant_copy.cpp). The caller holds the mm_locks of vcpu's domain and
// of grant_copy_domain() of the source and destination domids (those that exist).
i16 grant_copy(Vcpu& vcpu, const xen::GnttabCopy& op);
// The domain a copy side names: DOMID_SELF is the caller's; nullptr when there is none.
Domain* grant_copy_domain(Vcpu& vcpu, u16 domid);
// GNTTABOP_transfer: Isola never moves frames between domains; each op fails after the checks.
i16 grant_transfer(Vcpu& vcpu, const xen::GnttabTransfer& op);
// GNTTABOP_cache_flush of one op, as Xen 4.17 answers it on x86. `cur_ref` is the continuation
// argument from cmd's upper bits.
long grant_cache_flush(Vcpu& vcpu, const xen::GnttabCacheFlush& op, u32 cur_ref);

// Whether `granter` has an entry pinned by domain `mapper` for frame `mfn`: the frame is
// legitimately mapped in `mapper`'s tables (the isolation audit's "granted" verdict). Racy
// unless the domains are stopped (the audit runs after every domain ended).
bool grant_frame_mapped_by(const Domain& granter, Mfn mfn, u16 mapper);

// ---- Platform (arch/x86_64/src/pv_grant.cpp; host tests: tests/support/fake_grant_frames.cpp) ----

// One atomic operation on the aligned 8-byte word `index` (< 512) of a grant or status frame,
// which the guest may be writing at the same time. cmpxchg updates `expected` on failure.
[[nodiscard]] bool grant_word_cmpxchg(Mfn frame, unsigned index, u64& expected, u64 desired);
void grant_word_and(Mfn frame, unsigned index, u64 mask);
void grant_word_or(Mfn frame, unsigned index, u64 bits);
void grant_frame_zero(Mfn frame);
// The frame-table entry of `mfn`, or nullptr when `mfn` is not a frame of this machine.
mm::FrameInfo* grant_frame_info(Mfn mfn);

}  // namespace hv::pv
