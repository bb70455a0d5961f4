# SPDX-License-Identifier: MIT
"""Parse the isolation audit the hypervisor prints on its console.

The protocol is defined in include/hv/audit/protocol.hpp; in short, every line
starts with `audit: ` and a root section is

    audit: root <label> subject=d<D>v<V> pcpu=<C> asi=<on|off>
    audit: run <first> <last> <kind> <id> <own|foreign|bad|granted> (VA map, ascending)
    audit: truncated <label> runs=<N>                            (optional)
    audit: frame <va> mfn=<hex> <kind> <id> <foreign|bad>        (first findings)
    audit: total <label> frames=N global=N ... foreign=N bad=N ...

framed by `audit: begin v1`, `audit: layout ...` rows and `audit: end ...`. One
console may hold several audits (one per boot); their roots are concatenated.
Other console lines are ignored.
"""
import re
from dataclasses import dataclass, field

PREFIX = "audit: "
KINDS = ("global", "percpu", "perdomain", "pervcpu", "guest", "free", "unusable", "bootmod", "outside")
# granted: another domain's frame mapped through a grant of its owner (shared on purpose)
VERDICTS = ("own", "foreign", "bad", "granted")
# The total fields the per-root table shows, in order.
TOTAL_FIELDS = ("frames", "global", "percpu", "perdomain", "pervcpu", "guest", "other", "foreign", "bad")

_SUBJECT = re.compile(r"subject=d(\d+)v(\d+)$")
_HEX16 = re.compile(r"[0-9a-f]{16}$")


class AuditFormatError(ValueError):
    """A malformed `audit:` line; the message names the line number."""


@dataclass
class LayoutRow:
    start: int
    last: int
    name: str
    isolation: str


@dataclass
class Run:
    first: int
    last: int  # inclusive
    kind: str
    id: str
    verdict: str

    @property
    def pages(self) -> int:
        return (self.last + 1 - self.first) // 4096


@dataclass
class Finding:
    va: int
    mfn: int
    kind: str
    id: str
    verdict: str


@dataclass
class Root:
    label: str
    domain: int
    vcpu: int
    pcpu: int
    asi: bool
    runs: list[Run] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    truncated_runs: int = 0

    @property
    def title(self) -> str:
        """How the table and the drawing name a root."""
        return f"{self.label} (d{self.domain}v{self.vcpu} on pCPU {self.pcpu}, asi={'on' if self.asi else 'off'})"


@dataclass
class Audit:
    layout: list[LayoutRow] = field(default_factory=list)
    roots: list[Root] = field(default_factory=list)
    audits: int = 0      # `begin` lines seen
    complete: int = 0    # `end` lines seen

    def violations(self) -> list[Root]:
        """Roots with ASI on that reach a foreign or free frame: the property fails."""
        return [r for r in self.roots if r.asi and (r.totals.get("foreign", 0) or r.totals.get("bad", 0))]


