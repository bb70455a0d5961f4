#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""CTest driver for system tests: boot Isola once and check the console and status.

    check_run.py [--expect REGEX]... [--reject REGEX]... [--status N]
                 [--demo] [--cli] [--bare-path] -- <isola run args>

Boots through the same API as `isola run` (never building: CTest built the image,
found through ISOLA_IMAGE), prints the console as it streams, then checks it. The
regexes (re.MULTILINE) are matched against everything a user would see: the console
followed by isola's own `isola: ...` lines. Exit 0 if every check holds, else 1 with
one line per kind of failure: the first unmet --expect, the first matched --reject,
a wrong status.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from isola_cli.demo import demo_run_args  # noqa: E402
from isola_cli.errors import terminate_on_sigterm  # noqa: E402
from isola_cli.run import run_isola  # noqa: E402


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our options before the first `--`, `isola run` arguments after it (which may
    contain a `--` of their own for the hypervisor command line)."""
    cut = argv.index("--") if "--" in argv else len(argv)
    p = argparse.ArgumentParser(prog="check_run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--expect", action="append", default=[], metavar="REGEX",
                   help="must occur in the output (repeatable, checked in order)")
    p.add_argument("--reject", action="append", default=[], metavar="REGEX",
                   help="must not occur in the output (repeatable)")
    p.add_argument("--status", type=int, default=0, metavar="N",
                   help="expected exit status (default 0)")
    p.add_argument("--demo", action="store_true",
                   help="boot `isola demo`'s configuration; run arguments given after -- "
                        "are appended to its hypervisor command line")
    p.add_argument("--cli", action="store_true",
                   help="run the real `isola run` script as a subprocess instead of the API")
    p.add_argument("--bare-path", action="store_true",
                   help="with --cli: PATH holds only python3, so qemu/cmake/ninja are missing")
    return p.parse_args(argv[:cut]), argv[cut + 1:]


def run_api(run_args: list[str]) -> tuple[int, str]:
    """Boot through run_isola; the console streams to stdout while it runs."""
    result = run_isola(*run_args)
    return result.status, result.output


def bare_path_dir(tmp: str) -> str:
    """A PATH directory with nothing but python3 (for the script's shebang), so the
    missing-tool paths are exercised whatever else the machine has installed."""
    os.symlink(sys.executable, os.path.join(tmp, "python3"))
    return tmp


def run_cli(run_args: list[str], bare_path: bool) -> tuple[int, str]:
    """Run `<root>/isola run ...` as a user would, stdout and stderr together."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        if bare_path:
            env["PATH"] = bare_path_dir(tmp)
        proc = subprocess.run([str(ROOT / "isola"), "run", *run_args], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace")
    sys.stdout.write(proc.stdout)
    return proc.returncode, proc.stdout


def failures(opts: argparse.Namespace, status: int, output: str) -> list[str]:
    """The unmet checks: the first missing --expect (later ones usually fail because
    of it), the first present --reject, and a wrong status."""
    found = []
    missing = [r for r in opts.expect if not re.search(r, output, re.MULTILINE)]
    if missing:
        found.append(f"expected /{missing[0]}/ in the console, not found")
    present = [r for r in opts.reject if re.search(r, output, re.MULTILINE)]
    if present:
        found.append(f"rejected /{present[0]}/ found in the console")
    if status != opts.status:
        found.append(f"expected status {opts.status}, got {status}")
    return found


def main(argv: list[str]) -> int:
    """Run once, check, and say why a test failed in its last lines."""
    terminate_on_sigterm()  # so a killed test still kills its QEMU
    opts, run_args = parse_args(argv)
    if opts.demo:
        run_args = demo_run_args() + run_args
    if opts.cli or opts.bare_path:
        status, output = run_cli(run_args, opts.bare_path)
    else:
        status, output = run_api(run_args)
    sys.stdout.flush()
    problems = failures(opts, status, output)
    for line in problems:
        print(f"check_run: FAIL: {line}", file=sys.stderr)
    if not problems:
        print(f"check_run: ok (status {status}, {len(opts.expect)} expected, "
              f"{len(opts.reject)} rejected patterns checked)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
