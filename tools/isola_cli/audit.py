# SPDX-License-Identifier: MIT
"""`isola audit`: boot with the hypervisor option `audit`, once with ASI on and once
off, collect the `audit:` lines, print a table per root and draw them (SVG).

The hypervisor prints the audit when its command line has `audit` (protocol:
include/hv/audit/protocol.hpp, parser: audit_protocol.py). --from reads a saved
console instead of booting, which is also how the tests drive this command.
"""
import argparse
import sys
from pathlib import Path

from . import build
from .audit_protocol import AuditFormatError, format_table, parse_audit
from .audit_svg import render_svg
from .demo import demo_guest_args
from .errors import EXIT_BAD_INPUT, IsolaError
from .options import parse_run_args, positive_number, split_hv_cmdline
from .paths import build_dir
from .run import execute

DEFAULT_TIMEOUT = 60.0
EXIT_NOT_ISOLATED = 1  # an ASI-on root reaches a foreign or free frame, or no audit was printed

AUDIT_HELP = """\
what it checks:
  For each root table the hypervisor audits (one per vCPU with ASI on), every
  frame reachable through it, classified as global, per-pCPU, per-domain,
  per-vCPU or guest memory. A frame of another vCPU, pCPU or domain is foreign;
  a mapped free frame is bad. With ASI on both must be 0 (see docs/asi.md).

exit status:
  0     audit printed; no ASI-on root reaches a foreign or free frame
  1     an ASI-on root does, or the hypervisor printed no (complete) audit
  other the boot's own status (see `isola run --help`), or 2 for bad input
"""


def audit_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="isola audit", usage="isola audit [options] [GUEST[:ARGS] ...] [-- HV_CMDLINE ...]",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=AUDIT_HELP,
        description="Boot Isola with `audit` (ASI on, then off), print what each root table "
                    "can reach and draw it as SVG. Without guests, the demo's two guests.")
    p.add_argument("--asi", choices=("on", "off", "both"), default="both",
                   help="which boots to run (default both: asi=on, then asi=off)")
    p.add_argument("--smp", type=positive_number(int), default=2, metavar="N",
                   help="number of pCPUs (default 2)")
    p.add_argument("--mem", type=positive_number(int), default=None, metavar="MIB",
                   help="machine memory in MiB (default: isola run's)")
    p.add_argument("--timeout", type=positive_number(float), default=DEFAULT_TIMEOUT, metavar="S",
                   help=f"kill QEMU after S seconds, per boot (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--out", metavar="SVG", default=None,
                   help="where to write the drawing (default build/audit.svg)")
    p.add_argument("--from", dest="from_file", metavar="FILE",
                   help="parse a saved console (or - for stdin) instead of booting")
    p.add_argument("--no-build", dest="build", action="store_false",
                   help="boot the existing image without building first")
    p.add_argument("--verbose", action="store_true", help="stream the consoles while booting")
    p.add_argument("guests", nargs="*", metavar="GUEST[:ARGS]", help="PV guest kernels (default: the demo's)")
    return p


def boot_args(ns, hv_extra: list[str], asi: str) -> list[str]:
    """The `isola run` arguments of one audit boot."""
    args = ["--smp", str(ns.smp), "--timeout", f"{ns.timeout:g}"]
    if ns.mem is not None:
        args += ["--mem", str(ns.mem)]
    return args + (ns.guests or demo_guest_args()) + ["--", "audit", f"asi={asi}", *hv_extra]


def boot_console(ns, hv_extra: list[str], asi: str) -> str:
    """Boot once and return the console; a failed boot ends the command with its status."""
    result = execute(parse_run_args(boot_args(ns, hv_extra, asi), prog="isola audit"), echo=ns.verbose)
    if result.status != 0:
        last = [line for line in result.output.splitlines() if line.strip()][-3:]
        detail = ("; last lines:\n  " + "\n  ".join(last)) if last else ""
        raise IsolaError(f"the asi={asi} boot ended with status {result.status}{detail}", result.status)
    return result.console_text


def read_console(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise IsolaError(f"cannot read {path}: {err.strerror}", EXIT_BAD_INPUT) from None


def write_svg(path: Path, svg: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(svg, encoding="utf-8")
    except OSError as err:
        raise IsolaError(f"cannot write {path}: {err.strerror}", EXIT_BAD_INPUT) from None


def cmd_audit(argv: list[str]) -> int:
    """`isola audit`: boots (or --from), table on stdout, SVG to --out."""
    left, hv_extra = split_hv_cmdline(argv)
    ns = audit_parser().parse_intermixed_args(left)
    if ns.from_file is not None:
        text = read_console(ns.from_file)
    else:
        if ns.build:
            build.build()
        modes = ("on", "off") if ns.asi == "both" else (ns.asi,)
        text = "".join(boot_console(ns, hv_extra, mode) for mode in modes)
    try:
        audit = parse_audit(text)
    except AuditFormatError as err:
        raise IsolaError(str(err), EXIT_NOT_ISOLATED) from None
    if not audit.roots:
        raise IsolaError("the hypervisor printed no audit: lines (is `audit` implemented in this image?)",
                         EXIT_NOT_ISOLATED)
    sys.stdout.write(format_table(audit))
    out = Path(ns.out) if ns.out else build_dir() / "audit.svg"
    write_svg(out, render_svg(audit))
    print(f"isola: wrote {out}", file=sys.stderr)
    if audit.complete < audit.audits:
        print("isola: an audit was cut off (no `audit: end` line)", file=sys.stderr)
        return EXIT_NOT_ISOLATED
    bad = audit.violations()
    for root in bad:
        print(f"isola: {root.title} reaches {root.totals.get('foreign', 0)} foreign and "
              f"{root.totals.get('bad', 0)} free frames", file=sys.stderr)
    return EXIT_NOT_ISOLATED if bad else 0

