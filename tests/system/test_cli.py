#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Unit tests of the isola CLI's pure pieces (argument splitting, -initrd escaping,
exit-status decoding, Xen's end-of-run lines), of the run loop against a fake QEMU
(Isola and --xen), and of check_guest.py's verdict handling, so the harness is known
to work before any real image exists."""
import gzip
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

import check_guest  # noqa: E402

from isola_cli import cli  # noqa: E402
from isola_cli.errors import IsolaError, require_tool  # noqa: E402
from isola_cli.options import Guest, RunOptions, parse_run_args, split_hv_cmdline  # noqa: E402
from isola_cli.qemu import (decode_status, initrd_arg, module_string,  # noqa: E402
                            qemu_command, timeout_message)
from isola_cli.run import RunResult, execute, format_timings, run_isola  # noqa: E402
from isola_cli.xen import XenWatch, dom0_end, xen_image  # noqa: E402


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

    def test_xen_defaults(self):
        opts = parse_run_args(["--xen", "g.elf:a=1", "--", "sched=credit2"])
        self.assertTrue(opts.xen)
        self.assertEqual((opts.mem, opts.timeout, opts.smp), (512, 90.0, 1))
        self.assertEqual((opts.guests, opts.hv_cmdline),
                         ([Guest("g.elf", "a=1")], ["sched=credit2"]))
        self.assertFalse(parse_run_args([]).xen)

    def test_xen_explicit_mem_and_timeout_win(self):
        opts = parse_run_args(["g.elf", "--mem", "1024", "--xen", "--timeout", "5", "--smp", "2"])
        self.assertEqual((opts.xen, opts.mem, opts.timeout, opts.smp), (True, 1024, 5.0, 2))

    def test_run_options_defaults_follow_the_mode(self):
        self.assertEqual((RunOptions().mem, RunOptions().timeout), (256, 30.0))
        self.assertEqual((RunOptions(xen=True).mem, RunOptions(xen=True).timeout), (512, 90.0))

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

    def test_xen_command(self):
        opts = RunOptions(xen=True, smp=2, guests=[Guest("g.elf", "a,b")],
                          hv_cmdline=["sched=credit2"])
        self.assertEqual(qemu_command(opts, "build/xen/xen-4.17"), [
            "qemu-system-x86_64", "-M", "pc", "-cpu", "max", "-m", "512", "-smp", "2",
            "-display", "none", "-vga", "none", "-nodefaults", "-no-reboot",
            "-serial", "stdio", "-monitor", "none",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", "build/xen/xen-4.17",
            "-append", "console=com1 com1=115200,8n1 dom0_mem=32M loglvl=all guest_loglvl=all smap=0 "
                       "sched=credit2",
            "-initrd", "g.elf a,,b"])

    def test_xen_command_without_extra_args(self):
        cmd = qemu_command(RunOptions(xen=True, guests=[Guest("g.elf")]), "xen")
        self.assertEqual(cmd[cmd.index("-append") + 1],
                         "console=com1 com1=115200,8n1 dom0_mem=32M loglvl=all guest_loglvl=all smap=0")

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
                         "isola: timing: first console output 0.123 s, banner n/a, "
                         "test result n/a, exit 2.000 s")
        self.assertIn("test result 1.500 s,", format_timings({"result": 1.5}))


# A stand-in for qemu-system-x86_64: its behaviour is chosen by the -append string
# (for a Xen command line, by its last word, the first one after `isola run --xen ... --`).
# The xen-* modes print what Xen 4.17 prints and then, like Xen, keep QEMU running.
FAKE_QEMU = """\
#!{python}
import json, os, sys, time
argv = sys.argv[1:]
cmdline = argv[argv.index("-append") + 1]
out = sys.stdout
def say(text):
    out.write(text); out.flush()
PANIC = ("(XEN) \\r\\n(XEN) ****************************************\\r\\n"
         "(XEN) Panic on CPU 0:\\r\\n(XEN) Could not construct domain 0\\r\\n"
         "(XEN) ****************************************\\r\\n(XEN) \\r\\n")
