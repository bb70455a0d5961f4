// SPDX-License-Identifier: MIT
// Mapping attributes (arch-neutral): what a leaf allows, never how a format encodes it.
//
// Read access is implied by presence: every mapping can be read. Only the entry formats
// (arch/<arch>/include/arch/pte.hpp and the test formats) know which bits mean what.
#pragma once

#include "hv/core/types.hpp"

namespace hv::mm {

// Memory type of a mapping. Write-combining and write-through are not needed yet.
enum class MemType : u8 {
    WriteBack,  // ordinary RAM
    Uncached,   // device registers (strong uncacheable)
};

struct Attrs {
    bool write = false;   // writable (else read-only)
    bool user = false;    // reachable from guest user/kernel rings, not only the hypervisor
    bool exec = false;    // instruction fetch allowed
    bool global = false;  // survives CR3 loads without PCID flush (shared hypervisor mappings)
    MemType mem_type = MemType::WriteBack;

    constexpr bool operator==(const Attrs&) const = default;
};

}  // namespace hv::mm
