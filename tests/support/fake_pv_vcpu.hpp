// SPDX-License-Identifier: MIT
// A one-vCPU domain for hypercall and emulation tests, with typed access to fake guest memory.
#pragma once

#include <cstring>
#include <vector>

#include "hv/pv/domain.hpp"
#include "hv/pv/hypercall.hpp"
#include "support/fake_guest_memory.hpp"
#include "support/fake_guest_mode.hpp"
#include "support/fake_domain_private.hpp"
#include "support/fake_vcpu_private.hpp"
#include "support/host_console.hpp"

namespace hv::test {

// A running domain `id` with one vCPU in guest kernel mode: the starting point of most PV tests.
inline void init_running_domain(pv::Domain& domain, u16 id) {
    domain.id = id;
    domain.state = pv::DomainState::Running;
    std::strcpy(domain.name, "t");
    domain.vcpus[0].domain = &domain;
    domain.vcpu_count = 1;
    domain.vcpus[0].kernel_mode = true;
}

struct PvVcpuFixture {
    pv::Domain domain{};
    pv::Vcpu& vcpu = domain.vcpus[0];

    PvVcpuFixture() {
        domain.id = 4;
        domain.state = pv::DomainState::Running;
        std::strcpy(domain.name, "t");
        domain.nr_pages = 8192;
        vcpu.domain = &domain;
        vcpu.kernel_mode = true;
        vcpu.kernel_cr3 = 0x1000;
        fake_vcpu_platform() = {};
        reset_fake_vcpu_private();
        reset_fake_domain_private();
        take_console_output();
    }
    long call(u64 number, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0, u64 a5 = 0) {
        return pv::do_hypercall(vcpu, number, pv::HypercallArgs{{a1, a2, a3, a4, a5}});
    }
    // Maps `value` at `va` (replacing whatever was mapped there).
    template <class T>
    void put(u64 va, const T& value, bool read_only = false) {
        const auto* bytes = reinterpret_cast<const u8*>(&value);
        fake_guest_memory().map(va, std::vector<u8>(bytes, bytes + sizeof value), read_only);
    }
    template <class T>
    T get(u64 va) {
        T value{};
        EXPECT_TRUE(fake_guest_memory().read(va, &value, sizeof value)) << "nothing mapped at " << va;
        return value;
    }
    void zeros(u64 va, usize size, bool read_only = false) {
        fake_guest_memory().map(va, std::vector<u8>(size), read_only);
    }
};

}  // namespace hv::test
