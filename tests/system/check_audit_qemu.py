#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""CTest driver: the audit walker's view of a loaded root against QEMU's own.

    check_audit_qemu.py [--cpu N] [--save DIR] [--mapcache-at VA] -- <isola run arguments>

Boots Isola with `audit-point=N` (default 1) and a QMP socket, waits until pCPU N printed the
mappings of the root it has loaded and halted, stops the machine, reads `info registers`,
`info tlb` and `info mem` for CPU N and compares (tools/isola_cli/audit_qemu.py). Exit 0 when
CR3 is the printed root and both views hold exactly the same pages, frames and rights (and,
with --mapcache-at, the walk's own mapcache slots, the volatile range, start at VA: a vCPU's own
slots in slot 260 with vcpu-pt, the pCPU's window in slot 261 without).
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from isola_cli.audit_qemu import QemuViewError, compare, parse_audit_point, parse_cr3, report  # noqa: E402
from isola_cli.audit_qemu_run import boot_and_look, save_view  # noqa: E402
from isola_cli.errors import terminate_on_sigterm  # noqa: E402


def main(argv: list[str]) -> int:
    terminate_on_sigterm()
    cut = argv.index("--") if "--" in argv else len(argv)
    p = argparse.ArgumentParser(prog="check_audit_qemu.py")
    p.add_argument("--cpu", type=int, default=1)
    p.add_argument("--save", metavar="DIR", help="keep the console and the monitor outputs there")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--mapcache-at", metavar="VA", type=lambda text: int(text, 16),
                   help="where the stopped pCPU's mapcache slots must start (hex)")
    opts = p.parse_args(argv[:cut])
    try:
        view = boot_and_look(argv[cut + 1:], opts.cpu, opts.timeout)
        if opts.save:
            save_view(view, Path(opts.save))
        point = parse_audit_point(view.console)
        result = compare(point, parse_cr3(view.info_registers), view.info_tlb, view.info_mem)
    except (TimeoutError, OSError, RuntimeError, QemuViewError) as err:
        print(f"check_audit_qemu: FAIL: {err}")
        return 1
    sys.stdout.write(report(point, result))
    if point.cpu != opts.cpu:
        print(f"check_audit_qemu: FAIL: the point is on pCPU {point.cpu}, not {opts.cpu}")
        return 1
    if not result.ours:
        print("check_audit_qemu: FAIL: the walker printed no mapping")
        return 1
    if opts.mapcache_at is not None and [first for first, _ in point.volatile] != [opts.mapcache_at]:
        starts = ", ".join(f"{first:016x}" for first, _ in point.volatile) or "none"
        print(f"check_audit_qemu: FAIL: mapcache slots at {starts}, expected {opts.mapcache_at:016x}")
        return 1
    print("check_audit_qemu: " + ("ok" if result.ok else "FAIL: the views differ"))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
