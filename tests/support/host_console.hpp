// SPDX-License-Identifier: MIT
// Host implementation of the hypervisor console: output is captured for tests to inspect.
#pragma once

#include <string>

namespace hv::test {

// Everything printed since the last take_console_output().
std::string take_console_output();

}  // namespace hv::test
