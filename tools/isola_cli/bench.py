# SPDX-License-Identifier: MIT
"""`isola bench`: boot the benchmark guest under QEMU `-icount shift=0` on Isola (ASI off
and on) and, with --vs-xen, on Xen 4.17 (XPTI off and on); write the report.

What runs where: bench_spec.py. Reading consoles and the cycle model: bench_parse.py,
bench_model.py. The files: bench_report.py. Method and how to read the numbers:
docs/bench/README.md.
"""
import argparse
import concurrent.futures
import datetime
import shlex
import subprocess
import sys
from pathlib import Path

from . import bench_gbench, bench_report, build, paths
from .bench_model import Sample, samples_from_run, summarize
from .bench_parse import ParseError, asi_option_refused, parse_xpti
from .bench_report import Column, Report
from .bench_spec import (BENCHMARKS, BY_NAME, DEFAULT_ITERS, GUEST, XEN_CONFIGS, Config, Run,
                         isola_configs, plan_runs)
from .errors import EXIT_BAD_INPUT, IsolaError
from .options import positive_number
from .qemu import QEMU
from .run import RunResult, run_isola

ISOLA_TIMEOUT = 60.0
XEN_TIMEOUT = 400.0   # Xen boots in ~30 s under icount; more when the host is busy
OUTPUT_FILES = ("report.md", "results.csv", "chart.svg", "raw.txt")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="isola bench", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the benchmark guest under QEMU -icount shift=0 on Isola (asi=0 and "
                    "asi=1) and optionally on Xen 4.17 (xpti=0 and xpti=1); write report.md, "
                    "results.csv, chart.svg and raw.txt.",
        epilog="Benchmarks: " + ", ".join(b.name for b in BENCHMARKS) +
               ".\nMethod and how to read the report: docs/bench/README.md.")
    p.add_argument("--vs-xen", action="store_true", help="also run on Xen 4.17 (xpti=0, xpti=1)")
    p.add_argument("--repeat", type=positive_number(int), default=1, metavar="N",
                   help="boot every configuration N times; the report shows medians (default 1)")
    p.add_argument("--out", default=str(paths.build_dir() / "bench-report"), metavar="DIR",
                   help="output directory (default build/bench-report)")
    p.add_argument("--iters", type=positive_number(int), default=DEFAULT_ITERS, metavar="N",
                   help=f"operations per timed loop (Isola also runs 2N; default {DEFAULT_ITERS})")
    p.add_argument("--only", metavar="NAME[,NAME]", help="run only these benchmarks")
    p.add_argument("-j", type=positive_number(int), default=2, metavar="N",
                   help="QEMU instances at once (default 2; results do not depend on it)")
    p.add_argument("--no-build", dest="build", action="store_false",
                   help="use the existing build without building first")
    return p


def selected(only: str | None) -> list[str]:
    """Benchmark names in catalog order; unknown names are a usage error."""
    if not only:
        return [b.name for b in BENCHMARKS]
    names = [n for n in only.split(",") if n]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise IsolaError(f"unknown benchmark {', '.join(unknown)} (known: "
                         f"{', '.join(BY_NAME)})", EXIT_BAD_INPUT)
    return [b.name for b in BENCHMARKS if b.name in names]


def main(argv: list[str]) -> int:
    ns = parser().parse_args(argv)
    names = selected(ns.only)
    if ns.build:
        build.build()
    guest = paths.build_dir() / "guests" / GUEST
    if not guest.is_file():
        raise IsolaError(f"benchmark guest {guest} not found; run `isola build`", EXIT_BAD_INPUT)
    asi = probe_asi()
    configs = isola_configs(asi) + (XEN_CONFIGS if ns.vs_xen else [])
    runs = plan_runs(configs, names, ns.iters, ns.repeat)
    outcomes = execute_runs(runs, str(guest), ns.j)
    report = build_report(outcomes, configs, names, asi, command="./isola bench " + shlex.join(argv))
    write_report(report, outcomes, Path(ns.out))
    failed = [r for r in report.results.values() if r.status in ("error", "missing")]
    for r in failed:
        print(f"isola bench: {r.benchmark} on {r.config}: {r.status} ({r.note})", file=sys.stderr)
    return 1 if failed else 0


def probe_asi() -> bool:
    """Whether the image accepts `asi=`: one boot without guests. An image that does not know
    the option stops with `unknown option 'asi=0'`; then both ASI columns are one config."""
    result = run_isola("--no-build", "--icount", "--timeout", f"{ISOLA_TIMEOUT:g}", "--", "asi=0",
                       echo=False)
    if asi_option_refused(result.output):
        print("isola bench: this image has no asi= option: the ASI off/on columns are one "
              "configuration", file=sys.stderr)
        return False
    if result.status != 0:
        last = (result.output.strip().splitlines() or [""])[-1]
        raise IsolaError(f"probe boot with asi=0 failed (status {result.status}): {last}",
                         result.status)
    return True


