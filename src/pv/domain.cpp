// SPDX-License-Identifier: MIT
// Domain lifecycle and the per-domain console line buffer.
#include "hv/core/console.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/vcpu_sched.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

void flush_console_line(Domain& domain) {
    domain.console_line[domain.console_length] = 0;
    print("(d%u) %s\n", domain.id, domain.console_line);
    domain.console_length = 0;
}

}  // namespace

// Guest bytes go out line by line with a domain prefix; non-printable bytes become '.'.
void domain_console_put(Domain& domain, char c) {
    if (c == '\r') return;
    if (c == '\n') return flush_console_line(domain);
    domain.console_line[domain.console_length++] = (c >= 0x20 && c < 0x7f) ? c : '.';
    if (domain.console_length == sizeof domain.console_line - 1) flush_console_line(domain);
}

void domain_shutdown(Domain& domain, u32 reason) {
    if (domain.console_length > 0) flush_console_line(domain);
    domain.state = DomainState::Shutdown;
    domain.shutdown_reason = reason;
    stop_domain_vcpus(domain);
    print("isola: d%u (%s) shut down: %s\n", domain.id, domain.name,
          reason == xen::kShutdownPoweroff ? "poweroff"
          : reason == xen::kShutdownReboot ? "reboot"
          : reason == xen::kShutdownCrash  ? "crash"
                                            : "other reason");
}

void domain_crash(Domain& domain, const char* why) {
    if (domain.console_length > 0) flush_console_line(domain);
    domain.state = DomainState::Crashed;
    stop_domain_vcpus(domain);
    print("isola: d%u (%s) crashed: %s\n", domain.id, domain.name, why);
}

}  // namespace hv::pv
