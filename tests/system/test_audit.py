#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Unit tests of `isola audit`'s pieces: the protocol parser, the per-root table, the
SVG renderer and the command itself, on the recorded sample console
(data/audit_sample.txt, written by tests/unit/audit/protocol_test.cpp from a fake
machine with per-vCPU roots) and on a fake QEMU that prints it."""
import io
import os
import stat
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from isola_cli import cli  # noqa: E402
from isola_cli.audit import boot_args, audit_parser  # noqa: E402
from isola_cli.demo import demo_guest_args  # noqa: E402
from isola_cli.audit_protocol import (AuditFormatError, TOTAL_FIELDS, format_table,  # noqa: E402
                                      parse_audit)
from isola_cli.audit_svg import (FOREIGN, HV_END, HV_FIRST, LOWER_END, Scale, guest_pos,  # noqa: E402
                                 hv_scale, render_svg)

SAMPLE = Path(__file__).resolve().parent / "data" / "audit_sample.txt"
SVG_NS = "{http://www.w3.org/2000/svg}"


def sample_text() -> str:
    return SAMPLE.read_text()


def one_root(*body: str, label: str = "r") -> str:
    """A minimal well-formed audit around some root-section lines."""
    totals = " ".join(f"{k}=0" for k in TOTAL_FIELDS)
    return "\n".join(["audit: begin v1", f"audit: root {label} subject=d1v0 pcpu=0 asi=on", *body,
                      f"audit: total {label} {totals}", "audit: end roots=1 foreign=0 bad=0"]) + "\n"


class ParseSampleTest(unittest.TestCase):
    """The recorded sample: two boots (ASI on, then off), two roots each."""

    @classmethod
    def setUpClass(cls):
        cls.audit = parse_audit(sample_text())

    def test_two_complete_audits_four_roots(self):
        self.assertEqual((self.audit.audits, self.audit.complete), (2, 2))
        self.assertEqual([(r.label, r.asi, r.pcpu) for r in self.audit.roots],
                         [("d1v0", True, 0), ("d2v1", True, 1), ("d1v0", False, 0), ("d2v1", False, 1)])

    def test_layout_rows_once(self):
        names = [row.name for row in self.audit.layout]
        self.assertEqual(len(names), 14)
        self.assertEqual(names[0], "ro_m2p")
        self.assertEqual(self.audit.layout[0].start, HV_FIRST)
        self.assertEqual(self.audit.layout[-1].last, HV_END - 1)

    def test_asi_on_roots_are_isolated(self):
        for root in self.audit.roots[:2]:
            self.assertEqual((root.totals["foreign"], root.totals["bad"]), (0, 0), root.label)
            self.assertEqual(root.findings, [])
        self.assertEqual(self.audit.violations(), [])

    def test_asi_off_exposure(self):
        root = self.audit.roots[2]
        self.assertEqual((root.totals["foreign"], root.totals["bad"]), (24, 0))
        self.assertEqual(root.totals["free"], 624)  # the directmapped pool's free frames: not a bug
        self.assertEqual(len(root.findings), 16)
        self.assertEqual((root.findings[0].kind, root.findings[0].id), ("pervcpu", "d1v1"))
        self.assertTrue(any(run.verdict == "foreign" for run in root.runs))

    def test_runs_ascend_and_totals_add_up(self):
        for root in self.audit.roots:
            for a, b in zip(root.runs, root.runs[1:]):
                self.assertLess(a.last, b.first)
            t = root.totals
            self.assertEqual(t["frames"], sum(t[k] for k in ("global", "percpu", "perdomain", "pervcpu",
                                                               "guest", "other")))
            self.assertEqual(t["other"], t["free"] + t["unusable"] + t["bootmod"] + t["outside"])


class ParseErrorTest(unittest.TestCase):
    def assert_error(self, text, pattern):
        with self.assertRaisesRegex(AuditFormatError, pattern):
            parse_audit(text)

    def test_noise_and_crlf_are_ignored(self):
        text = "Isola booting\r\n(d1) audit: not ours\r\n" + one_root().replace("\n", "\r\n")
        audit = parse_audit(text)
        self.assertEqual(len(audit.roots), 1)

    def test_run_outside_root(self):
        self.assert_error("audit: run 0000000000000000 0000000000000fff global - own\n", "line 1: .*outside")

    def test_total_must_close_its_root(self):
        self.assert_error(one_root().replace("audit: total r ", "audit: total x "), "closes root 'r'")

    def test_bad_address(self):
        self.assert_error(one_root("audit: run 0 fff global - own"), "16-digit hex")

    def test_unknown_kind_and_verdict(self):
        self.assert_error(one_root("audit: run 0000000000000000 0000000000000fff secret - own"), "kind")
        self.assert_error(one_root("audit: run 0000000000000000 0000000000000fff global - maybe"), "verdict")

    def test_runs_must_ascend(self):
        run = "audit: run 0000000000001000 0000000000001fff global - own"
        self.assert_error(one_root(run, run), "ascending")

    def test_unknown_line_kind(self):
        self.assert_error("audit: bogus 1\n", "line 1: unknown line kind 'bogus'")

    def test_missing_total_field(self):
        self.assert_error(one_root().replace(" foreign=0", ""), "lacks foreign")

    def test_unclosed_root_before_next(self):
        text = "audit: begin v1\naudit: root a subject=d1v0 pcpu=0 asi=on\naudit: root b subject=d1v0 pcpu=0 asi=on\n"
        self.assert_error(text, "line 3: root a has no total")

    def test_cut_off_audit_is_incomplete(self):
        audit = parse_audit("audit: begin v1\naudit: root a subject=d1v0 pcpu=0 asi=on\n")
        self.assertEqual((audit.audits, audit.complete, audit.roots), (1, 0, []))

    def test_finding_and_truncated_lines(self):
        audit = parse_audit(one_root("audit: truncated r runs=7",
                                     "audit: frame ffff830000000000 mfn=584 pervcpu d1v1 foreign"))
        root = audit.roots[0]
        self.assertEqual(root.truncated_runs, 7)
        self.assertEqual((root.findings[0].va, root.findings[0].mfn), (0xFFFF830000000000, 0x584))


class TableTest(unittest.TestCase):
    def test_one_row_per_root_with_counts(self):
        lines = format_table(parse_audit(sample_text())).splitlines()
        self.assertEqual(lines[0].split(), ["root", "asi", "pcpu", *TOTAL_FIELDS])
        self.assertEqual(len(lines), 5)
        off = lines[3].split()
        self.assertEqual(off[:3], ["d1v0", "off", "0"])
        self.assertEqual(off[3 + TOTAL_FIELDS.index("foreign")], "24")


class SvgTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.audit = parse_audit(sample_text())
        cls.svg = render_svg(cls.audit)
        cls.tree = ET.fromstring(cls.svg)

    def test_well_formed_with_a_band_per_root(self):
        groups = self.tree.findall(f"{SVG_NS}g")
        self.assertEqual([(g.get("data-label"), g.get("data-asi")) for g in groups],
                         [("d1v0", "on"), ("d2v1", "on"), ("d1v0", "off"), ("d2v1", "off")])

    def test_foreign_runs_are_red_only_where_foreign(self):
        groups = self.tree.findall(f"{SVG_NS}g")
        red = [sum(1 for r in g.iter(f"{SVG_NS}rect") if r.get("fill") == FOREIGN) for g in groups]
        self.assertEqual(red[:2], [0, 0])
        self.assertGreater(red[2], 0)

    def test_every_run_has_a_tooltip(self):
        titles = [t.text for t in self.tree.iter(f"{SVG_NS}title") if t.text and " pages): " in t.text]
        self.assertEqual(len(titles), sum(len(r.runs) for r in self.audit.roots))

    def test_legend_and_totals(self):
        texts = [t.text for t in self.tree.iter(f"{SVG_NS}text")]
        self.assertIn("foreign (any class)", texts)
        self.assertIn("foreign 24 · bad 0", texts)
        self.assertIn("cpu_stacks", texts)

    def test_runs_stay_inside_the_drawing(self):
        width = float(self.tree.get("width"))
        for rect in self.tree.iter(f"{SVG_NS}rect"):
            x, w = float(rect.get("x", 0)), float(rect.get("width"))
            self.assertGreaterEqual(x, 0)
            self.assertLessEqual(x + w, width + 4)  # minimum widths may poke out a little

    def test_empty_audit_still_draws(self):
        ET.fromstring(render_svg(parse_audit("")))

    def test_label_is_escaped(self):
        svg = render_svg(parse_audit(one_root(label="<a&b>")))
        self.assertIn("&lt;a&amp;b&gt;", svg)
        ET.fromstring(svg)


class ScaleTest(unittest.TestCase):
    def test_monotonic_and_covering(self):
        scale = Scale(0, 1 << 30, [4096, 1 << 21, 1 << 21, 5 << 20], 100.0, 1000.0)
        xs = [scale.x(p) for p in (0, 4096, 1 << 21, 5 << 20, 1 << 30)]
        self.assertEqual(xs[0], 100.0)
        self.assertAlmostEqual(xs[-1], 1100.0)
        self.assertEqual(xs, sorted(xs))
        self.assertEqual(scale.x(-5), 100.0)  # clamped

    def test_small_regions_stay_visible(self):
        scale = hv_scale(parse_audit(sample_text()))
        stack = 0xFFFF82D000001000  # pCPU 0's primary stack: 16 KiB
        self.assertGreater(scale.x(stack + 0x4000) - scale.x(stack), 1.0)

    def test_guest_positions_skip_the_hole_and_hypervisor(self):
        self.assertEqual(guest_pos(0x1000), 0x1000)
        self.assertEqual(guest_pos(HV_END), LOWER_END)


FAKE_QEMU = """\
#!{python}
import sys
argv = sys.argv[1:]
cmdline = argv[argv.index("-append") + 1].split()
sample = open({sample!r}).read().split("audit: begin v1")
if "audit" not in cmdline:
    sys.exit(2 * 2 + 1)
