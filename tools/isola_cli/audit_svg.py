# SPDX-License-Identifier: MIT
"""Draw a parsed isolation audit as one SVG (standard library only).

One horizontal band per root: x is the virtual address over the hypervisor's L4
slots 256-271, with a thin band below for the guest's slots (0-255 and 272-511).
Regions are coloured by frame class; foreign frames are red, mapped free frames
black. The x axis is compressed: every stretch between two interesting addresses
(slot, layout and run boundaries) gets a width that grows with the logarithm of
its size, so a 4 KiB stack page and a 512 GiB slot are both visible, in order.
Hovering a region shows its exact range (SVG <title>).
"""
import bisect
import math
from xml.sax.saxutils import escape, quoteattr

from .audit_protocol import Audit, Root, Run

HV_FIRST = 0xFFFF800000000000          # L4 slot 256
HV_END = 0xFFFF880000000000            # end of slot 271
SLOT_SIZE = 1 << 39
LOWER_END = 1 << 47                    # end of the lower canonical half
TOP = 1 << 64

COLOURS = {
    "global": "#9c9c9c",
    "percpu": "#4e79a7",
    "perdomain": "#59a14f",
    "pervcpu": "#b07aa1",
    "guest": "#f28e2b",
    "unusable": "#d8cfb4",
    "bootmod": "#d8cfb4",
    "outside": "#e9e2c9",
    "free": "#000000",
}
FOREIGN = "#e0201b"
BAD = "#000000"
LEGEND = (("global", "global"), ("per-pCPU (own)", "percpu"), ("per-domain (own)", "perdomain"),
          ("per-vCPU (own)", "pervcpu"), ("guest (own)", "guest"), ("other (MMIO, unusable, modules)", "outside"))

WIDTH = 1280
LEFT = 190             # room for the root labels
RIGHT = 16
HEADER = 150           # title, region names, slot numbers
BAND = 26              # hypervisor slots
GUEST_BAND = 9         # guest slots
ROOT_PITCH = BAND + GUEST_BAND + 30
MIN_RUN = 1.5          # narrowest drawn run, in pixels
MIN_FLAGGED = 3.0      # narrowest foreign or bad run


