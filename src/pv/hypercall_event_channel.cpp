// SPDX-License-Identifier: MIT
// event_channel_op (32): argument copies and dispatch to event_channel.cpp. [pv-abi.md §3.13]
#include "hv/core/addr.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/event_channel.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/xen_abi.hpp"
#include "hypercall_handlers.hpp"

namespace hv::pv {
namespace {

// Reads the request, runs `op` on it and, when it succeeds, writes the whole structure back
// (Xen's copy_from_guest / __copy_to_guest pair: a failed write-back is -EFAULT after the fact).
template <class Request, class Op>
long in_out(Vcpu& vcpu, u64 argument, Op op) {
    Request request{};
    if (!copy_from_guest(vcpu, &request, argument, sizeof request)) return -xen::kEFAULT;
    const long result = op(vcpu, request);
    if (result == 0 && !copy_to_guest(vcpu, argument, &request, sizeof request)) return -xen::kEFAULT;
    return result;
}

// Reads the request and runs `op` on it; nothing goes back.
template <class Request, class Op>
long in_only(Vcpu& vcpu, u64 argument, Op op) {
    Request request{};
    if (!copy_from_guest(vcpu, &request, argument, sizeof request)) return -xen::kEFAULT;
    return op(vcpu, request);
}

// The FIFO ABI is not offered: after Xen's own checks (so bad input fails as on Xen, xsa-188)
// the guest is told -EOPNOTSUPP and stays on the 2-level ABI.
long init_control(Vcpu& vcpu, xen::EvtchnInitControl& request) {
    if (request.vcpu != vcpu.id) return -xen::kENOENT;
    if (request.offset > kPageSize - xen::kEvtchnFifoControlBlockSize) return -xen::kEINVAL;
    if (!is_aligned(request.offset, 8)) return -xen::kEINVAL;
    // A PV gfn is an mfn: it must be a frame of this domain.
    PageTypeEngine engine = domain_engine(*vcpu.domain);
    if (!engine.get_page(Mfn(request.control_gfn)).ok()) return -xen::kEINVAL;
    engine.put_page(Mfn(request.control_gfn));
    return -xen::kEOPNOTSUPP;
}

// Physical IRQs are never granted to a domain.
long bind_pirq(Vcpu&, xen::EvtchnBindPirq& request) {
    return request.pirq >= kEvtchnPirqs ? -xen::kEINVAL : -xen::kEPERM;
}

}  // namespace

long event_channel_op(Vcpu& vcpu, const HypercallArgs& args) {
    const u64 argument = args.arg[1];
    // Xen's command parameter is an int: the upper half of the register is ignored.
    switch (static_cast<u32>(args.arg[0])) {
        case xen::kEvtchnOpAllocUnbound: return in_out<xen::EvtchnAllocUnbound>(vcpu, argument, evtchn_alloc_unbound);
        case xen::kEvtchnOpBindInterdomain:
            return in_out<xen::EvtchnBindInterdomain>(vcpu, argument, evtchn_bind_interdomain);
        case xen::kEvtchnOpBindVirq: return in_out<xen::EvtchnBindVirq>(vcpu, argument, evtchn_bind_virq);
        case xen::kEvtchnOpBindIpi: return in_out<xen::EvtchnBindIpi>(vcpu, argument, evtchn_bind_ipi);
        case xen::kEvtchnOpBindPirq: return in_out<xen::EvtchnBindPirq>(vcpu, argument, bind_pirq);
        case xen::kEvtchnOpStatus: return in_out<xen::EvtchnStatus>(vcpu, argument, evtchn_status);
        case xen::kEvtchnOpClose:
            return in_only<xen::EvtchnPortArg>(vcpu, argument,
                                               [](Vcpu& v, xen::EvtchnPortArg& r) { return evtchn_close(v, r.port); });
        case xen::kEvtchnOpSend:
            return in_only<xen::EvtchnPortArg>(vcpu, argument,
                                               [](Vcpu& v, xen::EvtchnPortArg& r) { return evtchn_send(v, r.port); });
        case xen::kEvtchnOpUnmask:
            return in_only<xen::EvtchnPortArg>(vcpu, argument,
                                               [](Vcpu& v, xen::EvtchnPortArg& r) { return evtchn_unmask(v, r.port); });
        case xen::kEvtchnOpBindVcpu:
            return in_only<xen::EvtchnBindVcpu>(
                vcpu, argument, [](Vcpu& v, xen::EvtchnBindVcpu& r) { return evtchn_bind_vcpu(v, r.port, r.vcpu); });
        case xen::kEvtchnOpReset:
            return in_only<xen::EvtchnReset>(vcpu, argument,
                                             [](Vcpu& v, xen::EvtchnReset& r) { return evtchn_reset(v, r.dom); });
        case xen::kEvtchnOpResetCont:
            return in_only<xen::EvtchnReset>(vcpu, argument,
                                             [](Vcpu& v, xen::EvtchnReset& r) { return evtchn_reset_cont(v, r.dom); });
        case xen::kEvtchnOpInitControl: return in_out<xen::EvtchnInitControl>(vcpu, argument, init_control);
        case xen::kEvtchnOpExpandArray:
            // Only for the FIFO ABI, which is never initialised.
            return in_only<xen::EvtchnExpandArray>(vcpu, argument,
                                                   [](Vcpu&, xen::EvtchnExpandArray&) { return -xen::kEOPNOTSUPP; });
        case xen::kEvtchnOpSetPriority:
            return in_only<xen::EvtchnSetPriority>(
                vcpu, argument, [](Vcpu& v, xen::EvtchnSetPriority& r) { return evtchn_set_priority(v, r.port); });
        default: return -xen::kENOSYS;
    }
}

}  // namespace hv::pv