class _Parser:
    """One pass over the lines; `root` is the open root section, if any."""

    def __init__(self):
        self.audit = Audit()
        self.root: Root | None = None
        self.layout_done = False
        self.number = 0

    def fail(self, message: str):
        raise AuditFormatError(f"audit line {self.number}: {message}")

    def hex16(self, text: str) -> int:
        if not _HEX16.match(text):
            self.fail(f"expected a 16-digit hex address, got {text!r}")
        return int(text, 16)

    def hexnum(self, text: str, prefix: str) -> int:
        if not text.startswith(prefix) or not re.fullmatch(r"[0-9a-f]+", text[len(prefix):]):
            self.fail(f"expected {prefix}<hex>, got {text!r}")
        return int(text[len(prefix):], 16)

    def words(self, fields: list[str], count: int, what: str) -> None:
        if len(fields) != count:
            self.fail(f"`{what}` needs {count} fields, got {len(fields)}")

    def open_root(self) -> Root:
        if self.root is None:
            self.fail("run/frame line outside a root section")
        return self.root

    def line(self, text: str) -> None:
        kind, _, rest = text.partition(" ")
        fields = rest.split()
        handler = getattr(self, "on_" + kind, None)
        if handler is None:
            self.fail(f"unknown line kind {kind!r}")
        handler(fields)

    def on_begin(self, fields):
        if fields != ["v1"]:
            self.fail(f"unsupported protocol version {' '.join(fields)!r}")
        if self.root is not None:
            self.fail(f"root {self.root.label} has no total line")
        self.audit.audits += 1
        # Each boot prints the layout again; keep the first copy.
        self.layout_done = bool(self.audit.layout)

    def on_layout(self, fields):
        self.words(fields, 4, "layout")
        row = LayoutRow(self.hex16(fields[0]), self.hex16(fields[1]), fields[2], fields[3])
        if not self.layout_done:
            self.audit.layout.append(row)

    def on_root(self, fields):
        self.words(fields, 4, "root")
        if self.root is not None:
            self.fail(f"root {self.root.label} has no total line")
        subject = _SUBJECT.match(fields[1])
        pcpu = re.fullmatch(r"pcpu=(\d+)", fields[2])
        asi = re.fullmatch(r"asi=(on|off)", fields[3])
        if not (subject and pcpu and asi):
            self.fail("root line needs subject=d<D>v<V> pcpu=<C> asi=<on|off>")
        self.root = Root(fields[0], int(subject[1]), int(subject[2]), int(pcpu[1]), asi[1] == "on")

    def kind_and_verdict(self, kind: str, verdict: str, allowed=VERDICTS) -> None:
        if kind not in KINDS:
            self.fail(f"unknown frame kind {kind!r}")
        if verdict not in allowed:
            self.fail(f"unknown verdict {verdict!r}")

    def on_run(self, fields):
        root = self.open_root()
        self.words(fields, 5, "run")
        first, last = self.hex16(fields[0]), self.hex16(fields[1])
        self.kind_and_verdict(fields[2], fields[4])
        if last < first or (root.runs and first <= root.runs[-1].last):
            self.fail("runs must be non-empty and ascending")
        root.runs.append(Run(first, last, fields[2], fields[3], fields[4]))

    def on_truncated(self, fields):
        root = self.open_root()
        self.words(fields, 2, "truncated")
        match = re.fullmatch(r"runs=(\d+)", fields[1])
        if fields[0] != root.label or not match:
            self.fail("truncated line needs the root's label and runs=<N>")
        root.truncated_runs = int(match[1])

    def on_frame(self, fields):
        root = self.open_root()
        self.words(fields, 5, "frame")
        self.kind_and_verdict(fields[2], fields[4], allowed=("foreign", "bad"))
        root.findings.append(Finding(self.hex16(fields[0]), self.hexnum(fields[1], "mfn="), fields[2],
                                     fields[3], fields[4]))

    def on_total(self, fields):
        root = self.open_root()
        if not fields or fields[0] != root.label:
            self.fail(f"total line for {fields[0] if fields else '?'!r} closes root {root.label!r}")
        for item in fields[1:]:
            key, eq, value = item.partition("=")
            if not eq or not value.isdigit():
                self.fail(f"bad total field {item!r}")
            root.totals[key] = int(value)
        missing = [k for k in TOTAL_FIELDS if k not in root.totals]
        if missing:
            self.fail(f"total line lacks {', '.join(missing)}")
        self.audit.roots.append(root)
        self.root = None

    def on_end(self, fields):
        if self.root is not None:
            self.fail(f"root {self.root.label} has no total line")
        self.audit.complete += 1


def parse_audit(text: str) -> Audit:
    """All audits in a console text. Raises AuditFormatError on a malformed
    `audit:` line; a root section cut off by the end of the text is dropped
    (Audit.complete < Audit.audits tells the caller)."""
    parser = _Parser()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.startswith(PREFIX):
            continue
        parser.number = number
        parser.line(line[len(PREFIX):])
    return parser.audit


def format_table(audit: Audit) -> str:
    """The per-root table `isola audit` prints: frames per class, foreign, bad."""
    headers = ("root", "asi", "pcpu") + TOTAL_FIELDS
    rows = [(r.label, "on" if r.asi else "off", str(r.pcpu)) + tuple(str(r.totals.get(k, 0)) for k in TOTAL_FIELDS)
            for r in audit.roots]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) if i < 3 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths)))]
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines) + "\n"
