// SPDX-License-Identifier: MIT
// grant_table_op (20): argument checks, the per-op loops and the copies in and out, around
// grant_table.cpp. [pv-abi.md §3.14]
//
// The batches (map, unmap, unmap_and_replace, swap, transfer, copy) are preemptible like mmu_update:
// every kOpsPerPreemptCheck ops, pending work on the pCPU stops the batch and the guest's SYSCALL
// re-executes as grant_table_op(cmd, list + done ops, count - done) (Xen's continuation).
//
// What goes back to the guest, as Xen writes it: map_grant_ref and query_size the whole
// structure; set_version the whole structure (with the current version) even on error;
// unmap_grant_ref, unmap_and_replace, setup_table, get_status_frames, swap_grant_ref and
// transfer only `status`; get_version only `version`. A failed write-back is -EFAULT.
#include <cstddef>

#include "hv/pv/domain.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/grant_table.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/hypercall.hpp"
#include "hv/pv/xen_abi.hpp"
#include "hypercall_handlers.hpp"

namespace hv::pv {
namespace {

// The mm_locks of the domains one operation touches (nullptr and repeats skipped), taken in
// domain-id order, so two domains mapping each other's grants at once cannot deadlock.
class DomainLocks {
  public:
    explicit DomainLocks(Domain* a, Domain* b = nullptr, Domain* c = nullptr) : held_{a, b, c} {
        for (unsigned i = 0; i < 3; ++i) {  // sort by id, then drop repeats
            for (unsigned j = i + 1; j < 3; ++j) {
                const bool swap = held_[i] == nullptr || (held_[j] != nullptr && held_[j]->id < held_[i]->id);
                if (swap) {
                    Domain* const t = held_[i];
                    held_[i] = held_[j];
                    held_[j] = t;
                }
            }
        }
        if (held_[2] == held_[1]) held_[2] = nullptr;
        if (held_[1] == held_[0]) {
            held_[1] = held_[2];
            held_[2] = nullptr;
        }
        for (Domain* domain : held_)
            if (domain != nullptr) domain->mm_lock.lock();
    }
    ~DomainLocks() {
        for (Domain* domain : held_)
            if (domain != nullptr) domain->mm_lock.unlock();
    }
    DomainLocks(const DomainLocks&) = delete;
    DomainLocks& operator=(const DomainLocks&) = delete;

