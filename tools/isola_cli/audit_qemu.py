# SPDX-License-Identifier: MIT
"""Cross-check of the audit walker against QEMU's own view of the page tables (pure parts).

With the hypervisor option `audit-point=<cpu>` pCPU <cpu> stops at its first guest entry,
prints every mapping of the root it has loaded (`audit: point ...` and `audit: map ...` lines,
include/hv/audit/protocol.hpp) and halts. QEMU's monitor then shows the same root from the
outside: `info registers` (CR3), `info tlb` (every leaf: VA, frame, the leaf's own bits) and
`info mem` (VA ranges with the rights a translation grants). This module parses the four texts
and compares them: every page QEMU shows must be one the walker enumerated, with the same
frame, the same leaf bits and the same effective rights, and the other way round.

Documented differences, each asserted rather than ignored silently:
  - `audit: point volatile` ranges (the stopped pCPU's mapcache window, which the walk itself
    uses) are left out on both sides;
  - `info mem` shows no execute right, so the effective `x` is compared only through the
    leaf's own NX bit (`info tlb`);
  - accessed, dirty, cache and PAT bits are not compared (the CPU sets A/D as it runs).
"""
import re
from dataclasses import dataclass, field

KIB4, MIB2, GIB1 = 1 << 12, 1 << 21, 1 << 30
CR3_ADDRESS = 0x000F_FFFF_FFFF_F000  # CR3 without PCID and flag bits

_POINT_BEGIN = re.compile(r"^audit: point begin cpu=(\d+) root=([0-9a-f]{16}) label=(\S+)$")
_POINT_VOLATILE = re.compile(r"^audit: point volatile ([0-9a-f]{16}) ([0-9a-f]{16}) (\S+)$")
_POINT_END = re.compile(r"^audit: point end cpu=(\d+) root=([0-9a-f]{16}) maps=(\d+)$")
_MAP = re.compile(r"^audit: map ([0-9a-f]{16}) ([0-9a-f]{16}) ([0-9a-f]+) eff=([u-][w-][x-]) leaf=([u-][w-][x-][g-])$")
# QEMU 7.2 target/i386/monitor.c: "VA: PA XGPDACTUW" (leaf bits only, '-' when clear).
_TLB = re.compile(r"^([0-9a-f]{16}): ([0-9a-f]{16}) ([X-])([G-])([P-])([D-])([A-])([C-])([T-])([U-])([W-])$")
# "start-end size urw" (effective user and write; read always).
_MEM = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16}) ([0-9a-f]{16}) ([u-])r([w-])$")
_CR3 = re.compile(r"\bCR3=([0-9a-f]{16})\b")


class QemuViewError(ValueError):
    """A text that is not what the parser expects; the message says which line."""


@dataclass(frozen=True)
class Piece:
    """VAs [first, end) mapping frames from `maddr` on with the same bits.
    leaf: (user, write, exec, global) of the leaf entry; eff: (user, write) granted."""
    first: int
    end: int
    maddr: int
    leaf: tuple
    eff: tuple

    def describe(self) -> str:
        leaf = "".join(c if on else "-" for c, on in zip("uwxg", self.leaf))
        eff = "".join(c if on else "-" for c, on in zip("uw", self.eff))
        return f"{self.first:016x}-{self.end - 1:016x} -> {self.maddr:x} leaf={leaf} eff={eff}"


@dataclass
class AuditPoint:
    cpu: int
    root: int
    label: str
    pieces: list[Piece] = field(default_factory=list)
    volatile: list[tuple[int, int]] = field(default_factory=list)  # [first, end)
    complete: bool = False


