// SPDX-License-Identifier: MIT
// The hypervisor's command-line options (syntax: hv/core/cmdline.hpp; list: docs/options.md).
#pragma once

#include "hv/boot/asi_option.hpp"
#include "hv/core/cmdline.hpp"
#include "hv/core/result.hpp"
#include "hv/core/types.hpp"

namespace hv::boot {

// Deliberate faults and hangs, to test that every fault ends the run with a register dump and
// that the host-side timeout ends a hung machine; DebugBadStack is the one that must survive (a
// #DB on a bad RSP runs on its IST stack). Harmless unless asked for.
enum class Selftest : u8 { None, FaultUd, FaultPf, StackOverflow, Hang, DebugBadStack, ZeroStack };

struct HvOptions {
    bool demo = false;                 // demo: print the full boot report
    Selftest selftest = Selftest::None;
    u64 hvpool_bytes = 16 * MiB;       // hvpool=<size>: hypervisor pool besides the frame table
    u64 max_cpus = 8;                  // maxcpus=<n>: pCPUs to bring up (1-8)
    AsiPolicy asi;                     // asi=<list>: ASI features per guest type (asi_option.hpp)
    bool audit = false;                // audit: print the isolation audit (hv/audit/protocol.hpp)
    // audit-point=<cpu>: stop pCPU <cpu> at its first guest entry, print the loaded root's
    // mappings and halt, for the QEMU cross-check (docs/asi.md). kAuditPointOff: never.
    u64 audit_point_cpu = kAuditPointOff;
    bool pcid = true;                  // pcid: PCIDs for the vCPU roots where the CPU has them (arch/pcid.hpp)

    static constexpr u64 kAuditPointOff = ~u64{0};
};

// Parses the whole command line into `out`, then applies what depends on all of it (range
// checks, the asi= cpu-stack -> vcpu-pt dependency).
Result<void, cmdline::ParseError> parse_hv_options(cmdline::Token cmdline, HvOptions& out);
const char* selftest_name(Selftest selftest);

}  // namespace hv::boot