class Scale:
    """Maps a position (an address, or a guest position) to x, piecewise linear
    between sorted break points; each piece's width ~ 1 + log2(pages)."""

    def __init__(self, lo: int, hi: int, points, x0: float, width: float):
        pts = sorted({lo, hi} | {p for p in points if lo < p < hi})
        weights = [1.0 + math.log2(max(1, (b - a) // 4096)) for a, b in zip(pts, pts[1:])]
        total = sum(weights)
        self.points = pts
        self.xs = [x0]
        for w in weights:
            self.xs.append(self.xs[-1] + width * w / total)

    def x(self, pos: int) -> float:
        pts = self.points
        pos = min(max(pos, pts[0]), pts[-1])
        i = min(bisect.bisect_right(pts, pos) - 1, len(pts) - 2)
        a, b = pts[i], pts[i + 1]
        return self.xs[i] + (self.xs[i + 1] - self.xs[i]) * (pos - a) / (b - a)


def guest_pos(va: int) -> int:
    """Guest slots as one line: the lower half, then slots 272-511."""
    return va if va < LOWER_END else LOWER_END + (va - HV_END)


GUEST_POS_END = guest_pos(TOP - 1) + 1


def is_hypervisor(run: Run) -> bool:
    return HV_FIRST <= run.first < HV_END


def run_colour(run: Run) -> str:
    if run.verdict == "foreign":
        return FOREIGN
    if run.verdict == "bad":
        return BAD
    return COLOURS.get(run.kind, "#cccccc")


def hv_scale(audit: Audit) -> Scale:
    points = [HV_FIRST + i * SLOT_SIZE for i in range(17)]
    for row in audit.layout:
        points += [row.start, row.last + 1]
    for root in audit.roots:
        for run in root.runs:
            if is_hypervisor(run):
                points += [run.first, run.last + 1]
    return Scale(HV_FIRST, HV_END, points, LEFT, WIDTH - LEFT - RIGHT)


def guest_scale(audit: Audit) -> Scale:
    points = [LOWER_END]
    for root in audit.roots:
        for run in root.runs:
            if not is_hypervisor(run):
                points += [guest_pos(run.first), guest_pos(run.last) + 1]
    return Scale(0, GUEST_POS_END, points, LEFT, WIDTH - LEFT - RIGHT)


def _rect(x: float, y: float, w: float, h: float, fill: str, title: str | None = None, extra: str = "") -> str:
    body = f"<title>{escape(title)}</title>" if title else ""
    return (f'<rect x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" height="{h:.2f}" fill="{fill}"{extra}>'
            f"{body}</rect>" if body else
            f'<rect x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" height="{h:.2f}" fill="{fill}"{extra}/>')


def _text(x: float, y: float, text: str, extra: str = "") -> str:
    return f'<text x="{x:.2f}" y="{y:.2f}"{extra}>{escape(text)}</text>'


def _run_title(run: Run) -> str:
    return (f"{run.first:016x}-{run.last:016x} ({run.pages} pages): {run.kind} {run.id} "
            f"{run.verdict}")


def _header(audit: Audit, scale: Scale, height: int) -> list[str]:
    """Layout regions as shaded columns with vertical names, and slot numbers."""
    out = [_text(LEFT, 22, "Isola isolation audit: what each root table can reach",
                 ' font-size="16" font-weight="bold"')]
    for i, row in enumerate(audit.layout):
        x0, x1 = scale.x(row.start), scale.x(row.last + 1)
        shade = "#f3f3f3" if i % 2 == 0 else "#fbfbfb"
        out.append(_rect(x0, HEADER - 110, x1 - x0, height - HEADER + 110, shade, f"{row.name} ({row.isolation})"))
        cx = (x0 + x1) / 2 + 3
        out.append(_text(cx, HEADER - 30, row.name, f' font-size="10" transform="rotate(-90 {cx:.2f} {HEADER - 30})"'))
    for slot in range(256, 272):
        x = scale.x(slot_base(slot))
        out.append(f'<line x1="{x:.2f}" y1="{HEADER - 24}" x2="{x:.2f}" y2="{HEADER - 6}" stroke="#888"/>')
        out.append(_text(x + 2, HEADER - 12, str(slot), ' font-size="9" fill="#555"'))
    out.append(_text(8, HEADER - 12, "L4 slot", ' font-size="9" fill="#555"'))
    return out


def slot_base(slot: int) -> int:
    """The first address of hypervisor L4 slot `slot` (256-271)."""
    return HV_FIRST + (slot - 256) * SLOT_SIZE


def _totals_text(root: Root) -> str:
    t = root.totals
    parts = [f"frames {t.get('frames', 0)}"] + [f"{k} {t.get(k, 0)}" for k in
                                                 ("global", "percpu", "perdomain", "pervcpu", "guest", "other")]
    return " · ".join(parts)


def _root(root: Root, y: float, hv: Scale, guest: Scale) -> list[str]:
    out = [f"<g class=\"root\" data-label={quoteattr(root.label)} data-asi=\"{'on' if root.asi else 'off'}\">",
           _text(8, y + 12, root.label, ' font-size="13" font-weight="bold"'),
           _text(8, y + 26, f"d{root.domain}v{root.vcpu} on pCPU {root.pcpu}, asi={'on' if root.asi else 'off'}",
                 ' font-size="10" fill="#444"'),
           _rect(LEFT, y, WIDTH - LEFT - RIGHT, BAND, "#ffffff", extra=' stroke="#bbb"'),
           _rect(LEFT, y + BAND + 2, WIDTH - LEFT - RIGHT, GUEST_BAND, "#ffffff", extra=' stroke="#ddd"')]
    # Own runs first, so that small flagged runs are drawn on top.
    ordered = sorted(root.runs, key=lambda r: r.verdict in ("foreign", "bad"))
    for run in ordered:
        flagged = run.verdict in ("foreign", "bad")
        if is_hypervisor(run):
            x0, x1, top, h = hv.x(run.first), hv.x(run.last + 1), y, BAND
        else:
            x0, x1, top, h = guest.x(guest_pos(run.first)), guest.x(guest_pos(run.last) + 1), y + BAND + 2, GUEST_BAND
        w = max(x1 - x0, MIN_FLAGGED if flagged else MIN_RUN)
        out.append(_rect(x0, top, w, h, run_colour(run), _run_title(run)))
    foreign, bad = root.totals.get("foreign", 0), root.totals.get("bad", 0)
    ty = y + BAND + GUEST_BAND + 14
    out.append(_text(LEFT, ty, _totals_text(root), ' font-size="10" fill="#333"'))
    flag = ' font-size="11" font-weight="bold" fill="{}" text-anchor="end"'.format(FOREIGN if foreign or bad else "#2a7d2a")
    out.append(_text(WIDTH - RIGHT, ty, f"foreign {foreign} · bad {bad}", flag))
    if root.truncated_runs:
        out.append(_text(LEFT + 420, ty, f"({root.truncated_runs} runs not printed)", ' font-size="10" fill="#a00"'))
    out.append("</g>")
    return out


def _legend(y: float) -> list[str]:
    out = []
    x = LEFT
    entries = [(label, COLOURS[kind]) for label, kind in LEGEND] + [("foreign (any class)", FOREIGN),
                                                                    ("mapped free frame", BAD)]
    for label, colour in entries:
        out.append(_rect(x, y - 9, 12, 12, colour, extra=' stroke="#666"'))
        out.append(_text(x + 16, y + 1, label, ' font-size="11"'))
        x += 28 + 6.2 * len(label)
    out.append(_text(LEFT, y + 20, "x: virtual address, log-compressed; thick band: hypervisor slots 256-271, "
                                   "thin band: guest slots 0-255 and 272-511", ' font-size="10" fill="#555"'))
    return out


def render_svg(audit: Audit) -> str:
    """The whole drawing as an SVG document."""
    hv, guest = hv_scale(audit), guest_scale(audit)
    height = HEADER + ROOT_PITCH * max(1, len(audit.roots)) + 50
    body = _header(audit, hv, height - 50)
    for i, root in enumerate(audit.roots):
        body += _root(root, HEADER + 8 + i * ROOT_PITCH, hv, guest)
    body += _legend(height - 30)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">\n'
            f"<title>{escape('Isola isolation audit')}</title>\n"
            f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>\n'
            + "\n".join(body) + "\n</svg>\n")