def parse_audit_point(console: str) -> AuditPoint:
    """The first audit point of a console; QemuViewError if there is none or it is malformed."""
    point = None
    for number, line in enumerate(console.splitlines(), 1):
        line = line.rstrip("\r")
        if point is None:
            m = _POINT_BEGIN.match(line)
            if m:
                point = AuditPoint(int(m[1]), int(m[2], 16), m[3])
            continue
        if m := _MAP.match(line):
            first, last = int(m[1], 16), int(m[2], 16)
            eff, leaf = m[4], m[5]
            point.pieces.append(Piece(first, last + 1, int(m[3], 16),
                                      tuple(c != "-" for c in leaf), (eff[0] == "u", eff[1] == "w")))
        elif m := _POINT_VOLATILE.match(line):
            point.volatile.append((int(m[1], 16), int(m[2], 16) + 1))
        elif m := _POINT_END.match(line):
            if int(m[3]) != len(point.pieces):
                raise QemuViewError(f"line {number}: maps={m[3]} but {len(point.pieces)} map lines")
            point.complete = True
            return point
        elif line.startswith("audit: "):
            raise QemuViewError(f"line {number}: unexpected audit line inside the point: {line!r}")
    if point is None:
        raise QemuViewError("no `audit: point begin` line in the console")
    raise QemuViewError("the audit point has no `audit: point end` line")


def parse_cr3(info_registers: str) -> int:
    m = _CR3.search(info_registers)
    if not m:
        raise QemuViewError("no CR3= in `info registers`")
    return int(m[1], 16)


def parse_info_mem(text: str) -> list[tuple[int, int, tuple]]:
    """[(first, end, (user, write))], ascending."""
    ranges = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = _MEM.match(line)
        if not m:
            raise QemuViewError(f"unexpected `info mem` line: {line!r}")
        first, end = int(m[1], 16), int(m[2], 16)
        # The range that ends at the top of the address space prints its end as 0001000000000000
        # (1 << 48, which addr_canonical leaves alone): below its start.
        ranges.append((first, end if end > first else 1 << 64, (m[4] == "u", m[5] == "w")))
    return ranges


def _covered(ranges: list[tuple[int, int, tuple]], first: int, end: int) -> bool:
    """Whether `info mem` ranges cover [first, end) without a hole."""
    at = first
    for r_first, r_end, _ in ranges:
        if r_end <= at or r_first > at:
            continue
        at = r_end
        if at >= end:
            return True
    return at >= end


def _leaf_size(va: int, pa: int, large: bool, next_va: int | None, mem: list) -> int:
    """`info tlb` prints a large page without its size. A 1 GiB-aligned large page is 1 GiB
    when nothing else is listed inside that GiB and `info mem` maps all of it; else 2 MiB."""
    if not large:
        return KIB4
    if va % GIB1 == 0 and pa % GIB1 == 0 and (next_va is None or next_va >= va + GIB1) \
            and _covered(mem, va, va + GIB1):
        return GIB1
    return MIB2


