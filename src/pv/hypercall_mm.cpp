// SPDX-License-Identifier: MIT
// mmu_update, mmuext_op and update_va_mapping: thin wrappers around the page-type engine.
// [pv-abi.md §3.8-3.10]
#include "hv/core/addr.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/status_errno.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/hypercall.hpp"
#include "hv/pv/ldt.hpp"
#include "hv/pv/vcpu_registers.hpp"
#include "hv/pv/xen_abi.hpp"
#include "hv/sched/flush.hpp"
#include "hypercall_handlers.hpp"

namespace hv::pv {
namespace {

// mmu_update's and mmuext_op's list, count and `done` pointer. The count is a 32-bit value whose
// bit 31 (MMU_UPDATE_PREEMPTED) marks a continuation: at most 2^31-1 ops, so the u32 loop counter
// always ends, and `done` then already holds what the earlier rounds did (read back, as Xen; an
// unreadable one counts 0).
struct Batch {
    u64 list;
    u32 count;
    u64 done_va;
    u32 done_before;
};

Batch read_batch(Vcpu& vcpu, const HypercallArgs& args) {
    Batch batch{args.arg[0], static_cast<u32>(args.arg[1]), args.arg[2], 0};
    if ((batch.count & xen::kMmuUpdatePreempted) == 0) return batch;
    batch.count &= ~xen::kMmuUpdatePreempted;
    if (batch.done_va != 0 && !copy_from_guest(vcpu, &batch.done_before, batch.done_va, sizeof batch.done_before))
        batch.done_before = 0;
    return batch;
}

// Whether op `index` (> 0) of a batch should wait: every kOpsPerPreemptCheck ops, pending work.
bool should_preempt(Vcpu& vcpu, u32 index) {
    return index % kOpsPerPreemptCheck == 0 && index != 0 && hypercall_preempt_check(vcpu);
}

// The batch continues at op `index`: the list advanced past the ops done, the count left with
// MMU_UPDATE_PREEMPTED, `done` and the foreign domain as they were. [Xen do_mmu_update]
long continue_batch(Vcpu& vcpu, u64 number, const HypercallArgs& args, const Batch& batch, u32 index, usize op_size) {
    const HypercallArgs rest{{batch.list + u64{index} * op_size, (batch.count - index) | xen::kMmuUpdatePreempted,
                              batch.done_va, args.arg[3], args.arg[4]}};
    return create_continuation(vcpu, number, rest);
}

bool foreign_domain_ok(const Domain& domain, u64 foreign) {
    const u64 id = foreign & 0xffff;
    return id == xen::kDomidSelf || id == domain.id;
}

// Writes the done counter if the guest asked for one.
bool report_done(Vcpu& vcpu, u64 done_va, u32 done) {
    if (done_va == 0) return true;
    return copy_to_guest(vcpu, done_va, &done, sizeof done);
}

long update_table_entry(PageTypeEngine& engine, u64 command, Maddr address, u64 value) {
    const unsigned index = static_cast<unsigned>((address.raw() & (kPageSize - 1)) / 8);
    switch (command) {
        case xen::kMmuNormalPtUpdate:
        case xen::kMmuPtUpdateNoTranslate: return to_errno(engine.update_entry(address.mfn(), index, value));
        case xen::kMmuPtUpdatePreserveAd:
            return to_errno(engine.update_entry(address.mfn(), index, value, UpdateMode::PreserveAd));
        default: return -xen::kENOSYS;
    }
}

long mmu_update_one(PageTypeEngine& engine, const xen::MmuUpdate& request, bool& root_changed, bool& machphys_updated) {
    // The command is ptr[2:0] (Xen reads three bits: 4-7 are unknown commands, not updates).
    const u64 command = request.ptr & 7;
    const Maddr address(request.ptr & ~u64{7});
    if (command == xen::kMmuMachphysUpdate) {
        if (!engine.get_page(address.mfn()).ok()) return -xen::kEINVAL;  // not this domain's frame
        set_guest_m2p(address.mfn(), request.val);
        machphys_updated = true;
        engine.put_page(address.mfn());
        return 0;
    }
    const u64 writes = engine.entry_writes();
    const long result = update_table_entry(engine, command, address, request.val);
    // Only a stored L4 entry needs the loaded root tables resynced (ASI).
    if (engine.entry_writes() != writes && engine.is_l4_table(address.mfn())) root_changed = true;
    return result;
}

// Replaces the root in `slot` (kernel or user) by `mfn` (0 = none, user only).
long set_root(Vcpu& vcpu, PageTypeEngine& engine, u64& slot, u64 mfn_raw, bool allow_none) {
    const Mfn mfn(mfn_raw);
    if (mfn_raw == 0 && !allow_none) return -xen::kEINVAL;
    if (mfn_raw != 0) {
        const long result = to_errno(engine.get_page_and_type(mfn, PageType::L4));
        if (result != 0) return result;
        // Slot 256 (read-only M2P): a kernel root shows it unless m2p_strict already put it in
        // at validation; with m2p_strict a user root never shows it. [pv-abi.md §5.4]
        const bool strict = vm_assist_enabled(*vcpu.domain, xen::kVmAsstTypeM2pStrict);
        if (!allow_none && !strict) set_guest_m2p_slot(mfn, true);
        if (allow_none && strict) set_guest_m2p_slot(mfn, false);
    }
    // Load the new root first: dropping the last reference of the old one devalidates it, which
    // clears its hypervisor slots, and it must not be the loaded root then (Xen's order too).
    const u64 old = slot;
    slot = mfn.maddr().raw();
    reload_guest_root(vcpu);
    if (old == 0) return 0;
    // An idle pCPU may still have the old root loaded from this vCPU's last visit (lazy switch):
    // it must leave it before the old root can be devalidated.
    release_root_elsewhere(vcpu);
    engine.put_page_and_type(Maddr(old).mfn());
    return 0;
}

// The vCPU bitmap of a *_MULTI request or UVMF_MULTI: one guest word (vCPU ids 0-63).
bool read_vcpu_mask(Vcpu& vcpu, u64 address, u64& mask) {
    return copy_from_guest(vcpu, &mask, address, sizeof mask);
}

// TLB_FLUSH_* and INVLPG_*: LOCAL on this pCPU, MULTI on the vCPUs in the guest's bitmap, ALL on
// every vCPU of the domain; each reaches the other pCPUs before the hypercall returns.
long tlb_op(Vcpu& vcpu, const xen::MmuextOp& op, u32 flags, u64 va) {
    u64 mask = sched::kAllVcpus;
    const bool local = op.cmd == xen::kMmuextTlbFlushLocal || op.cmd == xen::kMmuextInvlpgLocal;
    const bool multi = op.cmd == xen::kMmuextTlbFlushMulti || op.cmd == xen::kMmuextInvlpgMulti;
    if (multi && !read_vcpu_mask(vcpu, op.arg2, mask)) return -xen::kEFAULT;
    flush_guest_tlb_mask(vcpu, flags, va, mask, local);
    return 0;
}

// MMUEXT_CLEAR_PAGE: the frame must be the domain's and able to take the writable type (not a
// page table or descriptor page in use); anything else is -EINVAL, as in Xen.
long clear_page(PageTypeEngine& engine, Mfn mfn) {
    if (!engine.get_page_and_type(mfn, PageType::Writable).ok()) return -xen::kEINVAL;
    clear_frame(mfn);
    engine.put_page_and_type(mfn);
    return 0;
}

// MMUEXT_COPY_PAGE: the source only needs to be the domain's (any type: reading is harmless),
// the destination as for CLEAR_PAGE. Either refused is -EINVAL, as in Xen.
long copy_page(PageTypeEngine& engine, Mfn destination, Mfn source) {
    if (!engine.get_page(source).ok()) return -xen::kEINVAL;
    if (!engine.get_page_and_type(destination, PageType::Writable).ok()) {
        engine.put_page(source);
        return -xen::kEINVAL;
    }
    copy_frame(destination, source);
    engine.put_page_and_type(destination);
    engine.put_page(source);
    return 0;
}

// Pins, roots and CLEAR/COPY_PAGE need the page-type engine; SET_LDT and the TLB ops do not build one.
long mmuext_page_op(Vcpu& vcpu, const xen::MmuextOp& op) {
    PageTypeEngine engine = domain_engine(*vcpu.domain);
    const Mfn mfn(op.arg1);
    switch (op.cmd) {
        case xen::kMmuextPinL1Table: return to_errno(engine.pin(mfn, PageType::L1));
        case xen::kMmuextPinL2Table: return to_errno(engine.pin(mfn, PageType::L2));
        case xen::kMmuextPinL3Table: return to_errno(engine.pin(mfn, PageType::L3));
        case xen::kMmuextPinL4Table: return to_errno(engine.pin(mfn, PageType::L4));
        case xen::kMmuextUnpinTable: return to_errno(engine.unpin(mfn));
        case xen::kMmuextNewBaseptr: return set_root(vcpu, engine, vcpu.kernel_cr3, op.arg1, false);
        case xen::kMmuextNewUserBaseptr: return set_root(vcpu, engine, vcpu.user_cr3, op.arg1, true);
        case xen::kMmuextClearPage: return clear_page(engine, mfn);
        case xen::kMmuextCopyPage: return copy_page(engine, mfn, Mfn(op.arg2));
        default: return -xen::kENOSYS;
    }
}

long mmuext_one(Vcpu& vcpu, const xen::MmuextOp& op) {
    switch (op.cmd) {
        case xen::kMmuextPinL1Table:
        case xen::kMmuextPinL2Table:
        case xen::kMmuextPinL3Table:
        case xen::kMmuextPinL4Table:
        case xen::kMmuextUnpinTable:
        case xen::kMmuextNewBaseptr:
        case xen::kMmuextNewUserBaseptr:
        case xen::kMmuextClearPage:
        case xen::kMmuextCopyPage: return mmuext_page_op(vcpu, op);
        case xen::kMmuextSetLdt: return set_ldt(vcpu, op.arg1, op.arg2);
        case xen::kMmuextTlbFlushLocal:
        case xen::kMmuextTlbFlushMulti:
        case xen::kMmuextTlbFlushAll: return tlb_op(vcpu, op, sched::kFlushTlb, 0);
        case xen::kMmuextInvlpgLocal:
        case xen::kMmuextInvlpgMulti:
        case xen::kMmuextInvlpgAll:
            // A non-canonical or hypervisor address is ignored silently, never flushed.
            if (!guest_range_ok(op.arg1, 1)) return 0;
            return tlb_op(vcpu, op, sched::kFlushVa, op.arg1);
        case xen::kMmuextFlushCache:
        case xen::kMmuextFlushCacheGlobal: return -xen::kEACCES;
        case xen::kMmuextMarkSuper:
        case xen::kMmuextUnmarkSuper: return -xen::kEOPNOTSUPP;
        default: return -xen::kENOSYS;
    }
}

}  // namespace

long mmu_update(Vcpu& vcpu, const HypercallArgs& args) {
    if (!foreign_domain_ok(*vcpu.domain, args.arg[3])) return -xen::kESRCH;
    const Batch batch = read_batch(vcpu, args);
    PageTypeEngine engine = domain_engine(*vcpu.domain);
    u32 done = 0;
    long result = 0;
    bool root_changed = false, machphys_updated = false;
    for (; done < batch.count; ++done) {
        if (should_preempt(vcpu, done)) {
            result = continue_batch(vcpu, xen::kMmuUpdate, args, batch, done, sizeof(xen::MmuUpdate));
            break;
        }
        xen::MmuUpdate request{};
        if (!copy_from_guest(vcpu, &request, batch.list + u64{done} * sizeof request, sizeof request)) {
            result = -xen::kEFAULT;
            break;
        }
        result = mmu_update_one(engine, request, root_changed, machphys_updated);
        if (result != 0) break;
    }
    // Later ops and the guest see every change (xsa-286), on every pCPU of the domain before the
    // hypercall returns (or continues); an L4 change first resyncs the loaded root tables (ASI).
    // A batch that stored no entry (each one written with the value it had) changed no translation.
    if (engine.entry_writes() > 0 || machphys_updated)
        flush_guest_tlb_mask(vcpu, sched::kFlushTlb | (root_changed ? u32{sched::kFlushRootResync} : 0u), 0,
                             sched::kAllVcpus, false);
    if (!report_done(vcpu, batch.done_va, batch.done_before + done) && result == 0) result = -xen::kEFAULT;
    return result;
}

long mmuext_op(Vcpu& vcpu, const HypercallArgs& args) {
    if (!foreign_domain_ok(*vcpu.domain, args.arg[3])) return -xen::kESRCH;
    const Batch batch = read_batch(vcpu, args);
    u32 done = 0;
    long result = 0;
    for (; done < batch.count; ++done) {
        if (should_preempt(vcpu, done)) {
            result = continue_batch(vcpu, xen::kMmuextOp, args, batch, done, sizeof(xen::MmuextOp));
            break;
        }
        xen::MmuextOp op{};
        if (!copy_from_guest(vcpu, &op, batch.list + u64{done} * sizeof op, sizeof op)) {
            result = -xen::kEFAULT;
            break;
        }
        result = mmuext_one(vcpu, op);
        if (result != 0) break;
    }
    if (!report_done(vcpu, batch.done_va, batch.done_before + done) && result == 0) result = -xen::kEFAULT;
    return result;
}

long update_va_mapping(Vcpu& vcpu, const HypercallArgs& args) {
    const u64 va = args.arg[0], value = args.arg[1], flags = args.arg[2];
    if (!guest_range_ok(va, 1)) return -xen::kEINVAL;
    PageTypeEngine engine = vcpu_engine(vcpu);
    const long result = to_errno(engine.update_va_mapping(Maddr(vcpu.kernel_cr3).mfn(), Vaddr(va), value));
    if (result != 0) return result;  // flush only after success (xsa-279)
    // Which vCPUs: UVMF_LOCAL (this pCPU), UVMF_ALL, or else the rest of `flags` is the address
    // of a vCPU bitmap (UVMF_MULTI), as in Xen.
    const u64 type = flags & xen::kUvmfFlushTypeMask, target = flags & ~xen::kUvmfFlushTypeMask;
    if (type == xen::kUvmfNone) return 0;
    u64 mask = sched::kAllVcpus;
    if (target != xen::kUvmfLocal && target != xen::kUvmfAll && !read_vcpu_mask(vcpu, target, mask))
        return -xen::kEFAULT;
    const u32 what = type == xen::kUvmfInvlpg ? sched::kFlushVa : sched::kFlushTlb;
    flush_guest_tlb_mask(vcpu, what, va, mask, target == xen::kUvmfLocal);
    return 0;
}

}  // namespace hv::pv