def execute_runs(runs: list[Run], guest: str, jobs: int) -> list[tuple[Run, RunResult]]:
    """Every boot, `jobs` at a time, with one progress line each on stderr."""
    done: list[tuple[Run, RunResult]] = []

    def one(run: Run) -> tuple[Run, RunResult]:
        timeout = XEN_TIMEOUT if run.config.xen else ISOLA_TIMEOUT
        return run, run_isola(*run.run_argv(guest, timeout), echo=False)

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for run, result in pool.map(one, runs):
            done.append((run, result))
            seconds = result.timings.get("exit") or 0.0
            print(f"isola bench: [{len(done)}/{len(runs)}] {run.describe()}: status "
                  f"{result.status}, {seconds:.1f} s", file=sys.stderr, flush=True)
    return done


def collect(outcomes: list[tuple[Run, RunResult]]) -> list[Sample]:
    samples = []
    for run, result in outcomes:
        try:
            samples += samples_from_run(run, result.console_text, result.status)
        except ParseError as err:
            samples += [Sample(run.config.key, n, run.repeat, run.iters, "error", str(err))
                        for n in run.benchmarks]
    return samples


def build_report(outcomes: list[tuple[Run, RunResult]], configs: list[Config], names: list[str],
                 asi: bool, command: str) -> Report:
    samples = collect(outcomes)
    results = {(c.key, n): summarize(samples, c.key, n) for c in configs for n in names}
    return Report(commit=git_commit(), date=now(), command=command,
                  columns=columns(configs, asi), benchmarks=names, results=results,
                  notes=setup_notes(outcomes, configs, asi), gbench=bench_gbench.run_section())


def columns(configs: list[Config], asi: bool) -> list[Column]:
    """Report columns; without `asi=` the one Isola configuration fills both ASI columns."""
    out = []
    for config in configs:
        if not config.xen and not asi:
            out += [Column("Isola asi=0 (same)", config.key, False),
                    Column("Isola asi=1 (same)", config.key, False)]
        else:
            out.append(Column(config.label, config.key, config.xen))
    return out


def setup_notes(outcomes: list[tuple[Run, RunResult]], configs: list[Config], asi: bool) -> list[str]:
    notes = [f"Machine: QEMU {qemu_version()} `-M pc -cpu max -icount shift=0`, 1 pCPU "
             "(2 for `evtchn_rtt`); Isola 256 MiB, Xen 512 MiB with dom0_mem=32M smap=0 "
             "(and dom0_max_vcpus=2 for the two-vCPU benchmarks, dom0_vcpus_pin on 2 pCPUs)"]
    if not asi:
        notes.append("ASI: this image does not accept `asi=` (\"unknown option\"), so the columns "
                     "\"Isola asi=0 (same)\" and \"Isola asi=1 (same)\" are one configuration "
                     "without the option, measured once and shown twice")
    for config in (c for c in configs if c.xen):
        seen = sorted({parse_xpti(r.console_text) or "not reported" for run, r in outcomes
                       if run.config.key == config.key})
        notes.append(f"{config.label}: Xen reports dom0 XPTI {' / '.join(seen) or 'n/a'}")
    return notes


def write_report(report: Report, outcomes: list[tuple[Run, RunResult]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    texts = (bench_report.markdown(report), bench_report.csv_text(report),
             bench_report.svg(report), raw_text(report, outcomes))
    for name, text in zip(OUTPUT_FILES, texts):
        (out / name).write_text(text)
    print(f"isola bench: wrote {', '.join(str(out / n) for n in OUTPUT_FILES)}", file=sys.stderr)


def raw_text(report: Report, outcomes: list[tuple[Run, RunResult]]) -> str:
    """The lines every number came from, run by run, for auditing."""
    lines = [f"# isola bench raw lines; command: {report.command}",
             f"# git commit: {report.commit}; date: {report.date}"]
    for run, result in outcomes:
        lines.append(f"## {run.describe()} repeat={run.repeat} status={result.status}")
        lines += [line.strip() for line in result.console_text.splitlines()
                  if "bench: " in line or "isola: events" in line or "XPTI (64-bit" in line]
        lines += result.messages
    return "\n".join(lines) + "\n"


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(paths.ROOT), *args], capture_output=True,
                              text=True).stdout.strip()
    commit = git("rev-parse", "HEAD") or "unknown"
    return commit + (" (with uncommitted changes)" if git("status", "--porcelain") else "")


def qemu_version() -> str:
    try:
        out = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout
    except OSError:
        return "unknown"
    words = out.split()
    return words[3] if len(words) > 3 and words[2] == "version" else out.strip()


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
