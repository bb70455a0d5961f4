// SPDX-License-Identifier: MIT
// Host fake for the private-state accessor (fake_vcpu_private.hpp).
#include "support/fake_vcpu_private.hpp"

#include <map>
#include <memory>

namespace hv::test {
namespace {

struct FakePrivateStore {
    std::map<const pv::Vcpu*, std::unique_ptr<pv::VcpuPrivate>> states;
    unsigned open_views = 0;
};

FakePrivateStore& store() {
    static FakePrivateStore instance;
    return instance;
}

}  // namespace

void reset_fake_vcpu_private() { store().states.clear(); }
unsigned fake_vcpu_private_views_open() { return store().open_views; }

}  // namespace hv::test

namespace hv::pv {

// A zeroed state on first use, like the image's freshly allocated private frame.
VcpuPrivateView::VcpuPrivateView(Vcpu& vcpu) : vcpu_(vcpu) {
    auto& slot = test::store().states[&vcpu_];
    if (!slot) slot = std::make_unique<VcpuPrivate>();
    state_ = slot.get();
    ++test::store().open_views;
}

VcpuPrivateView::~VcpuPrivateView() { --test::store().open_views; }

}  // namespace hv::pv
