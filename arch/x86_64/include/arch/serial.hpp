// SPDX-License-Identifier: MIT
// COM1 serial console.
#pragma once

namespace hv::arch {

void serial_init();
void serial_putc(char c);

}  // namespace hv::arch
