// SPDX-License-Identifier: MIT
// Segment descriptors a 64-bit PV guest may install in its GDT or LDT. [pv-abi.md §3.6]
#pragma once

#include "hv/core/types.hpp"

namespace hv::pv {

// Checks one descriptor and applies Xen's adjustments (DPL of code/data raised to 3; call-gate
// DPL moved into the target selector's RPL and forced to 0). `next` is the following 8 bytes,
// the upper half of a 16-byte call gate. False: the descriptor is refused.
bool check_descriptor(u64& descriptor, const u64* next);

// Checks every descriptor of a 512-entry page, adjusting them in place as Xen does; false when
// one is refused (the page then cannot take the segment-descriptor type).
bool check_descriptor_page(u64* page);

}  // namespace hv::pv
