#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Unit tests of the isola CLI's pure pieces (argument splitting, -initrd escaping,
exit-status decoding) and of the run loop against a fake QEMU, so the harness is
known to work before any real image exists."""
import io
import os
import stat
import sys
import tempfile
import unittest
from contextlib import redirect_stderr
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from isola_cli import cli  # noqa: E402
from isola_cli.errors import IsolaError, require_tool  # noqa: E402
from isola_cli.options import Guest, RunOptions, parse_run_args, split_hv_cmdline  # noqa: E402
from isola_cli.qemu import (decode_status, initrd_arg, module_string,  # noqa: E402
                            qemu_command, timeout_message)
from isola_cli.run import execute, format_timings, run_isola  # noqa: E402


class SplitTest(unittest.TestCase):
    def test_no_separator_means_no_hv_cmdline(self):
        self.assertEqual(split_hv_cmdline(["--smp", "2", "g.elf"]), (["--smp", "2", "g.elf"], []))

    def test_everything_after_separator_is_hv_cmdline(self):
        self.assertEqual(split_hv_cmdline(["g.elf", "--", "loglvl=all", "--smp"]),
                         (["g.elf"], ["loglvl=all", "--smp"]))

    def test_empty_hv_cmdline(self):
        self.assertEqual(split_hv_cmdline(["--smp", "1", "--"]), (["--smp", "1"], []))

    def test_second_separator_returns_to_guests(self):
        self.assertEqual(split_hv_cmdline(["--smp", "2", "--", "demo", "--", "g.elf"]),
                         (["--smp", "2", "g.elf"], ["demo"]))


class ParseTest(unittest.TestCase):
    def test_defaults(self):
        opts = parse_run_args([])
        self.assertEqual((opts.smp, opts.mem, opts.timeout, opts.build), (1, 256, 30.0, True))
        self.assertEqual((opts.guests, opts.hv_cmdline), ([], []))

    def test_brief_example(self):
        opts = parse_run_args(["--smp", "2", "guest.elf:mem=64M", "--", "loglvl=all"])
        self.assertEqual(opts.smp, 2)
        self.assertEqual(opts.guests, [Guest("guest.elf", "mem=64M")])
        self.assertEqual(opts.hv_cmdline, ["loglvl=all"])

    def test_options_after_and_between_guests(self):
        opts = parse_run_args(["a.elf", "--smp", "4", "b.elf:x y", "--no-build"])
        self.assertEqual(opts.guests, [Guest("a.elf"), Guest("b.elf", "x y")])
        self.assertEqual((opts.smp, opts.build), (4, False))

    def test_design_doc_order(self):
        opts = parse_run_args(["--mem", "512", "--", "asi=off", "loglvl=all", "--", "g.elf"])
        self.assertEqual((opts.mem, opts.hv_cmdline, opts.guests),
                         (512, ["asi=off", "loglvl=all"], [Guest("g.elf")]))

    def test_help_after_separator_goes_to_hypervisor(self):
        self.assertEqual(parse_run_args(["--", "-h"]).hv_cmdline, ["-h"])

    def test_colon_splits_once(self):
        self.assertEqual(parse_run_args(["g.elf:a=b:c"]).guests, [Guest("g.elf", "a=b:c")])

    def test_bad_numbers_are_usage_errors(self):
        for argv in (["--smp", "0"], ["--mem", "x"], ["--timeout", "-1"]):
            with self.subTest(argv=argv), redirect_stderr(io.StringIO()):
                with self.assertRaises(SystemExit) as cm:
                    parse_run_args(argv)
                self.assertEqual(cm.exception.code, 2)

    def test_gdb_disables_timeout(self):
        self.assertIsNone(parse_run_args(["--gdb", "--timeout", "5"]).effective_timeout)
        self.assertEqual(parse_run_args(["--timeout", "5"]).effective_timeout, 5.0)


class QemuCommandTest(unittest.TestCase):
    def test_module_string_doubles_commas(self):
        self.assertEqual(module_string(Guest("g.elf", "a=1,2")), "g.elf a=1,,2")
        self.assertEqual(module_string(Guest("g,1.elf")), "g,,1.elf")

    def test_initrd_joins_with_single_commas(self):
        guests = [Guest("a.elf", "x,y"), Guest("b.elf"), Guest("c.elf", "p q")]
        self.assertEqual(initrd_arg(guests), "a.elf x,,y,b.elf,c.elf p q")

    def test_path_with_space_is_refused(self):
        with self.assertRaises(IsolaError) as cm:
            module_string(Guest("my guest.elf"))
        self.assertEqual(cm.exception.status, 2)

    def test_base_command(self):
        opts = RunOptions(smp=2, mem=128, hv_cmdline=["demo", "loglvl=all"])
        self.assertEqual(qemu_command(opts, "img.bin"), [
            "qemu-system-x86_64", "-M", "pc", "-cpu", "max", "-m", "128", "-smp", "2",
            "-display", "none", "-vga", "none", "-nodefaults", "-no-reboot",
            "-serial", "stdio", "-monitor", "none",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", "img.bin", "-append", "demo loglvl=all"])

    def test_optional_flags(self):
        opts = RunOptions(guests=[Guest("g.elf", "a,b")], gdb=True, trace="t.log", icount=True)
        cmd = qemu_command(opts, "img.bin")
        tail = cmd[cmd.index("-append") + 2:]
        self.assertEqual(tail, ["-initrd", "g.elf a,,b", "-s", "-S",
                                "-d", "int,cpu_reset", "-D", "t.log", "-icount", "shift=0"])


class DecodeTest(unittest.TestCase):
    def test_debug_exit_codes(self):
        for code in (0, 1, 2, 3, 63, 127):
            with self.subTest(code=code):
                self.assertEqual(decode_status(2 * code + 1), (code, None))

    def test_zero_is_no_clean_exit(self):
        status, message = decode_status(0)
        self.assertEqual(status, 125)
        self.assertEqual(message, "the machine stopped without a clean exit (triple fault "
                                  "or reset); rerun with --trace FILE")

    def test_status_one_without_console_is_a_qemu_failure(self):
        self.assertEqual(decode_status(1, console_seen=False)[0], 126)
        self.assertEqual(decode_status(1, console_seen=True), (0, None))

    def test_other_statuses(self):
        self.assertEqual(decode_status(4)[0], 126)
        status, message = decode_status(-6)
        self.assertEqual(status, 126)
        self.assertIn("SIGABRT", message)

    def test_timeout_message(self):
        self.assertEqual(timeout_message(3.0), "timeout after 3 s, QEMU killed")
        self.assertEqual(timeout_message(2.5), "timeout after 2.5 s, QEMU killed")

    def test_format_timings(self):
        self.assertEqual(format_timings({"first_output": 0.1234, "banner": None, "exit": 2}),
                         "isola: timing: first console output 0.123 s, banner n/a, exit 2.000 s")


# A stand-in for qemu-system-x86_64: its behaviour is chosen by the -append string.
FAKE_QEMU = """\
#!{python}
import json, os, sys, time
argv = sys.argv[1:]
cmdline = argv[argv.index("-append") + 1]
out = sys.stdout
def say(text):
    out.write(text); out.flush()
