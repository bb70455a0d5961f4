# SPDX-License-Identifier: MIT
"""Reading a benchmark run's console (pure functions).

The guest prints one line per benchmark (guests/bench/bench.hpp), Isola prints its event
totals at the end of the run (include/hv/core/counters.hpp), Xen says whether XPTI is on:

    (d1) bench: xen_version iters=1000 ticks=403010
    (d1) bench: calibrate iters=100000 insns=800000 ticks=800005
    (d1) bench: set_ldt unsupported op=mmuext_op(SET_LDT) rc=-38
    isola: events cr3_loads=2 tlb_flushes=1 invlpgs=32713 ipis=0 resyncs=0 bytes_zeroed=0
    (XEN)   XPTI (64-bit PV only): Dom0 enabled, DomU enabled (with PCID)
"""
import re
from dataclasses import dataclass

EVENTS = ("cr3_loads", "tlb_flushes", "invlpgs", "ipis", "resyncs", "bytes_zeroed")
NOT_MEASURED = ("skip", "unsupported", "error")

# Searched anywhere in a line: Isola prefixes guest output with "(dN) ", and a Xen dom0 line can
# share a console line with Xen's own output.
_BENCH = re.compile(r"(?:^|\s)bench: (?P<name>\w+) "
                    r"(?P<rest>(?:iters=|skip |unsupported |error ).*?)\s*$")
_FIELD = re.compile(r"(\w+)=(.*?)(?= \w+=|$)")
_EVENTS = re.compile(r"isola: events ((?:\w+=\d+ ?)+)\s*$")
_XPTI = re.compile(r"XPTI \(64-bit PV only\): Dom0 (\w+)")


@dataclass(frozen=True)
class BenchLine:
    """One `bench:` line. status is "ok" for a measurement (and for the calibration),
    otherwise one of NOT_MEASURED with the operation and return code the guest named."""
    name: str
    status: str
    iters: int = 0
    ticks: int = 0
    insns: int = 0       # calibration only
    peer: int | None = None
    op: str = ""
    rc: int | None = None


class ParseError(ValueError):
    """A `bench:` line that does not have the documented form."""


def parse_bench_line(line: str) -> BenchLine | None:
    """The BenchLine in `line`, None if it holds none; ParseError if it is malformed."""
    match = _BENCH.search(line)
    if match is None:
        return None
    name, rest = match.group("name"), match.group("rest")
    status = "ok"
    word = rest.split(" ", 1)[0]
    if word in NOT_MEASURED:
        status, rest = word, rest[len(word):].strip()
    fields = dict(_FIELD.findall(rest))
    try:
        if status != "ok":
            return BenchLine(name, status, op=fields["op"], rc=int(fields["rc"]))
        return BenchLine(name, "ok", iters=int(fields["iters"]), ticks=int(fields["ticks"]),
                         insns=int(fields.get("insns", 0)),
                         peer=int(fields["peer"]) if "peer" in fields else None)
    except (KeyError, ValueError) as err:
        raise ParseError(f"malformed bench line {line.strip()!r}: {err}") from None


def parse_bench_lines(console: str) -> dict[str, BenchLine]:
    """Every benchmark's line by name (the last one wins), calibration included."""
    lines = {}
    for text in console.splitlines():
        parsed = parse_bench_line(text)
        if parsed is not None:
            lines[parsed.name] = parsed
    return lines


def parse_events(console: str) -> dict[str, int] | None:
    """Isola's end-of-run event totals, None if the run printed none (Xen, or a crash).
    Every documented event must be there; unknown extra ones are kept."""
    found = None
    for text in console.splitlines():
        match = _EVENTS.search(text)
        if match:
            found = {key: int(value) for key, value in (f.split("=") for f in match.group(1).split())}
    if found is not None and any(event not in found for event in EVENTS):
        raise ParseError(f"event line without all of {', '.join(EVENTS)}: {found}")
    return found


def parse_xpti(console: str) -> str | None:
    """What Xen reports for dom0's XPTI ("enabled"/"disabled"), None if not seen."""
    match = _XPTI.search(console)
    return match.group(1) if match else None


def asi_option_refused(console: str) -> bool:
    """True if the image stopped at `asi=` as an unknown option (before the lead's ASI work)."""
    return re.search(r"bad command line: unknown option 'asi=", console) is not None