if cmdline.startswith("console=com1 "):
    cmdline = cmdline.split()[-1]
    say("(XEN) Xen version 4.17.7 (fake)\\r\\n")
if cmdline == "xen-halt":
    say("Test result: SUCCESS\\r\\n(XEN) Hardware Dom0 hal")
    time.sleep(0.2)  # the end line arrives in two pieces
    say("ted: halting machine\\r\\n"); time.sleep(60)
if cmdline == "xen-crash":
    say("guest panic: oops\\r\\n(XEN) Hardware Dom0 crashed: rebooting machine in 5 seconds.\\r\\n")
    time.sleep(60)
if cmdline == "xen-reboot":
    say("(XEN) Hardware Dom0 shutdown: rebooting machine\\r\\n"); time.sleep(60)
if cmdline == "xen-panic":
    say(PANIC + "(XEN) Reboot in five seconds...\\r\\n"); time.sleep(60)
if cmdline == "xen-panic-reset":
    say(PANIC); sys.exit(0)
if cmdline == "xen-two-ends":
    say("(XEN) Hardware Dom0 halted: halting machine\\r\\n"
        "(XEN) Hardware Dom0 crashed: rebooting machine in 5 seconds.\\r\\n"); time.sleep(60)
if cmdline == "xen-silent-reset":
    sys.exit(0)
if cmdline == "xen-hang":
    time.sleep(60)
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


class FakeQemuCase(unittest.TestCase):
    """A scripted QEMU first on PATH and a dummy Isola image."""

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


class FakeQemuTest(FakeQemuCase):
    """The run loop end to end."""

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
                                         r"banner \d+\.\d{3} s, test result n/a, "
                                         r"exit \d+\.\d{3} s")


class XenLineTest(unittest.TestCase):
    """Which console lines end a Xen run, and how."""

    def test_dom0_end_lines(self):
        cases = {
            "(XEN) Hardware Dom0 halted: halting machine": 0,
            "(XEN) Hardware Dom0 crashed: rebooting machine in 5 seconds.": 1,
            "(XEN) Hardware Dom0 crashed: 'noreboot' set - not rebooting.": 1,
            "(XEN) Hardware Dom0 shutdown: rebooting machine": 1,
            "(XEN) Hardware Dom0 shutdown: watchdog rebooting machine": 1,
            "(XEN) Hardware domain 0 did unsupported soft reset, rebooting.": 1,
            "(XEN) [2024-01-18 10:40:44.346] Hardware Dom0 halted: halting machine": 0,
            "Test result: SUCCESS(XEN) Hardware Dom0 halted: halting machine": 0,
        }
        for line, status in cases.items():
            with self.subTest(line=line):
                self.assertEqual(dom0_end(line).status, status)
        self.assertIsNone(dom0_end("(XEN) halting machine"))
        self.assertIsNone(dom0_end("Test result: SUCCESS"))
        self.assertIsNone(dom0_end("(XEN) Freed 656kB init memory"))

    def test_clean_halt_has_no_message(self):
        watch = XenWatch()
        watch.feed("Test result: SUCCESS")
        self.assertFalse(watch.finished.is_set())
        watch.feed("(XEN) Hardware Dom0 halted: halting machine")
        self.assertTrue(watch.finished.is_set())
        self.assertEqual((watch.end.status, watch.end.message), (0, None))

    def test_first_end_wins(self):
        watch = XenWatch()
        watch.feed("(XEN) Hardware Dom0 shutdown: rebooting machine")
        watch.feed("(XEN) Hardware Dom0 halted: halting machine")
        self.assertEqual(watch.end.status, 1)

    PANIC = ["(XEN) ", "(XEN) ****************************************",
             "(XEN) Panic on CPU 0:", "(XEN) Could not construct domain 0",
             "(XEN) ****************************************", "(XEN) "]

    def test_panic_ends_at_the_reboot_line(self):
        watch = XenWatch()
        for line in self.PANIC:
            watch.feed(line)
        self.assertFalse(watch.finished.is_set())  # the reason must be on the console first
        watch.feed("(XEN) Reboot in five seconds...")
        self.assertTrue(watch.finished.is_set())
        self.assertEqual((watch.end.status, watch.end.message),
                         (3, "Xen panicked: Could not construct domain 0"))

    def test_panic_with_noreboot(self):
        watch = XenWatch()
        for line in self.PANIC + ["(XEN) Manual reset required ('noreboot' specified)"]:
            watch.feed(line)
        self.assertEqual(watch.end.status, 3)

    def test_panic_then_reset_is_3_after_exit(self):
        watch = XenWatch()
        for line in self.PANIC:
            watch.feed(line)
        self.assertIsNone(watch.end)
        self.assertEqual(watch.after_exit().status, 3)

    def test_machine_check_box_then_reset_is_3(self):
        watch = XenWatch()
        for line in ["(XEN) HARDWARE ERROR", "(XEN) ****************************************"]:
            watch.feed(line)
        self.assertEqual(watch.after_exit().message, "Xen panicked")

    def test_warning_box_is_not_a_panic(self):
        watch = XenWatch()
        for line in ["(XEN) ***************************************************",
                     "(XEN) WARNING: CONSOLE OUTPUT IS SYNCHRONOUS",
                     "(XEN) ***************************************************",
                     "(XEN) Reboot in five seconds..."]:
            watch.feed(line)
        self.assertIsNone(watch.after_exit())