if cmdline.startswith("exit="):
    say("Isola hypervisor fake\\r\\nstdin=" + repr(sys.stdin.read()) + "\\n")
    sys.exit(2 * int(cmdline[5:]) + 1)
if cmdline == "argv":
    say(json.dumps(argv) + "\\n"); sys.exit(1)
if cmdline == "reset":
    say("about to triple fault\\n"); sys.exit(0)
if cmdline == "hang":
    say("hanging"); time.sleep(60)
if cmdline == "refuse":
    sys.stderr.write("qemu-system-x86_64: cannot load kernel\\n"); sys.exit(1)
"""


class FakeQemuTest(unittest.TestCase):
    """The run loop end to end, with a scripted QEMU first on PATH."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)
        qemu = self.dir / "qemu-system-x86_64"
        qemu.write_text(FAKE_QEMU.format(python=sys.executable))
        qemu.chmod(qemu.stat().st_mode | stat.S_IXUSR)
        self.image = self.dir / "isola.bin"
        self.image.write_bytes(b"\0")
        env = {"PATH": f"{self.dir}{os.pathsep}{os.environ.get('PATH', '')}",
               "ISOLA_IMAGE": str(self.image)}
        patcher = mock.patch.dict(os.environ, env)
        patcher.start()
        self.addCleanup(patcher.stop)

    def run_quiet(self, *argv):
        with mock.patch("sys.stdout", io.StringIO()), redirect_stderr(io.StringIO()):
            return run_isola(*argv)

    def test_exit_code_and_console(self):
        result = self.run_quiet("--", "exit=3")
        self.assertEqual((result.status, result.qemu_status), (3, 7))
        self.assertEqual(result.console_text, "Isola hypervisor fake\nstdin=''\n")
        self.assertIsNotNone(result.timings["banner"])

    def test_argv_reaches_qemu(self):
        guest = self.dir / "g.elf"
        guest.write_bytes(b"")
        result = self.run_quiet("--smp", "3", f"{guest}:a,b", "--", "argv")
        self.assertIn('"-initrd", "%s a,,b"' % guest, result.console_text)
        self.assertIn('"-smp", "3"', result.console_text)

    def test_reset_is_125(self):
        result = self.run_quiet("--", "reset")
        self.assertEqual(result.status, 125)
        self.assertIn("triple fault", result.output)

    def test_timeout_kills_and_keeps_partial_line(self):
        result = self.run_quiet("--timeout", "1", "--", "hang")
        self.assertEqual(result.status, 124)
        self.assertEqual(result.console_text, "hanging\n")
        self.assertIn("isola: timeout after 1 s, QEMU killed", result.messages)
        self.assertLess(result.timings["exit"], 10)

    def test_qemu_refusing_to_start_is_126(self):
        self.assertEqual(self.run_quiet("--", "refuse").status, 126)

    def test_qemu_that_cannot_start_is_126(self):
        (self.dir / "qemu-system-x86_64").write_text("#!/nonexistent/interpreter\n")
        result = self.run_quiet("--", "exit=0")
        self.assertEqual(result.status, 126)
        self.assertRegex(result.output, r"^isola: cannot start .*qemu-system-x86_64: ")

    def test_missing_guest_is_2_before_qemu(self):
        result = self.run_quiet("/nonexistent.elf", "--", "exit=0")
        self.assertEqual(result.status, 2)
        self.assertEqual(result.output, "isola: guest kernel '/nonexistent.elf' not found\n")

    def test_missing_image_is_2(self):
        os.environ["ISOLA_IMAGE"] = str(self.dir / "nope.bin")
        self.assertEqual(self.run_quiet("--", "exit=0").status, 2)

    def test_timing_line(self):
        err = io.StringIO()
        with mock.patch("sys.stdout", io.StringIO()), redirect_stderr(err):
            execute(parse_run_args(["--timing", "--", "exit=0"]))
        self.assertRegex(err.getvalue(), r"isola: timing: first console output \d+\.\d{3} s, "
                                         r"banner \d+\.\d{3} s, exit \d+\.\d{3} s")


class MissingToolTest(unittest.TestCase):
    def test_one_line_hint_and_127(self):
        with tempfile.TemporaryDirectory() as empty, mock.patch.dict(os.environ, {"PATH": empty}):
            with self.assertRaises(IsolaError) as cm:
                require_tool("ninja")
        self.assertEqual(cm.exception.status, 127)
        self.assertEqual(cm.exception.line,
                         "isola: ninja not found; install it with: apt-get install -y ninja-build")

    def test_cli_run_without_qemu(self):
        err = io.StringIO()
        with tempfile.TemporaryDirectory() as empty, mock.patch.dict(os.environ, {"PATH": empty}):
            with redirect_stderr(err):
                status = cli.main(["run", "--no-build"])
        self.assertEqual(status, 127)
        self.assertEqual(err.getvalue(), "isola: qemu-system-x86_64 not found; install it "
                                         "with: apt-get install -y qemu-system-x86\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
