// SPDX-License-Identifier: MIT
// memory_op: reservation queries, the machine-to-phys layout, and refusals for what Isola cannot
// do (ballooning, page exchange, HVM physmap), each with the errno Xen 4.17 gives. [pv-abi.md §3.11]
//
// A domain's memory is fixed when it is built: its current and maximum reservations are both its
// page count, and requests to grow or shrink it complete no extents. Other domains are invisible:
// naming one gives -ESRCH, as if it did not exist.
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/xen_abi.hpp"
#include "hypercall_handlers.hpp"

namespace hv::pv {
namespace {

// Largest extent order a guest may exchange: Xen's limit for an ordinary domain (DOMU_MAX_ORDER).
constexpr u32 kMaxExtentOrder = 9;
constexpr unsigned kMaxNumaNodes = 64;  // Xen's MAX_NUMNODES: node numbers at or above it are invalid
constexpr u32 kNoNode = 0xff;

bool is_self(const Vcpu& vcpu, u16 domid) { return domid == xen::kDomidSelf || domid == vcpu.domain->id; }

// Reservation and physmap queries: the argument is a domid_t.
long domain_query(Vcpu& vcpu, u64 op, u64 start_extent, u64 argument) {
    if (start_extent != 0) return -xen::kEINVAL;
    u16 domid = 0;
    if (!copy_from_guest(vcpu, &domid, argument, sizeof domid)) return -xen::kEFAULT;
    if (!is_self(vcpu, domid)) return -xen::kESRCH;
    switch (op) {
        case xen::kXenmemCurrentReservation:
        case xen::kXenmemMaximumReservation: return static_cast<long>(vcpu.domain->nr_pages);
        default: {  // XENMEM_maximum_gpfn: from the max_pfn the guest keeps in shared_info
            const u64 max_pfn = read_guest_max_pfn(vcpu);
            return static_cast<long>((max_pfn != 0 ? max_pfn : 1) - 1);
        }
    }
}

// Xen's guest_handle_subrange_okay: elements [first, last] of an array of 8-byte entries.
bool subrange_ok(u64 array, u64 first, u64 last) {
    const u64 count = last - first + 1;  // wraps for last < first - 1, as Xen's does
    if (count >= ~u64{0} / 8) return false;
    return guest_range_ok(array + first * 8, count == 0 ? 1 : count * 8);
}

// NUMA placement in mem_flags: Isola has one node and no virtual NUMA, so a node is only a hint,
// but out-of-range nodes and exact-node demands (which an ordinary Xen guest may not make) fail.
bool node_flags_ok(u32 mem_flags) {
    if ((mem_flags & xen::kXenmemfVnode) != 0) return true;  // no vNUMA: ignored, as in Xen
    const u32 node = ((mem_flags >> 8) - 1) & 0xff;
    if (node == kNoNode) return true;
    return node < kMaxNumaNodes && (mem_flags & xen::kXenmemfExactNodeRequest) == 0;
}

// The checks Xen makes before exchanging anything, in its order; then Isola, which cannot trade
// frames, refuses. `nr_exchanged` is written back on every failure after the read, as Xen does.
long exchange_checks(Vcpu& vcpu, const xen::MemoryExchange& exchange) {
    const xen::MemoryReservation &in = exchange.in, &out = exchange.out;
    if (in.extent_order > kMaxExtentOrder || out.extent_order > kMaxExtentOrder) return -xen::kEPERM;
    if (exchange.nr_exchanged > in.nr_extents || in.domid != out.domid ||
        (~u64{0} >> in.extent_order) < in.nr_extents || (~u64{0} >> out.extent_order) < out.nr_extents ||
        (in.nr_extents << in.extent_order) != (out.nr_extents << out.extent_order))
        return -xen::kEINVAL;
    if (!subrange_ok(in.extent_start, exchange.nr_exchanged, in.nr_extents - 1)) return -xen::kEFAULT;
    const bool out_bigger = in.extent_order <= out.extent_order;
    const u64 out_first = out_bigger ? exchange.nr_exchanged >> (out.extent_order - in.extent_order)
                                     : exchange.nr_exchanged << (in.extent_order - out.extent_order);
    if (!subrange_ok(out.extent_start, out_first, out.nr_extents - 1)) return -xen::kEFAULT;
    if (!node_flags_ok(out.mem_flags)) return -xen::kEINVAL;
    if (!is_self(vcpu, in.domid)) return -xen::kESRCH;
    if (exchange.nr_exchanged == in.nr_extents) return 0;  // nothing left to exchange
    return -xen::kEOPNOTSUPP;
}

long exchange(Vcpu& vcpu, u64 start_extent, u64 argument) {
    if (start_extent != 0) return -xen::kEINVAL;
    xen::MemoryExchange request{};
    if (!copy_from_guest(vcpu, &request, argument, sizeof request)) return -xen::kEFAULT;
    const long result = exchange_checks(vcpu, request);
    const u64 field = argument + offsetof(xen::MemoryExchange, nr_exchanged);
    if (!copy_to_guest(vcpu, field, &request.nr_exchanged, sizeof request.nr_exchanged)) return -xen::kEFAULT;
    return result;
}

// XENMEM_add_to_physmap is for translated (HVM) guests only.
long add_to_physmap(Vcpu& vcpu, u64 start_extent, u64 argument) {
    if (start_extent > 0xffff) return -xen::kEDOM;
    xen::AddToPhysmap request{};
    if (!copy_from_guest(vcpu, &request, argument, sizeof request)) return -xen::kEFAULT;
    if (request.space == xen::kXenmapspaceGmfnForeign) return -xen::kENOSYS;
    if (!is_self(vcpu, request.domid)) return -xen::kESRCH;
    return -xen::kEACCES;
}

long machphys_mapping(Vcpu& vcpu, u64 argument) {
    // The M2P covers every machine frame of RAM, as Xen reports it to a hardware domain.
    const xen::MachphysMapping mapping{xen::kMachToPhysVirtStart, xen::kMachToPhysVirtEnd, machine_frame_limit() - 1};
    return copy_to_guest(vcpu, argument, &mapping, sizeof mapping) ? 0 : -xen::kEFAULT;
}

// Subops Xen handles in its x86 layer: they see the whole command, so a continuation extent makes
// them unknown (-ENOSYS).
long arch_memory_op(Vcpu& vcpu, u64 command, u64 argument) {
    switch (command) {
        case xen::kXenmemMemoryMap: {
            xen::MemoryMap map{};
            if (!copy_from_guest(vcpu, &map, argument, sizeof map)) return -xen::kEFAULT;
            return -xen::kENOSYS;  // no pseudo-physical e820 was set for the domain, as for Xen's PV dom0
        }
        case xen::kXenmemMachineMemoryMap: return -xen::kEPERM;  // the host's map: privileged guests only
        case xen::kXenmemMachphysMapping: return machphys_mapping(vcpu, argument);
        default: return -xen::kENOSYS;
    }
}

}  // namespace

long memory_op(Vcpu& vcpu, const HypercallArgs& args) {
    const u64 command = args.arg[0], argument = args.arg[1];
    const u64 op = command & xen::kMemopCmdMask, start_extent = command >> xen::kMemopExtentShift;
    switch (op) {
        case xen::kXenmemIncreaseReservation:
        case xen::kXenmemDecreaseReservation:
        case xen::kXenmemPopulatePhysmap:
            // Every outcome, the unreadable argument included, reports the extents done so far:
            // Isola completes none (the reservation is fixed at build time), so it is start_extent.
            return static_cast<long>(start_extent);
        case xen::kXenmemMaximumRamPage:
            if (start_extent != 0) return -xen::kEINVAL;
            return static_cast<long>(machine_frame_limit());
        case xen::kXenmemCurrentReservation:
        case xen::kXenmemMaximumReservation:
        case xen::kXenmemMaximumGpfn: return domain_query(vcpu, op, start_extent, argument);
        case xen::kXenmemExchange: return exchange(vcpu, start_extent, argument);
        case xen::kXenmemAddToPhysmap: return add_to_physmap(vcpu, start_extent, argument);
        default: return arch_memory_op(vcpu, command, argument);
    }
}

}  // namespace hv::pv