  private:
    Domain* held_[3];
};

// One unmap under the locks it needs: the handle names the granter, read before the locks and
// checked again under them (another vCPU of the domain may have unmapped and reused it).
i16 locked_unmap(Vcpu& vcpu, u64 host_addr, u64 dev_bus_addr, u64 new_addr, u32 handle) {
    for (;;) {
        Domain* const granter = grant_handle_domain(vcpu, handle);
        DomainLocks locks(vcpu.domain, granter);
        if (grant_handle_domain(vcpu, handle) == granter) return grant_unmap(vcpu, host_addr, dev_bus_addr, new_addr, handle);
    }
}

// Xen's guest_handle_okay for an array: only the start address is checked (the copies fault
// on the rest), so a start in the non-canonical hole or the hypervisor range is -EFAULT.
bool array_start_ok(u64 va) { return va < (u64{1} << 47) || va >= xen::kHypervisorVirtEnd; }

// Whether op `index` (> 0) of a batch should wait: every kOpsPerPreemptCheck ops, pending work.
bool should_preempt(Vcpu& vcpu, u32 index) {
    return index % kOpsPerPreemptCheck == 0 && index != 0 && hypercall_preempt_check(vcpu);
}

// The batch continues at op `index`: Xen's grant_table_op continuation, the same command with
// the list advanced past the ops done and the count of those left.
template <class Op>
long continue_batch(Vcpu& vcpu, u32 cmd, u64 list, u32 index, u32 count) {
    return create_continuation(vcpu, xen::kGrantTableOp,
                               HypercallArgs{{cmd, list + u64{index} * sizeof(Op), count - index, 0, 0}});
}

template <class Op>
bool read_op(Vcpu& vcpu, u64 list, u32 index, Op& op) {
    return copy_from_guest(vcpu, &op, list + u64{index} * sizeof(Op), sizeof(Op));
}

// Writes op.status of element `index` back.
template <class Op>
bool write_status(Vcpu& vcpu, u64 list, u32 index, const Op& op) {
    return copy_to_guest(vcpu, list + u64{index} * sizeof(Op) + offsetof(Op, status), &op.status, sizeof op.status);
}

long map_grant_ref(Vcpu& vcpu, u64 list, u32 count) {
    for (u32 i = 0; i < count; ++i) {
        if (should_preempt(vcpu, i)) return continue_batch<xen::GnttabMapGrantRef>(vcpu, xen::kGnttabOpMapGrantRef, list, i, count);
        xen::GnttabMapGrantRef op{};
        if (!read_op(vcpu, list, i, op)) return -xen::kEFAULT;
        {
            DomainLocks locks(vcpu.domain, find_domain(op.dom));
            op.status = grant_map(vcpu, op);
        }
        if (!copy_to_guest(vcpu, list + u64{i} * sizeof op, &op, sizeof op)) return -xen::kEFAULT;
    }
    return 0;
}

// Both unmaps flush the guest's TLB once after the batch (Xen: gnttab_flush_tlb), also when a
// fault or a continuation ends it early.
long unmap_grant_ref(Vcpu& vcpu, u64 list, u32 count) {
    long result = 0;
    u32 done = 0;
    for (; done < count; ++done) {
        if (should_preempt(vcpu, done)) {
            result = continue_batch<xen::GnttabUnmapGrantRef>(vcpu, xen::kGnttabOpUnmapGrantRef, list, done, count);
            break;
        }
        xen::GnttabUnmapGrantRef op{};
        if (!read_op(vcpu, list, done, op)) {
            result = -xen::kEFAULT;
            break;
        }
        op.status = locked_unmap(vcpu, op.host_addr, op.dev_bus_addr, 0, op.handle);
        if (!write_status(vcpu, list, done, op)) {
            result = -xen::kEFAULT;
            break;
        }
    }
    if (done > 0 || result != 0) flush_guest_tlb(vcpu);
    return result;
}

long unmap_and_replace(Vcpu& vcpu, u64 list, u32 count) {
    long result = 0;
    u32 done = 0;
    for (; done < count; ++done) {
        if (should_preempt(vcpu, done)) {
            result = continue_batch<xen::GnttabUnmapAndReplace>(vcpu, xen::kGnttabOpUnmapAndReplace, list, done, count);
            break;
        }
        xen::GnttabUnmapAndReplace op{};
        if (!read_op(vcpu, list, done, op)) {
            result = -xen::kEFAULT;
            break;
        }
        op.status = locked_unmap(vcpu, op.host_addr, 0, op.new_addr, op.handle);
        if (!write_status(vcpu, list, done, op)) {
            result = -xen::kEFAULT;
            break;
        }
    }
    if (done > 0 || result != 0) flush_guest_tlb(vcpu);
    return result;
}

// Copies `count` frame numbers out; a fault makes the status bad_virt_addr (the rest still goes).
i16 copy_frames(Vcpu& vcpu, u64 frame_list, const Mfn* frames, u32 count) {
    i16 status = xen::kGntstOkay;
    for (u32 i = 0; i < count; ++i) {
        const u64 frame = frames[i].raw();
        if (!copy_to_guest(vcpu, frame_list + u64{i} * sizeof frame, &frame, sizeof frame))
            status = xen::kGntstBadVirtAddr;
    }
    return status;
}

long setup_table(Vcpu& vcpu, u64 argument, u32 count) {
    if (count != 1) return -xen::kEINVAL;
    xen::GnttabSetupTable op{};
    if (!copy_from_guest(vcpu, &op, argument, sizeof op)) return -xen::kEFAULT;
    if (!array_start_ok(op.frame_list)) return -xen::kEFAULT;
    const Mfn* frames = nullptr;
    op.status = grant_setup_table(vcpu, op.dom, op.nr_frames, &frames);
    if (op.status == xen::kGntstOkay) op.status = copy_frames(vcpu, op.frame_list, frames, op.nr_frames);
    return write_status(vcpu, argument, 0, op) ? 0 : -xen::kEFAULT;
}

long get_status_frames(Vcpu& vcpu, u64 argument, u32 count) {
    if (count != 1) return -xen::kEINVAL;
    xen::GnttabGetStatusFrames op{};
    if (!copy_from_guest(vcpu, &op, argument, sizeof op)) return -xen::kEFAULT;
    const Mfn* frames = nullptr;
    op.status = grant_get_status_frames(vcpu, op.dom, op.nr_frames, &frames);
    if (op.status == xen::kGntstOkay) op.status = copy_frames(vcpu, op.frame_list, frames, op.nr_frames);
    return write_status(vcpu, argument, 0, op) ? 0 : -xen::kEFAULT;
}

long query_size(Vcpu& vcpu, u64 argument, u32 count) {
    if (count != 1) return -xen::kEINVAL;
    xen::GnttabQuerySize op{};
    if (!copy_from_guest(vcpu, &op, argument, sizeof op)) return -xen::kEFAULT;
    op.status = grant_query_size(vcpu, op);
    return copy_to_guest(vcpu, argument, &op, sizeof op) ? 0 : -xen::kEFAULT;
}

long set_version(Vcpu& vcpu, u64 argument) {
    xen::GnttabSetVersion op{};
    if (!copy_from_guest(vcpu, &op, argument, sizeof op)) return -xen::kEFAULT;
    const long result = grant_set_version(vcpu, op.version);
    op.version = grant_version(vcpu);
    return copy_to_guest(vcpu, argument, &op, sizeof op) ? result : -xen::kEFAULT;
}

long get_version(Vcpu& vcpu, u64 argument) {
    xen::GnttabGetVersion op{};
    if (!copy_from_guest(vcpu, &op, argument, sizeof op)) return -xen::kEFAULT;
    const long result = grant_get_version(vcpu, op);
    if (result != 0) return result;
    const u64 field = argument + offsetof(xen::GnttabGetVersion, version);
    return copy_to_guest(vcpu, field, &op.version, sizeof op.version) ? 0 : -xen::kEFAULT;
}

long swap_grant_ref(Vcpu& vcpu, u64 list, u32 count) {
    for (u32 i = 0; i < count; ++i) {
        if (should_preempt(vcpu, i)) return continue_batch<xen::GnttabSwapGrantRef>(vcpu, xen::kGnttabOpSwapGrantRef, list, i, count);
        xen::GnttabSwapGrantRef op{};
        if (!read_op(vcpu, list, i, op)) return -xen::kEFAULT;
        op.status = grant_swap(vcpu, op.ref_a, op.ref_b);
        if (!write_status(vcpu, list, i, op)) return -xen::kEFAULT;
    }
    return 0;
}

// Each op under the locks of the caller's and both named domains; statuses only, as Xen.
long copy(Vcpu& vcpu, u64 list, u32 count) {
    for (u32 i = 0; i < count; ++i) {
        if (should_preempt(vcpu, i)) return continue_batch<xen::GnttabCopy>(vcpu, xen::kGnttabOpCopy, list, i, count);
        xen::GnttabCopy op{};
        if (!read_op(vcpu, list, i, op)) return -xen::kEFAULT;
        {
            DomainLocks locks(vcpu.domain, grant_copy_domain(vcpu, op.source.domid),
                              grant_copy_domain(vcpu, op.dest.domid));
            op.status = grant_copy(vcpu, op);
        }
        if (!write_status(vcpu, list, i, op)) return -xen::kEFAULT;
    }
    return 0;
}

long transfer(Vcpu& vcpu, u64 list, u32 count) {
    for (u32 i = 0; i < count; ++i) {
        if (should_preempt(vcpu, i)) return continue_batch<xen::GnttabTransfer>(vcpu, xen::kGnttabOpTransfer, list, i, count);
        xen::GnttabTransfer op{};
        if (!read_op(vcpu, list, i, op)) return -xen::kEFAULT;
        op.status = grant_transfer(vcpu, op);
        if (!write_status(vcpu, list, i, op)) return -xen::kEFAULT;
    }
    return 0;
}

// No per-op status: the first failing op's error is the hypercall's result.
long cache_flush(Vcpu& vcpu, u64 list, u32 count, u32 cur_ref) {
    for (u32 i = 0; i < count; ++i) {
        xen::GnttabCacheFlush op{};
        if (!read_op(vcpu, list, i, op)) return -xen::kEFAULT;
        const long result = grant_cache_flush(vcpu, op, cur_ref);
        if (result != 0) return result;
        cur_ref = 0;
    }
    return 0;
}

}  // namespace

// RDI = cmd (an unsigned int: the upper half of the register is ignored, as is RDX's for the
// count), RSI = the op array, RDX = count. Xen's order of checks: a count that is negative as an
// int is -EINVAL; continuation bits in cmd are -EINVAL except for cache_flush; array ops check
// the array's start address (-EFAULT).
long grant_table_op(Vcpu& vcpu, const HypercallArgs& args) {
    const u32 raw_cmd = static_cast<u32>(args.arg[0]);
    const u64 list = args.arg[1];
    const u32 count = static_cast<u32>(args.arg[2]);
    if (static_cast<i32>(count) < 0) return -xen::kEINVAL;
    const u32 cmd = raw_cmd & xen::kGnttabOpCmdMask;
    const u32 opaque = raw_cmd & ~xen::kGnttabOpCmdMask;
    if (cmd != xen::kGnttabOpCacheFlush && opaque != 0) return -xen::kEINVAL;
    // Map, unmap and copy lock per operation (they may need other domains' locks too); the others hold
    // the caller's domain lock for the whole call.
    switch (cmd) {
        case xen::kGnttabOpMapGrantRef: return array_start_ok(list) ? map_grant_ref(vcpu, list, count) : -xen::kEFAULT;
        case xen::kGnttabOpUnmapGrantRef:
            return array_start_ok(list) ? unmap_grant_ref(vcpu, list, count) : -xen::kEFAULT;
        case xen::kGnttabOpUnmapAndReplace:
            return array_start_ok(list) ? unmap_and_replace(vcpu, list, count) : -xen::kEFAULT;
        case xen::kGnttabOpCopy: return array_start_ok(list) ? copy(vcpu, list, count) : -xen::kEFAULT;
        default: break;
    }
    DomainLocks locks(vcpu.domain);
    switch (cmd) {
        case xen::kGnttabOpSetupTable: return setup_table(vcpu, list, count);
        case xen::kGnttabOpTransfer: return array_start_ok(list) ? transfer(vcpu, list, count) : -xen::kEFAULT;
        case xen::kGnttabOpQuerySize: return query_size(vcpu, list, count);
        case xen::kGnttabOpSetVersion: return set_version(vcpu, list);
        case xen::kGnttabOpGetStatusFrames: return get_status_frames(vcpu, list, count);
        case xen::kGnttabOpGetVersion: return get_version(vcpu, list);
        case xen::kGnttabOpSwapGrantRef:
            return array_start_ok(list) ? swap_grant_ref(vcpu, list, count) : -xen::kEFAULT;
        case xen::kGnttabOpCacheFlush:
            return array_start_ok(list) ? cache_flush(vcpu, list, count, opaque >> 12) : -xen::kEFAULT;
        // dump_table is not an operation Xen 4.17 offers.
        default: return -xen::kENOSYS;
    }
}

}  // namespace hv::pv