def parse_info_tlb(text: str, mem: list) -> list[Piece]:
    """One piece per `info tlb` line, effective rights still unknown (filled by qemu_pieces)."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = _TLB.match(line)
        if not m:
            raise QemuViewError(f"unexpected `info tlb` line: {line!r}")
        rows.append((int(m[1], 16), int(m[2], 16), m[5] == "P",
                     (m[10] == "U", m[11] == "W", m[3] != "X", m[4] == "G")))
    pieces = []
    for i, (va, pa, large, leaf) in enumerate(rows):
        next_va = rows[i + 1][0] if i + 1 < len(rows) else None
        size = _leaf_size(va, pa, large, next_va, mem)
        pieces.append(Piece(va, va + size, pa, leaf, ()))
    return pieces


def _with_effective(pieces: list[Piece], mem: list) -> list[Piece]:
    """Splits QEMU's leaves at `info mem` boundaries and gives each part its rights; a leaf
    page `info mem` does not list gets eff=None, which never matches (reported as a difference)."""
    out = []
    j = 0
    for p in pieces:
        at = p.first
        while at < p.end:
            while j < len(mem) and mem[j][1] <= at:
                j += 1
            if j < len(mem) and mem[j][0] <= at:
                end = min(p.end, mem[j][1])
                eff = mem[j][2]
            else:
                end = min(p.end, mem[j][0]) if j < len(mem) else p.end
                eff = None
            out.append(Piece(at, end, p.maddr + (at - p.first), p.leaf, eff))
            at = end
    return out


def _clip(pieces: list[Piece], volatile: list[tuple[int, int]]) -> list[Piece]:
    """Removes the volatile ranges from every piece."""
    out = []
    for p in pieces:
        parts = [p]
        for v_first, v_end in volatile:
            next_parts = []
            for q in parts:
                if q.end <= v_first or q.first >= v_end:
                    next_parts.append(q)
                    continue
                if q.first < v_first:
                    next_parts.append(Piece(q.first, v_first, q.maddr, q.leaf, q.eff))
                if q.end > v_end:
                    next_parts.append(Piece(v_end, q.end, q.maddr + (v_end - q.first), q.leaf, q.eff))
            parts = next_parts
        out += parts
    return out


def canonical(pieces: list[Piece]) -> list[Piece]:
    """Sorted, with neighbours that continue each other (next VA, next frame, same bits)
    merged: two views of the same mappings give the same list, however they were cut."""
    out: list[Piece] = []
    for p in sorted(pieces, key=lambda q: q.first):
        last = out[-1] if out else None
        if last and last.end == p.first and last.maddr + (last.end - last.first) == p.maddr \
                and last.leaf == p.leaf and last.eff == p.eff:
            out[-1] = Piece(last.first, p.end, last.maddr, last.leaf, last.eff)
        else:
            out.append(p)
    return out


def qemu_pieces(info_tlb: str, info_mem: str) -> list[Piece]:
    mem = parse_info_mem(info_mem)
    return _with_effective(parse_info_tlb(info_tlb, mem), mem)


@dataclass
class Comparison:
    ours: list[Piece]
    qemu: list[Piece]
    only_ours: list[Piece]
    only_qemu: list[Piece]
    cr3_matches: bool

    @property
    def ok(self) -> bool:
        return self.cr3_matches and not self.only_ours and not self.only_qemu

    def pages(self, pieces: list[Piece] | None = None) -> int:
        return sum((p.end - p.first) // KIB4 for p in (self.ours if pieces is None else pieces))


def compare(point: AuditPoint, cr3: int, info_tlb: str, info_mem: str) -> Comparison:
    """The walker's view against QEMU's, volatile ranges left out, both canonical."""
    ours = canonical(_clip(point.pieces, point.volatile))
    theirs = canonical(_clip(qemu_pieces(info_tlb, info_mem), point.volatile))
    ours_set, theirs_set = set(ours), set(theirs)
    return Comparison(ours, theirs, [p for p in ours if p not in theirs_set],
                      [p for p in theirs if p not in ours_set], (cr3 & CR3_ADDRESS) == point.root)


def report(point: AuditPoint, result: Comparison, limit: int = 8) -> str:
    """Human-readable verdict: one summary line, then the first differences of each side."""
    lines = [f"audit point: pCPU {point.cpu} root {point.root:x} ({point.label}): "
             f"{len(result.ours)} stretches, {result.pages()} pages by the walker; "
             f"{len(result.qemu)} stretches, {result.pages(result.qemu)} pages by QEMU; "
             f"{'CR3 matches' if result.cr3_matches else 'CR3 DIFFERS'}; "
             f"{'identical' if result.ok else 'DIFFERENT'}"]
    for title, pieces in (("only the walker", result.only_ours), ("only QEMU", result.only_qemu)):
        for p in pieces[:limit]:
            lines.append(f"  {title}: {p.describe()}")
        if len(pieces) > limit:
            lines.append(f"  {title}: ... {len(pieces) - limit} more")
    return "\n".join(lines) + "\n"