if "fail" in cmdline:
    print("isola: bad command line: unknown option 'fail'"); sys.exit(2 * 2 + 1)
print("Isola hypervisor fake")
if "silent" not in cmdline:
    session = sample[1] if "asi=on" in cmdline else sample[2]
    print("audit: begin v1" + session, end="")
sys.exit(1)
"""


class AuditCommandTest(unittest.TestCase):
    """`isola audit` end to end, with --from and with a fake QEMU printing the sample."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)
        qemu = self.dir / "qemu-system-x86_64"
        qemu.write_text(FAKE_QEMU.format(python=sys.executable, sample=str(SAMPLE)))
        qemu.chmod(qemu.stat().st_mode | stat.S_IXUSR)
        (self.dir / "isola.bin").write_bytes(b"\0")
        self.guest = self.dir / "g.elf"
        self.guest.write_bytes(b"")
        env = {"PATH": f"{self.dir}{os.pathsep}{os.environ.get('PATH', '')}",
               "ISOLA_IMAGE": str(self.dir / "isola.bin")}
        patcher = mock.patch.dict(os.environ, env)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.svg = self.dir / "out" / "audit.svg"

    def run_cli(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            status = cli.main(["audit", *argv])
        return status, out.getvalue(), err.getvalue()

    def test_from_file(self):
        status, out, err = self.run_cli("--from", str(SAMPLE), "--out", str(self.svg))
        self.assertEqual(status, 0, err)
        self.assertEqual(len(out.splitlines()), 5)
        self.assertIn(f"isola: wrote {self.svg}", err)
        ET.parse(self.svg)

    def test_boots_on_and_off(self):
        status, out, err = self.run_cli("--no-build", "--out", str(self.svg), str(self.guest))
        self.assertEqual(status, 0, err)
        self.assertEqual([line.split()[:2] for line in out.splitlines()[1:]],
                         [["d1v0", "on"], ["d2v1", "on"], ["d1v0", "off"], ["d2v1", "off"]])

    def test_asi_on_violation_is_status_1(self):
        text = sample_text().replace("subject=d1v0 pcpu=0 asi=off", "subject=d1v0 pcpu=0 asi=on")
        console = self.dir / "console.txt"
        console.write_text(text)
        status, _, err = self.run_cli("--from", str(console), "--out", str(self.svg))
        self.assertEqual(status, 1)
        self.assertIn("reaches 24 foreign and 0 free frames", err)

    def test_no_audit_lines_is_status_1(self):
        status, _, err = self.run_cli("--no-build", "--out", str(self.svg), str(self.guest), "--", "silent")
        self.assertEqual(status, 1)
        self.assertIn("printed no audit: lines", err)
        self.assertFalse(self.svg.exists())

    def test_failed_boot_passes_its_status(self):
        status, _, err = self.run_cli("--no-build", "--asi", "on", str(self.guest), "--", "fail")
        self.assertEqual(status, 2)
        self.assertIn("the asi=on boot ended with status 2", err)
        self.assertIn("unknown option 'fail'", err)

    def test_malformed_audit_is_one_line(self):
        console = self.dir / "bad.txt"
        console.write_text("audit: run 0 0 x - own\n")
        status, _, err = self.run_cli("--from", str(console))
        self.assertEqual(status, 1)
        self.assertEqual(err, "isola: audit line 1: run/frame line outside a root section\n")

    def test_missing_from_file_is_2(self):
        status, _, err = self.run_cli("--from", str(self.dir / "nope.txt"))
        self.assertEqual(status, 2)
        self.assertIn("cannot read", err)

    def test_boot_args(self):
        ns = audit_parser().parse_args(["--smp", "4", "--mem", "512", "--timeout", "9", "g.elf:x=1"])
        self.assertEqual(boot_args(ns, ["hvpool=32M"], "off"),
                         ["--smp", "4", "--timeout", "9", "--mem", "512", "g.elf:x=1", "--", "audit", "asi=off",
                          "hvpool=32M"])

    def test_default_guests_are_the_demos(self):
        args = boot_args(audit_parser().parse_args([]), [], "on")
        self.assertEqual(args[4:6], demo_guest_args(), args)
        self.assertTrue(args[4].endswith("smp_tlb.elf:name=tlb vcpus=2"), args)

    def test_help_mentions_audit(self):
        with redirect_stdout(io.StringIO()) as top:
            self.assertEqual(cli.main(["--help"]), 0)
        self.assertIn("audit   boot with ASI on and off", top.getvalue())

if __name__ == "__main__":
    unittest.main()
