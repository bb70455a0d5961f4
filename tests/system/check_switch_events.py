#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""CTest driver: the address-space work of a guest mode switch and of a full vCPU switch.

    check_switch_events.py BENCH_GUEST

Boots the benchmark guest (guests/bench) with N and 2N iterations of `syscall` (two guest
user/kernel switches per operation) and of `yield_pingpong` (two full vCPU switches on one pCPU
per round trip), with asi=0 and asi=1, and takes (E(2N) - E(N)) / N of the hypervisor's event
totals, as `isola bench` does. These are counts, not timings: they are exact under QEMU whatever
the load. It asserts what docs/asi.md promises for both settings: one CR3 load and no shadow
re-copy per user/kernel switch, one CR3 load per full switch (with vcpu-pt, straight from the
previous vCPU's root to the next one's, not through the idle root), and the zero-stack bytes only
with asi=1 and only on a full switch: a `yield` with nothing else runnable is a lazy switch back to
the vCPU still loaded, which loads no CR3, flushes nothing and zeroes nothing (asi-reference §8.9
property 54). Exit 0 when all hold, else 1 with one line per failed check.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from isola_cli.bench_parse import parse_events  # noqa: E402
from isola_cli.run import run_isola  # noqa: E402

ITERS = 50
SHAPES = {"syscall": [], "yield_pingpong": ["vcpus=2", "cpus=0"], "yield": []}
# Per operation: event -> expected count, for asi=0 and asi=1.
EXPECTED = {
    ("syscall", 0): {"cr3_loads": 2, "resyncs": 0, "bytes_zeroed": 0},
    ("syscall", 1): {"cr3_loads": 2, "resyncs": 0, "bytes_zeroed": 0},
    ("yield_pingpong", 0): {"cr3_loads": 2, "tlb_flushes": 2, "resyncs": 0, "bytes_zeroed": 0},
    ("yield_pingpong", 1): {"cr3_loads": 2, "tlb_flushes": 2, "resyncs": 0},
    ("yield", 1): {"cr3_loads": 0, "tlb_flushes": 0, "resyncs": 0, "bytes_zeroed": 0},
}


def events(guest: str, bench: str, asi: int, iters: int) -> dict[str, int]:
    module = " ".join(SHAPES[bench])
    cmdline = (module + " -- " if module else "-- ") + f"bench={bench} iters={iters} cal=1000"
    result = run_isola("--smp", "1", "--icount", "--timeout", "60", f"{guest}:{cmdline}", "--",
                       f"asi={asi}", echo=False)
    found = parse_events(result.console_text)
    if result.status != 0 or found is None:
        raise SystemExit(f"check_switch_events: FAIL: {bench} asi={asi} iters={iters}: status "
                         f"{result.status}, events {found}\n{result.output[-2000:]}")
    return found


def main() -> int:
    guest = sys.argv[1]
    failures = []
    for (bench, asi), expected in EXPECTED.items():
        once, twice = events(guest, bench, asi, ITERS), events(guest, bench, asi, 2 * ITERS)
        for event, want in expected.items():
            per_op = (twice[event] - once[event]) / ITERS
            line = f"{bench} asi={asi}: {event} per operation {per_op:g}, expected {want}"
            print(line)
            if per_op != want:
                failures.append(line)
        if asi == 1 and bench == "yield_pingpong" and twice["bytes_zeroed"] <= once["bytes_zeroed"]:
            failures.append(f"{bench} asi=1: zero-stack zeroed nothing per round trip")
    for line in failures:
        print(f"check_switch_events: FAIL: {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
