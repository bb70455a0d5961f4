#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Unit tests of the audit-vs-QEMU cross-check (tools/isola_cli/audit_qemu.py) on a recorded
run (data/audit_qemu/: the `audit: point`/`audit: map` lines of the console and QEMU 7.2's
`info registers`, `info tlb` and `info mem` for the stopped pCPU, from the system test
audit_qemu_asi_on with 2 pCPUs, `traps` and `memory_checksum`) and on small edits of it that
each view must notice."""
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from isola_cli.audit_qemu import (GIB1, MIB2, Piece, QemuViewError, canonical, compare,  # noqa: E402
                                  parse_audit_point, parse_cr3, parse_info_mem, parse_info_tlb, report)

DATA = Path(__file__).resolve().parent / "data" / "audit_qemu"


def sample(name: str) -> str:
    return (DATA / f"{name}.txt").read_text()


class RecordedSample(unittest.TestCase):
    def setUp(self):
        self.console, self.tlb, self.mem = sample("console"), sample("info_tlb"), sample("info_mem")
        self.cr3 = parse_cr3(sample("info_registers"))
        self.point = parse_audit_point(self.console)

    def result(self, console=None, tlb=None, mem=None, cr3=None):
        point = parse_audit_point(console) if console is not None else self.point
        return compare(point, self.cr3 if cr3 is None else cr3, self.tlb if tlb is None else tlb,
                       self.mem if mem is None else mem)

    def test_point_header(self):
        self.assertEqual((self.point.cpu, self.point.label), (1, "d2v0-kernel"))
        self.assertTrue(self.point.complete)
        self.assertEqual(len(self.point.volatile), 1)

    def test_views_agree(self):
        result = self.result()
        self.assertTrue(result.ok, report(self.point, result))
        self.assertGreater(result.pages(), 1000)
        self.assertEqual(result.pages(), result.pages(result.qemu))

    def test_the_volatile_window_is_needed(self):
        """The walk's own mapcache slot shows in our dump and not in QEMU's: without the
        documented exclusion the views differ exactly there."""
        self.point.volatile = []
        result = self.result()
        self.assertFalse(result.ok)
        self.assertTrue(all(0xffff82d060000000 <= p.first < 0xffff82d080000000 for p in result.only_ours))
        self.assertEqual(result.only_qemu, [])

    def test_a_different_frame_is_noticed(self):
        line = next(l for l in self.tlb.splitlines() if l.startswith("0000000000001000:"))
        changed = line.replace(line[18:34], "0000000000999000")
        result = self.result(tlb=self.tlb.replace(line, changed))
        self.assertFalse(result.ok)
        self.assertTrue(any(p.first <= 0x1000 < p.end for p in result.only_ours))
        self.assertTrue(any(p.first == 0x1000 and p.maddr == 0x999000 for p in result.only_qemu))

    def test_a_missing_page_is_noticed(self):
        lines = self.tlb.splitlines()
        result = self.result(tlb="\n".join(lines[:10] + lines[11:]) + "\n")
        self.assertFalse(result.ok)
        self.assertTrue(result.only_ours)

    def test_leaf_bits_are_compared(self):
        line = next(l for l in self.tlb.splitlines() if l.endswith("UW"))
        result = self.result(tlb=self.tlb.replace(line, line[:-1] + "-", 1))
        self.assertFalse(result.ok)

    def test_global_bit_is_compared(self):
        line = next(l for l in self.tlb.splitlines() if " XG" in l)
        result = self.result(tlb=self.tlb.replace(line, line.replace(" XG", " X-"), 1))
        self.assertFalse(result.ok)

    def test_effective_rights_are_compared(self):
        line = next(l for l in self.mem.splitlines() if l.endswith(" urw"))
        result = self.result(mem=self.mem.replace(line, line[:-3] + "ur-", 1))
        self.assertFalse(result.ok)

    def test_cr3_must_be_the_printed_root(self):
        self.assertTrue(self.result(cr3=self.point.root | 0x8000000000000005).cr3_matches)  # PCID bits ignored
        result = self.result(cr3=self.point.root + 0x1000)
        self.assertFalse(result.cr3_matches)
        self.assertFalse(result.ok)
        self.assertIn("CR3 DIFFERS", report(self.point, result))

    def test_report_lists_differences(self):
        lines = self.tlb.splitlines()
        result = self.result(tlb="\n".join(lines[1:]) + "\n")
        text = report(self.point, result)
        self.assertIn("DIFFERENT", text)
        self.assertIn("only the walker: 0000000000000000-", text)


class Parsers(unittest.TestCase):
    def test_large_pages_take_their_size_from_the_neighbours(self):
        mem = parse_info_mem("ffff830000000000-ffff830040000000 0000000040000000 -rw\n"
                             "ffff830040000000-ffff830040200000 0000000000200000 -rw\n")
        tlb = ("ffff830000000000: 0000000040000000 XGPDA---W\n"
               "ffff830040000000: 0000000080000000 XGPDA---W\n")
        pieces = parse_info_tlb(tlb, mem)
        self.assertEqual([p.end - p.first for p in pieces], [GIB1, MIB2])

    def test_a_2m_page_at_a_gib_boundary_followed_by_more(self):
        mem = parse_info_mem("ffff830000000000-ffff830000201000 0000000000201000 -rw\n")
        tlb = ("ffff830000000000: 0000000040000000 XGPDA---W\n"
               "ffff830000200000: 0000000000005000 XG-DA---W\n")
        self.assertEqual(parse_info_tlb(tlb, mem)[0].end, 0xffff830000200000)

    def test_info_mem_range_ending_at_the_top(self):
        ranges = parse_info_mem("ffffff8000000000-0001000000000000 0000008000000000 -rw\n")
        self.assertEqual(ranges[0][1], 1 << 64)

    def test_malformed_lines(self):
        with self.assertRaises(QemuViewError):
            parse_info_tlb("ffff830000000000 0000000040000000 XGPDA---W\n", [])
        with self.assertRaises(QemuViewError):
            parse_info_mem("nonsense\n")
        with self.assertRaises(QemuViewError):
            parse_cr3("RAX=0\n")

    def test_point_errors(self):
        begin = "audit: point begin cpu=1 root=0000000000001000 label=x\n"
        with self.assertRaises(QemuViewError):
            parse_audit_point("no point here\n")
        with self.assertRaises(QemuViewError):
            parse_audit_point(begin)
        with self.assertRaises(QemuViewError):
            parse_audit_point(begin + "audit: point end cpu=1 root=0000000000001000 maps=1\n")
        with self.assertRaises(QemuViewError):
            parse_audit_point(begin + "audit: map 0 1 2 eff=--- leaf=----\n")

    def test_canonical_merges_continuations_only(self):
        a = Piece(0x1000, 0x2000, 0x5000, (True, True, False, False), (True, True))
        b = Piece(0x2000, 0x3000, 0x6000, (True, True, False, False), (True, True))
        c = Piece(0x3000, 0x4000, 0x8000, (True, True, False, False), (True, True))
        self.assertEqual(canonical([c, b, a]), [Piece(0x1000, 0x3000, 0x5000, a.leaf, a.eff), c])


if __name__ == "__main__":
    unittest.main(verbosity=2)
