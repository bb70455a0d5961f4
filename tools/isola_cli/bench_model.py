# SPDX-License-Identifier: MIT
"""From run consoles to per-operation numbers, and the cycle model (pure functions).

Instructions per operation: the guest's ticks for N operations divided by N and by the
run's calibration (ticks per instruction; 1.0 under `-icount shift=0`).

Isola's events per operation: each benchmark runs once with N and once with 2N iterations;
the hypervisor prints event totals for the whole run, so (E(2N) - E(N)) / N is the count per
operation: boot, calibration, warm-up and shutdown are the same in both runs and cancel.

Modeled cycles = instructions (at one cycle each) + sum over events of count x extra cost.
The costs are published figures from ../shared/docs/performance-anchors.md, as extra cycles
beyond the instruction(s) that -icount already counts for the event. It is a model: QEMU
cannot show TLB, cache or pipeline effects, and the refill after a flush is not in it.
"""
import statistics
from dataclasses import dataclass, field

from .bench_parse import EVENTS, BenchLine, parse_bench_lines, parse_events
from .bench_spec import Run

CLOCK_GHZ = 3.3  # converts the ns-valued anchors; the core clock performance-anchors §7.1 uses


@dataclass(frozen=True)
class Cost:
    event: str
    cycles: int
    source: str


COSTS = (
    Cost("cr3_loads", 100, "MOV to CR3 is \"on the order of a hundred cycles\" (anchors P1, K4)"),
    Cost("tlb_flushes", round(539 * CLOCK_GHZ),
         "toggling CR4.PGE with flags saved and restored, 539 ns (anchors K9), at 3.3 GHz; "
         "the TLB refill afterwards (P4) is not modeled"),
    Cost("invlpgs", 200, "INVLPG about 200 cycles (anchors P3, K5)"),
    Cost("ipis", round(1000 * CLOCK_GHZ),
         "IPI round trip 1-3 us (anchors P6, low trust): the lower end, 1 us at 3.3 GHz"),
    Cost("resyncs", 0, "the copy is already counted, one instruction per REP iteration "
                       "(anchors 5.2), more than it costs on hardware (L2: 154 cycles for 496 "
                       "entries)"),
    Cost("bytes_zeroed", 0, "already counted (rep stosq: one instruction per 8 bytes), more "
                            "than it costs on hardware (about 30 bytes per cycle, anchors L7)"),
)
COST_BY_EVENT = {c.event: c.cycles for c in COSTS}


@dataclass(frozen=True)
class Sample:
    """One benchmark in one run. insns_per_op is None unless status is "ok"."""
    config: str
    benchmark: str
    repeat: int
    iters: int
    status: str                       # ok, skip, unsupported, error, missing
    note: str = ""
    insns_per_op: float | None = None
    ticks_per_insn: float | None = None
    events: dict[str, int] | None = None   # whole-run totals (Isola only)
    peer: int | None = None


def samples_from_run(run: Run, console: str, status: int) -> list[Sample]:
    """The samples of one boot: one per benchmark it was asked to run."""
    lines = parse_bench_lines(console)
    events = None if run.config.xen else parse_events(console)
    calibration = lines.get("calibrate")
    tpi = calibration.ticks / calibration.insns if calibration and calibration.insns else None
    return [_sample(run, name, lines.get(name), tpi, events, status) for name in run.benchmarks]


def _sample(run: Run, name: str, line: BenchLine | None, tpi: float | None,
            events: dict[str, int] | None, status: int) -> Sample:
    base = dict(config=run.config.key, benchmark=name, repeat=run.repeat, iters=run.iters,
                events=events)
    if line is None:
        return Sample(**base, status="missing", note=f"no bench line (run status {status})")
    if line.status != "ok":
        return Sample(**base, status=line.status, note=f"{line.op} rc={line.rc}")
    if tpi is None:
        return Sample(**base, status="missing", note="no calibration line")
    return Sample(**base, status="ok", insns_per_op=line.ticks / line.iters / tpi,
                  ticks_per_insn=tpi, peer=line.peer)


@dataclass
class Result:
    """One cell group of the report: a benchmark under one configuration."""
    config: str
    benchmark: str
    status: str
    note: str = ""
    insns_per_op: float | None = None
    insns_min: float | None = None
    insns_max: float | None = None
    ticks_per_insn: float | None = None
    events_per_op: dict[str, float] | None = None
    model_cycles: float | None = None
    peer_per_op: float | None = None
    samples: int = 0
    iters: list[int] = field(default_factory=list)


def summarize(samples: list[Sample], config: str, benchmark: str) -> Result:
    """Medians over the measured samples; the events from N/2N pairs of the same repetition."""
    mine = [s for s in samples if s.config == config and s.benchmark == benchmark]
    good = [s for s in mine if s.status == "ok"]
    if not good:
        worst = next((s for s in mine if s.status != "ok"), None)
        return Result(config, benchmark, worst.status if worst else "missing",
                      worst.note if worst else "not run", samples=0)
    insns = [s.insns_per_op for s in good]
    result = Result(config, benchmark, "ok", insns_per_op=statistics.median(insns),
                    insns_min=min(insns), insns_max=max(insns),
                    ticks_per_insn=statistics.median(s.ticks_per_insn for s in good),
                    samples=len(good), iters=sorted({s.iters for s in good}))
    peers = [s.peer / s.iters for s in good if s.peer is not None]
    result.peer_per_op = statistics.median(peers) if peers else None
    result.events_per_op = events_per_op(good)
    result.model_cycles = model_cycles(result.insns_per_op, result.events_per_op)
    return result


def events_per_op(samples: list[Sample]) -> dict[str, float] | None:
    """(E(2N) - E(N)) / N per event, the median over repetitions; None without a pair."""
    per_repeat = []
    for repeat in sorted({s.repeat for s in samples}):
        runs = sorted((s for s in samples if s.repeat == repeat and s.events is not None),
                      key=lambda s: s.iters)
        if len(runs) < 2 or runs[0].iters == runs[-1].iters:
            continue
        low, high = runs[0], runs[-1]
        span = high.iters - low.iters
        per_repeat.append({e: (high.events[e] - low.events[e]) / span for e in EVENTS})
    if not per_repeat:
        return None
    return {e: statistics.median(r[e] for r in per_repeat) for e in EVENTS}


def model_cycles(insns: float | None, events: dict[str, float] | None) -> float | None:
    """Instructions at one cycle each plus events times their extra cost; None without events."""
    if insns is None or events is None:
        return None
    return insns + sum(events[e] * COST_BY_EVENT[e] for e in EVENTS)