class XenImageTest(unittest.TestCase):
    """Finding and unpacking the Xen image (in a scratch build tree)."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)
        self.gz = self.dir / "xen.gz"
        self.gz.write_bytes(gzip.compress(b"xen one"))
        for patcher in (mock.patch.dict(os.environ, {"ISOLA_XEN_IMAGE": str(self.gz)}),
                        mock.patch("isola_cli.paths.build_dir", return_value=self.dir / "build")):
            patcher.start()
            self.addCleanup(patcher.stop)

    def test_default_path_is_the_debian_package(self):
        from isola_cli import paths
        with mock.patch.dict(os.environ):
            os.environ.pop("ISOLA_XEN_IMAGE", None)
            self.assertEqual(paths.xen_gz_path(), Path("/boot/xen-4.17-amd64.gz"))
        self.assertEqual(paths.xen_image_path(), self.dir / "build" / "xen" / "xen-4.17")

    def test_missing_package_is_127_with_hint(self):
        os.environ["ISOLA_XEN_IMAGE"] = "/boot/xen-4.17-amd64.gz.nonexistent"
        with self.assertRaises(IsolaError) as cm:
            xen_image()
        self.assertEqual(cm.exception.status, 127)
        self.assertEqual(cm.exception.line,
                         "isola: Xen 4.17 not found (/boot/xen-4.17-amd64.gz.nonexistent); "
                         "install it with: apt-get install -y xen-hypervisor-4.17-amd64")

    def test_unpacks_once(self):
        image = xen_image()
        self.assertEqual(image, self.dir / "build" / "xen" / "xen-4.17")
        self.assertEqual(image.read_bytes(), b"xen one")
        inode = image.stat().st_ino
        self.assertEqual(xen_image().stat().st_ino, inode)  # not unpacked again
        self.assertEqual(sorted(p.name for p in image.parent.iterdir()),
                         ["xen-4.17", "xen-4.17.source"])  # no temporary files left

    def test_newer_gz_is_unpacked_again(self):
        xen_image()
        self.gz.write_bytes(gzip.compress(b"xen two, a newer package"))
        mtime = self.gz.stat().st_mtime + 10
        os.utime(self.gz, (mtime, mtime))
        self.assertEqual(xen_image().read_bytes(), b"xen two, a newer package")

    def test_other_source_is_unpacked_again(self):
        xen_image()
        other = self.dir / "other.gz"
        other.write_bytes(gzip.compress(b"other xen"))
        os.utime(other, (1, 1))  # older than the cached image: still a different source
        os.environ["ISOLA_XEN_IMAGE"] = str(other)
        self.assertEqual(xen_image().read_bytes(), b"other xen")

    def test_uncompressed_image_is_used_as_is(self):
        plain = self.dir / "xen-syms"
        plain.write_bytes(b"\x7fELF plain")
        os.environ["ISOLA_XEN_IMAGE"] = str(plain)
        self.assertEqual(xen_image(), plain)

    def test_corrupt_gz_is_2(self):
        self.gz.write_bytes(b"\x1f\x8b garbage")
        with self.assertRaises(IsolaError) as cm:
            xen_image()
        self.assertEqual(cm.exception.status, 2)
        self.assertIn("cannot unpack Xen image", cm.exception.message)
        self.assertFalse((self.dir / "build" / "xen" / "xen-4.17").exists())


class FakeXenTest(FakeQemuCase):
    """`isola run --xen` end to end with the fake QEMU: each xen-* mode plays one way a
    real Xen 4.17 run ends (the real thing is guest_hello_xen)."""

    def setUp(self):
        """A gzipped fake Xen, a guest, and a scratch build tree for the unpacked image."""
        super().setUp()
        gz = self.dir / "xen.gz"
        gz.write_bytes(gzip.compress(b"fake xen"))
        self.guest = self.dir / "g.elf"
        self.guest.write_bytes(b"")
        os.environ["ISOLA_XEN_IMAGE"] = str(gz)
        patcher = mock.patch("isola_cli.paths.build_dir", return_value=self.dir / "build")
        patcher.start()
        self.addCleanup(patcher.stop)

    def run_xen(self, mode, *extra):
        return self.run_quiet("--xen", *extra, str(self.guest), "--", mode)

    def test_halt_is_0_and_prompt(self):
        result = self.run_xen("xen-halt")
        self.assertEqual((result.status, result.messages, result.qemu_status), (0, [], None))
        self.assertTrue(result.console_text.endswith(
            "Test result: SUCCESS\n(XEN) Hardware Dom0 halted: halting machine\n"))
        self.assertLess(result.timings["exit"], 10)  # killed, not waited for (sleeps 60 s)
        self.assertIsNotNone(result.timings["banner"])
        self.assertLessEqual(result.timings["result"], result.timings["exit"])

    def test_crash_is_1(self):
        result = self.run_xen("xen-crash")
        self.assertEqual(result.status, 1)
        self.assertEqual(result.messages, ["isola: Xen: dom0 crashed; QEMU killed"])
        self.assertLess(result.timings["exit"], 10)

    def test_reboot_is_1(self):
        result = self.run_xen("xen-reboot")
        self.assertEqual(result.status, 1)
        self.assertIn("reboot", result.messages[0])

    def test_first_end_line_wins(self):
        self.assertEqual(self.run_xen("xen-two-ends").status, 0)

    def test_panic_is_3(self):
        result = self.run_xen("xen-panic")
        self.assertEqual(result.status, 3)
        self.assertEqual(result.messages, ["isola: Xen panicked: Could not construct domain 0"])
        self.assertLess(result.timings["exit"], 10)

    def test_panic_then_qemu_reset_is_3(self):
        result = self.run_xen("xen-panic-reset")
        self.assertEqual((result.status, result.qemu_status), (3, 0))

    def test_reset_without_end_line_is_125(self):
        self.assertEqual(self.run_xen("xen-silent-reset").status, 125)

    def test_timeout_is_124(self):
        result = self.run_xen("xen-hang", "--timeout", "1")
        self.assertEqual(result.status, 124)
        self.assertIn("isola: timeout after 1 s, QEMU killed", result.messages)

    def test_argv_reaches_qemu(self):
        import json
        result = self.run_quiet("--xen", f"{self.guest}:x,y", "--", "sched=credit2", "argv")
        self.assertEqual(result.status, 0)  # the fake exits 1 after printing: code 0
        argv = json.loads(result.console_text.splitlines()[1])
        image = self.dir / "build" / "xen" / "xen-4.17"
        self.assertEqual(argv[argv.index("-kernel") + 1], str(image))
        self.assertEqual(image.read_bytes(), b"fake xen")
        self.assertEqual(argv[argv.index("-m") + 1], "512")
        self.assertEqual(argv[argv.index("-initrd") + 1], f"{self.guest} x,,y")
        self.assertEqual(argv[argv.index("-append") + 1],
                         "console=com1 com1=115200,8n1 dom0_mem=32M loglvl=all "
                         "guest_loglvl=all smap=0 sched=credit2 argv")
        self.assertIn("-no-reboot", argv)

    def test_exactly_one_guest(self):
        other = self.dir / "h.elf"
        other.write_bytes(b"")
        for guests, count in (([], 0), ([str(self.guest), str(other)], 2)):
            with self.subTest(count=count):
                result = self.run_quiet("--xen", *guests, "--", "xen-halt")
                self.assertEqual(result.status, 2)
                self.assertEqual(result.output, "isola: --xen needs exactly one guest, which "
                                                f"becomes dom0 (got {count})\n")

    def test_missing_xen_is_127_through_the_cli(self):
        os.environ["ISOLA_XEN_IMAGE"] = "/nonexistent/xen.gz"
        err = io.StringIO()
        with mock.patch("sys.stdout", io.StringIO()), redirect_stderr(err):
            status = cli.main(["run", "--xen", "--no-build", str(self.guest)])
        self.assertEqual(status, 127)
        self.assertEqual(err.getvalue(), "isola: Xen 4.17 not found (/nonexistent/xen.gz); "
                                         "install it with: apt-get install -y "
                                         "xen-hypervisor-4.17-amd64\n")

    def test_timing_line_reports_the_result(self):
        err = io.StringIO()
        with mock.patch("sys.stdout", io.StringIO()), redirect_stderr(err):
            execute(parse_run_args(["--xen", "--timing", str(self.guest), "--", "xen-halt"]))
        self.assertRegex(err.getvalue(), r"banner \d+\.\d{3} s, test result \d+\.\d{3} s, "
                                         r"exit \d+\.\d{3} s")


class CheckGuestTest(unittest.TestCase):
    """check_guest.py: verdict extraction, comparison, summary, and its run loop with
    run_isola replaced."""
    Outcome = check_guest.Outcome

    def test_last_result_wins(self):
        console = ("--- Isola guest test: x ---\nTest result: FAILURE\n"
                   "noise\nTest result: SUCCESS\n(XEN) Hardware Dom0 halted: halting machine\n")
        self.assertEqual(check_guest.last_result(console), "SUCCESS")
        self.assertEqual(check_guest.last_result("Test result: SKIP(XEN) Hardware Dom0"), "SKIP")
        self.assertIsNone(check_guest.last_result("no verdict here\nTest result:\n"))

    def test_agreeing_success(self):
        outcomes = [self.Outcome("isola", "SUCCESS", 0, 0.6),
                    self.Outcome("xen", "SUCCESS", 0, 9.8)]
        self.assertEqual(check_guest.problems(outcomes, "SUCCESS"), [])
        self.assertEqual(check_guest.summary("hello", outcomes),
                         "hello: isola SUCCESS (0.6 s), xen SUCCESS (9.8 s)")

    def test_missing_result(self):
        outcomes = [self.Outcome("isola", None, 3, 0.3), self.Outcome("xen", "SUCCESS", 0, 1.1)]
        self.assertEqual(check_guest.problems(outcomes, "SUCCESS"),
                         ["isola: no 'Test result:' line in the console (run status 3)"])
        self.assertEqual(check_guest.summary("hello", outcomes),
                         "hello: isola no result (0.3 s, status 3), xen SUCCESS (1.1 s)")

    def test_unexpected_result(self):
        outcomes = [self.Outcome("xen", "SKIP", 0, 1.0)]
        self.assertEqual(check_guest.problems(outcomes, "SUCCESS"),
                         ["xen: Test result SKIP, expected SUCCESS"])
        self.assertEqual(check_guest.problems(outcomes, "SKIP"), [])

    def test_disagreement(self):
        outcomes = [self.Outcome("isola", "SUCCESS", 0), self.Outcome("xen", "FAILURE", 0)]
        self.assertEqual(check_guest.problems(outcomes, "FAILURE"),
                         ["isola: Test result SUCCESS, expected FAILURE",
                          "isola and xen disagree: isola SUCCESS, xen FAILURE"])

    def test_unclean_end_after_result(self):
        found = check_guest.problems([self.Outcome("isola", "SUCCESS", 3)], "SUCCESS")
        self.assertEqual(len(found), 1)
        self.assertTrue(found[0].startswith("isola: the run ended with status 3"))

    def test_run_args(self):
        self.assertEqual(check_guest.run_args("isola", "g.elf", 2, []),
                         ["--no-build", "--smp", "2", "g.elf"])
        self.assertEqual(check_guest.run_args("xen", "g.elf:a", 1, ["loglvl=all"]),
                         ["--no-build", "--smp", "1", "--xen", "g.elf:a", "--", "loglvl=all"])

    def test_parse_args(self):
        opts, hv = check_guest.parse_args(["--guest", "g.elf", "--xen-only", "--", "x=1"])
        self.assertEqual((opts.guest, opts.expect_result, opts.xen_only, hv),
                         ("g.elf", "SUCCESS", True, ["x=1"]))
        for argv in (["--guest", "g", "--isola-only", "--xen-only"],
                     ["--guest", "g", "--expect-result", "PASS"], []):
            with self.subTest(argv=argv), redirect_stderr(io.StringIO()):
                with self.assertRaises(SystemExit) as cm:
                    check_guest.parse_args(argv)
                self.assertEqual(cm.exception.code, 2)

    def run_main(self, argv, consoles):
        """main() with run_isola answering from `consoles` (side -> (status, console))."""
        calls = []

        def fake_run(*args, **kwargs):
            calls.append(list(args))
            status, console = consoles["xen" if "--xen" in args else "isola"]
            return RunResult(status, console, {"exit": 1.25})
        out = io.StringIO()
        with mock.patch.object(check_guest, "run_isola", fake_run), \
                mock.patch("sys.stdout", out), redirect_stderr(io.StringIO()) as err, \
                mock.patch.object(check_guest, "terminate_on_sigterm"):
            status = check_guest.main(argv)
        return status, calls, out.getvalue().splitlines()[-1], err.getvalue()

    def test_main_both_sides(self):
        ok = (0, "Test result: SUCCESS\n")
        status, calls, last, _ = self.run_main(["--guest", "d/hello.elf"], {"isola": ok, "xen": ok})
        self.assertEqual(status, 0)
        self.assertEqual(calls, [["--no-build", "--smp", "1", "d/hello.elf"],
                                 ["--no-build", "--smp", "1", "--xen", "d/hello.elf"]])
        self.assertEqual(last, "hello: isola SUCCESS (1.2 s), xen SUCCESS (1.2 s)")

    def test_main_one_side_and_failure(self):
        status, calls, last, err = self.run_main(
            ["--guest", "hello.elf", "--isola-only", "--smp", "2"],
            {"isola": (124, "booting\n")})
        self.assertEqual((status, len(calls)), (1, 1))
        self.assertEqual(last, "hello: isola no result (1.2 s, status 124)")
        self.assertIn("check_guest: FAIL: isola: no 'Test result:' line", err)

    def test_main_disagreement_fails(self):
        status, _, _, err = self.run_main(
            ["--guest", "hello.elf"],
            {"isola": (0, "Test result: FAILURE\n"), "xen": (0, "Test result: SUCCESS\n")})
        self.assertEqual(status, 1)
        self.assertIn("isola and xen disagree", err)


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
