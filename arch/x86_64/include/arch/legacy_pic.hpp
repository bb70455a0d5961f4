// SPDX-License-Identifier: MIT
// Legacy 8259 PIC handling.
#pragma once

namespace hv::arch {

// Remaps both PICs to vectors 0x20-0x2f and masks all their IRQs.
void disable_legacy_pic();

}  // namespace hv::arch
