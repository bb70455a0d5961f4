// SPDX-License-Identifier: MIT
// Host implementation of the guest copy functions over FakeGuestMemory. The range check is the
// real one (inline in hv/pv/guest_memory.hpp), so tests exercise it too.
#include "support/fake_guest_memory.hpp"

#include <cstring>

#include "hv/pv/guest_memory.hpp"

namespace hv::test {

void FakeGuestMemory::map(u64 va, std::vector<u8> bytes, bool read_only) { regions_[va] = {std::move(bytes), read_only}; }

const FakeGuestMemory::Region* FakeGuestMemory::find(u64 va, usize length, u64& offset) const {
    auto it = regions_.upper_bound(va);
    if (it == regions_.begin()) return nullptr;
    --it;
    offset = va - it->first;
    if (offset > it->second.bytes.size() || length > it->second.bytes.size() - offset) return nullptr;
    return &it->second;
}

bool FakeGuestMemory::read(u64 va, void* out, usize length) const {
    u64 offset = 0;
    const Region* region = find(va, length, offset);
    if (region == nullptr) return false;
    std::memcpy(out, region->bytes.data() + offset, length);
    return true;
}

bool FakeGuestMemory::write(u64 va, const void* in, usize length) {
    u64 offset = 0;
    const Region* region = find(va, length, offset);
    if (region == nullptr || region->read_only) return false;
    std::memcpy(const_cast<u8*>(region->bytes.data()) + offset, in, length);
    return true;
}

FakeGuestMemory& fake_guest_memory() {
    static FakeGuestMemory memory;
    return memory;
}

}  // namespace hv::test

namespace hv::pv {

bool copy_from_guest(Vcpu&, void* destination, u64 guest_va, usize length) {
    return guest_range_ok(guest_va, length) && test::fake_guest_memory().read(guest_va, destination, length);
}

bool copy_to_guest(Vcpu&, u64 guest_va, const void* source, usize length) {
    return guest_range_ok(guest_va, length) && test::fake_guest_memory().write(guest_va, source, length);
}

}  // namespace hv::pv
