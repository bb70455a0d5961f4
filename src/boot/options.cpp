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
    {"none", Selftest::None}, {"fault-ud", Selftest::FaultUd}, {"fault-pf", Selftest::FaultPf},
    {"stack-overflow", Selftest::StackOverflow}, {"hang", Selftest::Hang}, {"db-bad-stack", Selftest::DebugBadStack},
    {"zero-stack", Selftest::ZeroStack}};

Status parse_selftest(cmdline::Token value, void* target) {
    for (const SelftestName& entry : kSelftests) {
        if (cmdline::equals(value, entry.name)) {
            *static_cast<Selftest*>(target) = entry.value;
            return Status::Ok;
        }
    }
    return Status::InvalidArgument;
}

// The last `name=...` token of `line`, for range errors found after parsing: ParseError::token
// must be the offending token inside the line, and the last one is the value that counted.
// Only the exact spelling matches (fine for names without '-' or '_'). Falls back to the bare
// name when the value did not come from the line at all.
cmdline::Token last_token_named(cmdline::Token line, const char* name) {
    usize name_size = 0;
    while (name[name_size] != '\0') ++name_size;
    cmdline::Token found{name, name_size};
    usize start = 0;
    for (usize i = 0; i <= line.size; ++i) {
        if (i < line.size && line.data[i] != ' ' && line.data[i] != '\t') continue;
        const cmdline::Token token{line.data + start, i - start};
        if (cmdline::equals(cmdline::split_key_value(token).key, name)) found = token;
        start = i + 1;
    }
    return found;
}

// A local wrapper: taking the address of a function defined in another file makes a GOT
// reference, which the image's link (-fpie, -fno-plt, linked high) cannot relax.
Status parse_asi_option(cmdline::Token value, void* target) { return parse_asi(value, target); }

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
        {"asi", cmdline::Kind::CustomBool, &out.asi, parse_asi_option},
        {"audit", cmdline::Kind::Bool, &out.audit},
        {"audit-point", cmdline::Kind::UInt, &out.audit_point_cpu},
        {"pcid", cmdline::Kind::Bool, &out.pcid},
    };
    HV_TRY(cmdline::parse(cmdline, options, sizeof options / sizeof options[0], cmdline::SkipFirst::Yes));
    if (out.max_cpus == 0 || out.max_cpus > 8)
        return Error{cmdline::ParseError{last_token_named(cmdline, "maxcpus"), "out of range (1-8)"}};
    if (out.hvpool_bytes < 2 * MiB || out.hvpool_bytes > 512 * MiB)
        return Error{cmdline::ParseError{last_token_named(cmdline, "hvpool"), "out of range (2M-512M)"}};
    if (out.audit_point_cpu != HvOptions::kAuditPointOff && out.audit_point_cpu >= 8)
        return Error{cmdline::ParseError{last_token_named(cmdline, "audit-point"), "out of range (0-7)"}};
    apply_asi_dependencies(out.asi);
    return {};
}

}  // namespace hv::boot
