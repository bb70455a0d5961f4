// SPDX-License-Identifier: MIT
// The PV domain builder: a boot module (ELF with Xen notes) becomes a runnable domain laid out
// exactly as Xen's builder lays out dom0 (pv-abi.md §1.3-1.9).
//
// Module command line:  PATH [name=NAME] [mem=SIZE] [-- GUEST COMMAND LINE]
// (mem defaults to 32M; the part after "--" becomes start_info.cmd_line).
#pragma once

#include "hv/boot/multiboot.hpp"
#include "hv/core/result.hpp"
#include "hv/pv/domain.hpp"

namespace hv::arch {

// On failure nothing stays allocated and the reason is one console-ready phrase.
Result<void, const char*> build_domain(pv::Domain& domain, u16 id, const boot::BootModule& module);

}  // namespace hv::arch
