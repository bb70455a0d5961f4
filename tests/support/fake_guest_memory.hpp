// SPDX-License-Identifier: MIT
// A fake guest address space for hypercall tests: byte ranges the "guest" has mapped.
#pragma once

#include <map>
#include <vector>

#include "hv/core/types.hpp"

namespace hv::test {

class FakeGuestMemory {
  public:
    // Maps `bytes` at guest VA `va` (writable unless read_only).
    void map(u64 va, std::vector<u8> bytes, bool read_only = false);
    std::vector<u8>& at(u64 va) { return regions_.at(va).bytes; }
    bool read(u64 va, void* out, usize length) const;
    bool write(u64 va, const void* in, usize length);

  private:
    struct Region {
        std::vector<u8> bytes;
        bool read_only;
    };
    const Region* find(u64 va, usize length, u64& offset) const;
    std::map<u64, Region> regions_;
};

// The guest memory copy_from_guest/copy_to_guest use in host tests.
FakeGuestMemory& fake_guest_memory();

}  // namespace hv::test
