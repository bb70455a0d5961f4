# SPDX-License-Identifier: MIT
"""Host-native timings of the `mm` core: the Google Benchmark executable
build/bench/isola_mm_bench, when the build has it, run with --benchmark_format=json; its
results become a Markdown table in the `isola bench` report."""
import json
import subprocess
from pathlib import Path

from . import paths

TIMEOUT = 300.0


def executable() -> Path:
    return paths.build_dir() / "bench" / "isola_mm_bench"


def run_section() -> str:
    """The report section body: the table, or one line saying why there is none."""
    exe = executable()
    if not (exe.is_file() and exe.stat().st_mode & 0o111):
        return f"Skipped: `{exe.relative_to(paths.ROOT)}` is not built (no host `mm` benchmarks yet)."
    cmd = [str(exe), "--benchmark_format=json"]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"Failed: `{' '.join(cmd)}`: {err}"
    if proc.returncode != 0:
        return f"Failed: `{' '.join(cmd)}` exited with status {proc.returncode}."
    try:
        return table(json.loads(proc.stdout), f"{exe.relative_to(paths.ROOT)} --benchmark_format=json")
    except (ValueError, KeyError, TypeError) as err:
        return f"Failed: `{' '.join(cmd)}` printed no usable JSON ({err})."


def table(data: dict, command: str) -> str:
    """Google Benchmark's JSON (context + benchmarks) as Markdown."""
    context = data.get("context", {})
    lines = [f"`{command}` on {context.get('host_name', 'this host')}, "
             f"{context.get('num_cpus', '?')} CPUs at {context.get('mhz_per_cpu', '?')} MHz, "
             f"library build {context.get('library_build_type', '?')}, {context.get('date', '')}.", "",
             "| benchmark | real time | CPU time | iterations |", "|---|---:|---:|---:|"]
    for b in data["benchmarks"]:
        unit = b.get("time_unit", "ns")
        lines.append(f"| `{b['name']}` | {b['real_time']:,.1f} {unit} | {b['cpu_time']:,.1f} {unit} "
                     f"| {b.get('iterations', '')} |")
    return "\n".join(lines)
