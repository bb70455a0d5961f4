// SPDX-License-Identifier: MIT
// Host fakes for the event-channel hooks: shared_info bits in a per-domain struct, kicks recorded,
// waits handed to the test.
#include "support/fake_event_channel.hpp"

#include "hv/core/check.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/guest_mode.hpp"

namespace hv::test {

FakeEventPlatform& fake_event_platform() {
    static FakeEventPlatform platform;
    return platform;
}

xen::SharedInfo& fake_shared_info(const pv::Domain& domain) {
    auto [it, inserted] = fake_event_platform().shared.try_emplace(&domain);
    if (inserted) it->second = xen::SharedInfo{};
    return it->second;
}

}  // namespace hv::test

namespace hv::pv {
namespace {

u64& word(Domain& domain, EvtchnBits bits, unsigned port) {
    HV_CHECK(port < xen::kEvtchn2lPorts);
    xen::SharedInfo& shared = test::fake_shared_info(domain);
    u64* array = bits == EvtchnBits::Pending ? shared.evtchn_pending : shared.evtchn_mask;
    const unsigned index = port / 64;
    return array[index];
}

u64 bit(unsigned port) { return u64{1} << (port % 64); }

}  // namespace

Domain* find_domain(u16 id) {
    for (Domain* domain : test::fake_event_platform().domains)
        if (domain->id == id) return domain;
    return nullptr;
}

bool evtchn_test_bit(Domain& domain, EvtchnBits bits, unsigned port) {
    return (word(domain, bits, port) & bit(port)) != 0;
}

bool evtchn_test_and_set_bit(Domain& domain, EvtchnBits bits, unsigned port) {
    const bool was = evtchn_test_bit(domain, bits, port);
    word(domain, bits, port) |= bit(port);
    return was;
}

bool evtchn_test_and_clear_bit(Domain& domain, EvtchnBits bits, unsigned port) {
    const bool was = evtchn_test_bit(domain, bits, port);
    word(domain, bits, port) &= ~bit(port);
    return was;
}

bool evtchn_selector_test_and_set(Domain& domain, unsigned vcpu_id, unsigned index) {
    HV_CHECK(vcpu_id < 32 && index < 64);
    u64& selector = test::fake_shared_info(domain).vcpu_info[vcpu_id].evtchn_pending_sel;
    const bool was = (selector & (u64{1} << index)) != 0;
    selector |= u64{1} << index;
    return was;
}

bool upcall_pending_test_and_set(Domain& domain, unsigned vcpu_id) {
    HV_CHECK(vcpu_id < 32);
    u8& pending = test::fake_shared_info(domain).vcpu_info[vcpu_id].evtchn_upcall_pending;
    const bool was = pending != 0;
    pending = 1;
    return was;
}

u8 read_upcall_pending(Vcpu& vcpu) {
    return test::fake_shared_info(*vcpu.domain).vcpu_info[vcpu.id].evtchn_upcall_pending;
}

bool read_upcall_deliverable(Vcpu& vcpu) { return read_upcall_pending(vcpu) != 0 && read_upcall_mask(vcpu) == 0; }

void block_vcpu(Vcpu& vcpu) { test::fake_event_platform().blocks.push_back(&vcpu); }

void kick_vcpu(Vcpu& vcpu) { test::fake_event_platform().kicks.push_back(&vcpu); }

u64 system_time_ns() { return test::fake_event_platform().now_ns; }

}  // namespace hv::pv

// ---- The scheduler side of vcpu_op (hv/pv/vcpu_sched.hpp): state only, no pCPUs ----

#include "hv/pv/vcpu_sched.hpp"

namespace hv::pv {

void vcpu_bring_up(Vcpu& vcpu) {
    if (vcpu.sched.state == sched::RunState::Down) vcpu.sched.state = sched::RunState::Runnable;
}
void vcpu_take_down(Vcpu& vcpu) { vcpu.sched.state = sched::RunState::Down; }
bool vcpu_is_up(const Vcpu& vcpu) { return vcpu.sched.state != sched::RunState::Down; }
void stop_domain_vcpus(Domain& domain) {
    for (unsigned i = 0; i < domain.vcpu_count; ++i) domain.vcpus[i].sched.state = sched::RunState::Down;
}

}  // namespace hv::pv
