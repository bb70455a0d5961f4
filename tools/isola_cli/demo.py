# SPDX-License-Identifier: MIT
"""`isola demo`: the main job on its embedded default configuration.

Isola on 2 pCPUs with ASI on (the default) runs two unmodified PV guest kernels at once, one per
pCPU: `traps` (exceptions, bounce frames, user mode, page-table hypercalls) and
`memory_checksum`; the hypervisor prints what it found and its virtual layout first, its event
counts at the end, and then the isolation audit of every root table, which the demo shows as a
table (foreign frames per root) and draws to build/demo-audit.svg. The system test `demo` uses
demo_run_args so it follows along. Still to come: 2 vCPUs per domain (issue 4)."""
import sys

from .audit_protocol import AuditFormatError, parse_audit, format_table
from .audit_svg import render_svg
from .options import parse_run_args
from .paths import build_dir
from .run import RunResult, execute

DEFAULT_TIMEOUT = 30.0
DEMO_GUESTS = ("traps:name=traps", "memory_checksum:name=checksum")


def demo_guest_args() -> list[str]:
    """The demo's guests as `isola run` GUEST:ARGS arguments (also `isola audit`'s default)."""
    guests = []
    for spec in DEMO_GUESTS:
        name, _, args = spec.partition(":")
        guests.append(f"{build_dir() / 'guests' / (name + '.elf')}:{args}")
    return guests


def demo_run_args(timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """The `isola run` arguments the demo amounts to."""
    return ["--smp", "2", "--timeout", f"{timeout:g}", *demo_guest_args(), "--", "demo", "audit"]


def is_audit_detail(line: str) -> bool:
    """The audit's machine-readable lines, which the demo summarises instead of echoing."""
    return line.startswith("audit: ") and not line.startswith("audit: end")


def run_demo(timeout: float = DEFAULT_TIMEOUT, echo: bool = True) -> RunResult:
    """Boot the demo (the caller builds first), show its console without the audit's detail
    lines, then the audit as a table and a drawing; return the run's result."""
    result = execute(parse_run_args(demo_run_args(timeout), prog="isola demo"), echo=False)
    if not echo:
        return result
    for line in result.console_text.splitlines():
        if not is_audit_detail(line):
            print(line)
    try:
        audit = parse_audit(result.console_text)
    except AuditFormatError as err:
        print(f"isola demo: unreadable audit: {err}", file=sys.stderr)
        return result
    if audit.roots:
        print("\nIsolation audit (frames each root table reaches; foreign = another vCPU's, pCPU's or domain's):")
        sys.stdout.write(format_table(audit))
        out = build_dir() / "demo-audit.svg"
        out.write_text(render_svg(audit))
        print(f"address-space map: {out}")
    for message in result.messages:
        print(message, file=sys.stderr)
    return result
