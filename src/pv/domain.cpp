// SPDX-License-Identifier: MIT
// Domain lifecycle and the per-domain console line buffer.
#include "hv/core/console.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/domain_private.hpp"
#include "hv/pv/vcpu_sched.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

void flush_console_line(Domain& domain, ConsoleLine& line) {
    line.text[line.length] = 0;
    print("(d%u) %s\n", domain.id, line.text);
    line.length = 0;
}

// What the guest wrote but did not end with a newline, printed before the domain's last word.
void flush_pending_console(Domain& domain) {
    DomainPrivateView area(domain);
    ConsoleLine& line = area.console();
    if (line.length > 0) flush_console_line(domain, line);
}

}  // namespace

// Guest bytes go out line by line with a domain prefix; non-printable bytes become '.'. The line
// is the guest's output, so it waits in the domain's private area (domain_private.hpp).
void domain_console_write(Domain& domain, const char* bytes, usize count) {
    DomainPrivateView area(domain);
    ConsoleLine& line = area.console();
    for (usize i = 0; i < count; ++i) {
        const char c = bytes[i];
        if (c == '\r') continue;
        if (c == '\n') {
            flush_console_line(domain, line);
            continue;
        }
        line.text[line.length++] = (c >= 0x20 && c < 0x7f) ? c : '.';
        if (line.length == sizeof line.text - 1) flush_console_line(domain, line);
    }
}

void domain_shutdown(Domain& domain, u32 reason) {
    flush_pending_console(domain);
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
    flush_pending_console(domain);
    domain.state = DomainState::Crashed;
    stop_domain_vcpus(domain);
    print("isola: d%u (%s) crashed: %s\n", domain.id, domain.name, why);
}

}  // namespace hv::pv
