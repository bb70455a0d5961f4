// SPDX-License-Identifier: MIT
// The hypervisor's option table.
#include "hv/boot/options.hpp"

namespace hv::boot {
namespace {

struct SelftestName {
    const char* name;
    Selftest value;
};
constexpr SelftestName kSelftests[] = {
    {"none", Selftest::None}, {"fault-ud", Selftest::FaultUd}, {"fault-pf", Selftest::FaultPf}, {"hang", Selftest::Hang}};

Status parse_selftest(cmdline::Token value, void* target) {
    for (const SelftestName& entry : kSelftests) {
        if (cmdline::equals(value, entry.name)) {
            *static_cast<Selftest*>(target) = entry.value;
            return Status::Ok;
        }
    }
    return Status::InvalidArgument;
}

}  // namespace

const char* selftest_name(Selftest selftest) {
    for (const SelftestName& entry : kSelftests)
        if (entry.value == selftest) return entry.name;
    return "?";
}

Result<void, cmdline::ParseError> parse_hv_options(cmdline::Token cmdline, HvOptions& out) {
    const cmdline::Option options[] = {
        {"demo", cmdline::Kind::Bool, &out.demo},
        {"selftest", cmdline::Kind::Custom, &out.selftest, parse_selftest},
        {"hvpool", cmdline::Kind::Size, &out.hvpool_bytes},
        {"maxcpus", cmdline::Kind::UInt, &out.max_cpus},
    };
    HV_TRY(cmdline::parse(cmdline, options, sizeof options / sizeof options[0], cmdline::SkipFirst::Yes));
    if (out.max_cpus == 0 || out.max_cpus > 8) return Error{cmdline::ParseError{{"maxcpus", 7}, "out of range (1-8)"}};
    if (out.hvpool_bytes < 2 * MiB || out.hvpool_bytes > 512 * MiB)
        return Error{cmdline::ParseError{{"hvpool", 6}, "out of range (2M-512M)"}};
    return {};
}

}  // namespace hv::boot
