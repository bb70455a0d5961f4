#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Differential test driver: run one guest test kernel on Isola and on Xen 4.17.

    check_guest.py --guest PATH[:ARGS] [--expect-result SUCCESS|SKIP|ERROR|FAILURE]
                   [--isola-only | --xen-only] [--smp N] [--vcpus N] [-- HV_ARGS ...]

Boots the guest through the same API as `isola run` (never building), on Isola
(`run --no-build --smp N GUEST`) and, unless --isola-only, on Xen (`run --xen ...`);
HV_ARGS are appended to both hypervisors' command lines. From each console it takes
the verdict of the LAST `Test result: X` line. The check fails (exit 1, one
`check_guest: FAIL:` line per problem) if a verdict is missing, differs from
--expect-result (default SUCCESS), or the two hypervisors disagree, or if a run did
not end cleanly (status 0) after its verdict: the guest powers off right after
printing it, so anything else is a hypervisor bug. Either way the last stdout line
is a summary such as `hello: isola SUCCESS (0.6 s), xen SUCCESS (1.2 s)`.
"""
import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from isola_cli.errors import terminate_on_sigterm  # noqa: E402
from isola_cli.run import RunResult, run_isola  # noqa: E402

RESULTS = ("SUCCESS", "SKIP", "ERROR", "FAILURE", "CRASH")
# CRASH (as xtf-runner calls it): the domain crashed, so no result line, and the run ends with
# status 1 (Isola: a domain did not power off; Xen: "Hardware Dom0 crashed").
CRASH_STATUS = 1
RESULT_LINE = re.compile(r"Test result: (\w+)")
SIDES = ("isola", "xen")


@dataclass
class Outcome:
    """One hypervisor's run of the guest: its verdict (None: no result line), isola's
    exit status for the run, and the run's wall time in seconds."""
    side: str
    result: str | None
    status: int
    seconds: float | None = None


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our options before the first `--`, hypervisor arguments after it."""
    cut = argv.index("--") if "--" in argv else len(argv)
    p = argparse.ArgumentParser(prog="check_guest.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--guest", required=True, metavar="PATH[:ARGS]",
                   help="guest kernel ELF, with an optional command line as for `isola run`")
    p.add_argument("--expect-result", choices=RESULTS, default="SUCCESS",
                   help="the verdict both runs must print (default SUCCESS)")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--isola-only", action="store_true", help="run on Isola only")
    only.add_argument("--xen-only", action="store_true", help="run on Xen 4.17 only")
    p.add_argument("--smp", type=int, default=1, metavar="N", help="pCPUs (default 1)")
    p.add_argument("--vcpus", type=int, default=None, metavar="N",
                   help="vCPUs of the guest: Isola's module option vcpus=N, Xen's dom0_max_vcpus=N")
    return p.parse_args(argv[:cut]), argv[cut + 1:]


def sides(opts: argparse.Namespace) -> list[str]:
    """Which hypervisors to run, Isola first."""
    if opts.isola_only:
        return ["isola"]
    if opts.xen_only:
        return ["xen"]
    return list(SIDES)


def run_args(side: str, guest: str, smp: int, hv_args: list[str],
             vcpus: int | None = None) -> list[str]:
    """The `isola run` arguments for one side. A vCPU count becomes a module option on Isola
    (before any guest arguments) and dom0_max_vcpus on Xen's command line."""
    if vcpus is not None and side == "isola":
        path, sep, args = guest.partition(":")
        guest = f"{path}:vcpus={vcpus}" + (f" {args}" if sep and args else "")
    if vcpus is not None and side == "xen":
        hv_args = [f"dom0_max_vcpus={vcpus}", *hv_args]
    argv = ["--no-build", "--smp", str(smp)] + (["--xen"] if side == "xen" else []) + [guest]
    return argv + (["--", *hv_args] if hv_args else [])


def last_result(console: str) -> str | None:
    """The verdict of the last console line holding `Test result: X`."""
    verdict = None
    for line in console.splitlines():
        match = RESULT_LINE.search(line)
        if match:
            verdict = match.group(1)
    return verdict


def outcome(side: str, result: RunResult) -> Outcome:
    return Outcome(side, last_result(result.console_text), result.status,
                   result.timings.get("exit"))


def problems(outcomes: list[Outcome], expected: str) -> list[str]:
    """Everything wrong with the runs, one line each."""
    found = []
    for o in outcomes:
        if expected == "CRASH":
            if o.result is not None:
                found.append(f"{o.side}: Test result {o.result}, expected the domain to crash")
            elif o.status != CRASH_STATUS:
                found.append(f"{o.side}: run status {o.status}, expected {CRASH_STATUS} (domain crash)")
            continue
        if o.result is None:
            found.append(f"{o.side}: no 'Test result:' line in the console "
                         f"(run status {o.status})")
            continue
        if o.result != expected:
            found.append(f"{o.side}: Test result {o.result}, expected {expected}")
        if o.status != 0:
            found.append(f"{o.side}: the run ended with status {o.status} after the result, "
                         "not 0 (the guest powers off right after printing it)")
    verdicts = {o.side: o.result for o in outcomes if o.result is not None}
    if len(verdicts) == 2 and len(set(verdicts.values())) == 2:
        found.append("isola and xen disagree: " +
                     ", ".join(f"{side} {verdict}" for side, verdict in verdicts.items()))
    return found


def summary(name: str, outcomes: list[Outcome]) -> str:
    """`hello: isola SUCCESS (0.6 s), xen SUCCESS (1.2 s)`; a missing verdict reads
    `no result` and a run that did not end with status 0 shows its status."""
    def one(o: Outcome) -> str:
        details = ["n/a" if o.seconds is None else f"{o.seconds:.1f} s"]
        if o.status != 0:
            details.append(f"status {o.status}")
        return f"{o.side} {o.result or 'no result'} ({', '.join(details)})"
    return f"{name}: " + ", ".join(one(o) for o in outcomes)


def main(argv: list[str]) -> int:
    """Run each side (consoles stream as they go), then check and summarise."""
    terminate_on_sigterm()  # so a killed test still kills its QEMU
    opts, hv_args = parse_args(argv)
    outcomes = []
    for side in sides(opts):
        args = run_args(side, opts.guest, opts.smp, hv_args, opts.vcpus)
        print(f"check_guest: {side}: isola run {' '.join(args)}", flush=True)
        outcomes.append(outcome(side, run_isola(*args)))
        sys.stdout.flush()
    found = problems(outcomes, opts.expect_result)
    for line in found:
        print(f"check_guest: FAIL: {line}", file=sys.stderr, flush=True)
    print(summary(Path(opts.guest.partition(":")[0]).stem, outcomes), flush=True)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
