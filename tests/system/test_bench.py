#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Unit tests of `isola bench`'s pure parts: reading bench and event lines, planning the
boots, per-operation numbers and the cycle model, the Markdown/CSV/SVG report and the Google
Benchmark table. No QEMU: consoles are literal strings."""
import csv
import io
import sys
import unittest
import xml.dom.minidom
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from isola_cli import bench, bench_gbench, bench_report  # noqa: E402
from isola_cli.bench_model import (COST_BY_EVENT, Sample, events_per_op, model_cycles,  # noqa: E402
                                   samples_from_run, summarize)
from isola_cli.bench_parse import (EVENTS, BenchLine, ParseError, asi_option_refused,  # noqa: E402
                                   parse_bench_line, parse_bench_lines, parse_events, parse_xpti)
from isola_cli.bench_spec import (BY_NAME, ONE_PCPU, TWO_VCPUS_TWO_PCPUS, XEN_CONFIGS,  # noqa: E402
                                  Run, isola_configs, plan_runs)
from isola_cli.errors import IsolaError  # noqa: E402

ISOLA = isola_configs(False)[0]
XEN0 = XEN_CONFIGS[0]
EVENTS_ZERO = "isola: events cr3_loads=0 tlb_flushes=0 invlpgs=0 ipis=0 resyncs=0 bytes_zeroed=0"


def console(iters: int, ticks: int, events: dict[str, int], name: str = "xen_version",
            cal_ticks: int = 800005) -> str:
    values = " ".join(f"{e}={events.get(e, 0)}" for e in EVENTS)
    return (f"(d1) --- Isola guest test: benchmarks of hypervisor operations ---\n"
            f"(d1) bench: calibrate iters=100000 insns=800000 ticks={cal_ticks}\n"
            f"(d1) bench: {name} iters={iters} ticks={ticks}\n"
            f"(d1) Test result: SUCCESS\nisola: events {values}\n")


class ParseLineTest(unittest.TestCase):
    def test_measurement_with_domain_prefix(self):
        self.assertEqual(parse_bench_line("(d1) bench: xen_version iters=1000 ticks=403010\r"),
                         BenchLine("xen_version", "ok", iters=1000, ticks=403010))

    def test_calibration_and_peer(self):
        self.assertEqual(parse_bench_line("bench: calibrate iters=10 insns=80 ticks=81").insns, 80)
        self.assertEqual(parse_bench_line("bench: evtchn_rtt iters=5 ticks=9 peer=5").peer, 5)

    def test_not_measured_keeps_op_with_spaces(self):
        line = parse_bench_line("bench: syscall skip op=callback_op(register syscall) rc=-38")
        self.assertEqual((line.status, line.op, line.rc), ("skip", "callback_op(register syscall)", -38))
        self.assertEqual(parse_bench_line("bench: set_ldt unsupported op=mmuext_op(SET_LDT) rc=-38").status,
                         "unsupported")

    def test_other_lines_are_not_bench_lines(self):
        self.assertIsNone(parse_bench_line("(d1) --- Isola guest test: bench: stuff here ---"))
        self.assertIsNone(parse_bench_line("(XEN) Dom0 has maximum 1 VCPUs"))

    def test_malformed_line_is_an_error(self):
        with self.assertRaises(ParseError):
            parse_bench_line("bench: xen_version iters=10 tocks=5")
        with self.assertRaises(ParseError):
            parse_bench_line("bench: xen_version skip rc=-38")

    def test_last_line_wins(self):
        lines = parse_bench_lines("bench: yield iters=1 ticks=5\nbench: yield iters=2 ticks=9\n")
        self.assertEqual(lines["yield"].ticks, 9)


class ParseOtherTest(unittest.TestCase):
    def test_events(self):
        self.assertEqual(parse_events("x\n" + EVENTS_ZERO.replace("ipis=0", "ipis=4") + "\r\n")["ipis"], 4)
        self.assertIsNone(parse_events("no events here"))

    def test_events_must_be_complete(self):
        with self.assertRaises(ParseError):
            parse_events("isola: events cr3_loads=1 tlb_flushes=2")

    def test_xpti_and_asi_probe(self):
        self.assertEqual(parse_xpti("(XEN)   XPTI (64-bit PV only): Dom0 enabled, DomU enabled"), "enabled")
        self.assertIsNone(parse_xpti("(XEN) nothing"))
        self.assertTrue(asi_option_refused("isola: bad command line: unknown option 'asi=0'"))
        self.assertFalse(asi_option_refused("Isola: clean exit"))


class PlanTest(unittest.TestCase):
    def test_isola_runs_each_benchmark_with_n_and_2n(self):
        runs = plan_runs([ISOLA], ["xen_version", "evtchn_rtt"], 100, 1)
        self.assertEqual([(r.benchmarks, r.iters, r.shape.smp) for r in runs],
                         [(("xen_version",), 100, 1), (("xen_version",), 200, 1),
                          (("evtchn_rtt",), 100, 2), (("evtchn_rtt",), 200, 2)])

    def test_xen_groups_by_shape_and_comes_first(self):
        runs = plan_runs([ISOLA, XEN0], ["xen_version", "yield", "evtchn_rtt"], 10, 2)
        xen = [r for r in runs if r.config.xen]
        self.assertTrue(all(r.config.xen for r in runs[:len(xen)]))
        self.assertEqual(len(xen), 4)  # two shapes, two repetitions
        self.assertIn(("xen_version", "yield"), [r.benchmarks for r in xen])
        self.assertEqual({r.repeat for r in runs}, {0, 1})

    def test_isola_argv_puts_guest_args_after_double_dash(self):
        argv = Run(isola_configs(True)[1], ONE_PCPU, ("yield",), 10).run_argv("/g/bench.elf", 60)
        self.assertIn("--icount", argv)
        self.assertIn("/g/bench.elf:-- bench=yield iters=10 cal=100000", argv)
        self.assertEqual(argv[-2:], ["--", "asi=1"])
        self.assertNotIn("--xen", argv)

    def test_xen_argv_passes_guest_args_directly_and_shape_options(self):
        argv = Run(XEN_CONFIGS[1], TWO_VCPUS_TWO_PCPUS, ("evtchn_rtt",), 10).run_argv("/g/b.elf", 400)
        self.assertIn("--xen", argv)
        self.assertIn("/g/b.elf:bench=evtchn_rtt iters=10 cal=100000", argv)
        self.assertEqual(argv[argv.index("--smp") + 1], "2")
        self.assertEqual(argv[-4:], ["--", "xpti=1", "dom0_max_vcpus=2", "dom0_vcpus_pin"])

    def test_selected_benchmarks(self):
        self.assertEqual(bench.selected("yield,xen_version"), ["xen_version", "yield"])
        self.assertEqual(len(bench.selected(None)), len(BY_NAME))
        with self.assertRaises(IsolaError):
            bench.selected("nope")


class ModelTest(unittest.TestCase):
    def pair(self, low_events, high_events, ticks=(400000, 800000)):
        samples = []
        for iters, ticks_, events in ((1000, ticks[0], low_events), (2000, ticks[1], high_events)):
            run = Run(ISOLA, ONE_PCPU, ("xen_version",), iters)
            samples += samples_from_run(run, console(iters, ticks_, events), 0)
        return samples

    def test_instructions_use_the_calibration(self):
        result = summarize(self.pair({}, {}, (400000, 800000)), "isola", "xen_version")
        self.assertAlmostEqual(result.insns_per_op, 400.0, delta=0.01)
        self.assertAlmostEqual(result.ticks_per_insn, 800005 / 800000)
        half_speed = samples_from_run(Run(ISOLA, ONE_PCPU, ("xen_version",), 10),
                                      console(10, 200, {}, cal_ticks=1600000), 0)
        self.assertAlmostEqual(half_speed[0].insns_per_op, 10.0)

    def test_events_per_op_from_n_and_2n(self):
        result = summarize(self.pair({"cr3_loads": 7, "invlpgs": 100}, {"cr3_loads": 2007, "invlpgs": 1100}),
                           "isola", "xen_version")
        self.assertEqual(result.events_per_op["cr3_loads"], 2.0)
        self.assertEqual(result.events_per_op["invlpgs"], 1.0)
        expected = result.insns_per_op + 2 * COST_BY_EVENT["cr3_loads"] + COST_BY_EVENT["invlpgs"]
        self.assertAlmostEqual(result.model_cycles, expected)

    def test_events_need_a_pair(self):
        one = [Sample("isola", "b", 0, 10, "ok", insns_per_op=1.0, ticks_per_insn=1.0,
                      events={e: 1 for e in EVENTS})]
        self.assertIsNone(events_per_op(one))
        self.assertIsNone(model_cycles(5.0, None))

    def test_median_over_repeats(self):
        samples = []
        for rep, extra in ((0, 1000), (1, 3000), (2, 2000)):
            for iters, count in ((1000, 0), (2000, extra)):
                samples.append(Sample("isola", "b", rep, iters, "ok", insns_per_op=1.0,
                                      ticks_per_insn=1.0, events={e: count for e in EVENTS}))
        self.assertEqual(events_per_op(samples)["ipis"], 2.0)

    def test_not_measured_and_missing(self):
        run = Run(ISOLA, ONE_PCPU, ("set_ldt", "yield"), 10)
        text = ("bench: calibrate iters=1 insns=8 ticks=8\n"
                "bench: set_ldt unsupported op=mmuext_op(SET_LDT) rc=-38\n" + EVENTS_ZERO)
        ldt, yield_ = samples_from_run(run, text, 0)
        self.assertEqual((ldt.status, ldt.note), ("unsupported", "mmuext_op(SET_LDT) rc=-38"))
        self.assertEqual(yield_.status, "missing")
        self.assertEqual(summarize([ldt, yield_], "isola", "set_ldt").status, "unsupported")

    def test_xen_samples_have_no_events(self):
        run = Run(XEN0, ONE_PCPU, ("yield",), 10)
        sample, = samples_from_run(run, "bench: calibrate iters=1 insns=8 ticks=8\n"
                                        "bench: yield iters=10 ticks=20000\n", 0)
        self.assertEqual((sample.insns_per_op, sample.events), (2000.0, None))


def sample_report(asi: bool = False) -> bench_report.Report:
    configs = isola_configs(asi) + XEN_CONFIGS
    names = ["xen_version", "set_ldt", "yield_pingpong"]
    results = {}
    for c in configs:
        for n in names:
            results[(c.key, n)] = summarize(
                [Sample(c.key, n, 0, i, "ok" if n != "set_ldt" else "unsupported",
                        "" if n != "set_ldt" else "mmuext_op(SET_LDT) rc=-38",
                        insns_per_op=400.0 if n != "set_ldt" else None, ticks_per_insn=1.0,
                        events=None if c.xen else {e: i for e in EVENTS},
                        peer=i if n == "yield_pingpong" else None) for i in (100, 200)], c.key, n)
    return bench_report.Report("abc123", "2030-01-01 00:00:00 UTC", "./isola bench --vs-xen <&>",
                               bench.columns(configs, asi), names, results, ["QEMU 7.2"], "gbench here")


class ReportTest(unittest.TestCase):
    def test_columns_share_the_config_without_asi(self):
        report = sample_report(asi=False)
        self.assertEqual([c.label for c in report.columns],
                         ["Isola asi=0 (same)", "Isola asi=1 (same)", "Xen xpti=0", "Xen xpti=1"])
        self.assertEqual(report.columns[0].config, report.columns[1].config)
        self.assertEqual(len(report.isola_columns()), 1)
        self.assertEqual(len(sample_report(asi=True).isola_columns()), 2)

    def test_markdown(self):
        text = bench_report.markdown(sample_report())
        for needle in ("./isola bench --vs-xen <&>", "`abc123`", "2030-01-01", "a model, not a measurement",
                       "| `xen_version` | null hypercall", "400.0", "unsupported (mmuext_op(SET_LDT) rc=-38)",
                       "| `yield_pingpong` | 1.00 |", "gbench here", "| `cr3_loads` | 100 |"):
            self.assertIn(needle, text)
        model = text[text.index("## Modeled cycles"):]
        model_row = next(line for line in model.splitlines() if line.startswith("| `xen_version` |"))
        # Isola: 400 instructions + one event of each kind per operation; Xen: not modeled.
        self.assertEqual(model_row.split("|")[2:6],
                         [f" {400 + sum(COST_BY_EVENT.values()):,} "] * 2 + [" n/a "] * 2)

    def test_csv(self):
        text = bench_report.csv_text(sample_report())
        comments = [line for line in text.splitlines() if line.startswith("#")]
        self.assertIn("command: ./isola bench --vs-xen <&>", comments[0])
        self.assertIn("abc123", comments[1])
        rows = list(csv.DictReader(io.StringIO("\n".join(line for line in text.splitlines()
                                                         if not line.startswith("#")))))
        self.assertEqual(len(rows), 4 * 3)
        first = rows[0]
        self.assertEqual((first["benchmark"], first["insns_per_op"], first["cr3_loads_per_op"]),
                         ("xen_version", "400.000", "1.000"))
        xen = next(r for r in rows if r["config"] == "xen-xpti0" and r["benchmark"] == "xen_version")
        self.assertEqual((xen["cr3_loads_per_op"], xen["model_cycles"]), ("", ""))

    def test_svg_is_well_formed_and_labeled(self):
        text = bench_report.svg(sample_report())
        doc = xml.dom.minidom.parseString(text)
        labels = [t.firstChild.data for t in doc.getElementsByTagName("text") if t.firstChild]
        self.assertIn("command: ./isola bench --vs-xen <&>", labels)
        self.assertIn("git commit: abc123", labels)
        self.assertIn("unsupported", labels)
        # background, legend, bars (set_ldt has none, yield_pingpong is not cut at 400)
        self.assertEqual(len(doc.getElementsByTagName("rect")), 1 + 4 + 4 * 2)
        self.assertIn("400", labels)


class GbenchTest(unittest.TestCase):
    def test_table(self):
        data = {"context": {"host_name": "h", "num_cpus": 2, "mhz_per_cpu": 3000,
                            "library_build_type": "release", "date": "d"},
                "benchmarks": [{"name": "BM_Map/4", "real_time": 1234.5, "cpu_time": 1200.0,
                                "time_unit": "ns", "iterations": 1000}]}
        text = bench_gbench.table(data, "build/bench/isola_mm_bench --benchmark_format=json")
        self.assertIn("| `BM_Map/4` | 1,234.5 ns | 1,200.0 ns | 1000 |", text)
        self.assertIn("on h, 2 CPUs at 3000 MHz", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
