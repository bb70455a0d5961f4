# SPDX-License-Identifier: MIT
"""`isola demo`: the main job on its embedded default configuration.

The design's scenario: Isola on 2 pCPUs with ASI on (the default) runs 2 domains x 2 vCPUs, two
unmodified PV guest kernels at once: `smp_tlb` (L4 changes that must reach the other vCPU's TLB
before mmu_update returns) and `smp_stress` (IPI event channels, yields, timers and remaps with
shootdowns on every vCPU). The scheduler spreads the four vCPUs over both pCPUs. The hypervisor
prints what it found and its virtual layout first, its event counts at the end, and then the
isolation audit of every root table (a kernel and a user root per vCPU, an idle root per pCPU),
which the demo shows as a table (foreign frames per root) and draws to build/demo-audit.svg. The
system test `demo` uses demo_run_args so it follows along."""
import sys

from .audit_protocol import AuditFormatError, parse_audit, format_table
from .audit_svg import render_svg
from .options import parse_run_args
from .paths import build_dir
from .run import RunResult, execute

DEFAULT_TIMEOUT = 60.0  # about 10 s on an idle machine; room for a loaded one
# GUEST:ARGS as `isola run` takes them, the path relative to build/guests/ and without .elf.
DEMO_GUESTS = ("smp_tlb:name=tlb vcpus=2", "smp_stress:name=stress vcpus=2 -- rounds=100")


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
