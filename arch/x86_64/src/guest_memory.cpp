// SPDX-License-Identifier: MIT
// Copies to and from the running guest's address space (its page tables are loaded, CR4.SMAP is
// off), through guest_copy in vectors.S whose one faulting instruction has a fixup.
#include "hv/pv/guest_memory.hpp"

extern "C" hv::usize guest_copy(void* destination, const void* source, hv::usize length);

namespace hv::pv {

bool copy_from_guest(Vcpu&, void* destination, u64 guest_va, usize length) {
    if (!guest_range_ok(guest_va, length)) return false;
    return guest_copy(destination, reinterpret_cast<const void*>(guest_va), length) == 0;
}

bool copy_to_guest(Vcpu&, u64 guest_va, const void* source, usize length) {
    if (!guest_range_ok(guest_va, length)) return false;
    return guest_copy(reinterpret_cast<void*>(guest_va), source, length) == 0;
}

}  // namespace hv::pv
