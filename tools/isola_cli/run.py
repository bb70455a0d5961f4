# SPDX-License-Identifier: MIT
"""Boot the hypervisor image in QEMU once: the library API the CLI and the system
tests share (`run_isola`), so both see exactly the same behaviour. With --xen the
same loop boots Xen 4.17 instead (see xen.py)."""
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import paths
from .console import BANNER, ConsoleReader
from .errors import EXIT_BAD_INPUT, EXIT_QEMU_FAILED, EXIT_TIMEOUT, IsolaError, require_tool
from .options import Guest, RunOptions, parse_run_args
from .qemu import QEMU, decode_status, qemu_command, timeout_message
from .xen import XEN_BANNER, XenWatch, check_one_guest, xen_image

# Loaded before any fork: the child between fork and exec should only call prctl.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1

# How often the run loop looks at QEMU while it also waits for a Xen end-of-run line.
_POLL_SECONDS = 0.05


@dataclass
class RunResult:
    """What one run produced.

    status: isola's exit status (the hypervisor's code, or 2/124/125/126/127).
    console_text: the serial console, as streamed.
    timings: seconds from QEMU spawn: first_output, banner, result (the first
      `Test result:` line), exit (None if never).
    messages: isola's own `isola: ...` lines (errors, timeout, no clean exit).
    qemu_status: QEMU's raw exit status, None if QEMU never ran or was killed."""
    status: int
    console_text: str
    timings: dict[str, float | None] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    qemu_status: int | None = None

    @property
    def output(self) -> str:
        """Console followed by isola's own lines: everything a user would have seen."""
        return self.console_text + "".join(m + "\n" for m in self.messages)


def run_isola(*argv: str, echo: bool = True) -> RunResult:
    """Run with `isola run` arguments, e.g. run_isola("--smp", "2", "--", "demo").

    Never builds (tests run against what CTest built; --no-build is accepted and
    changes nothing) and never raises for expected failures: they come back as a
    status and a message."""
    return execute(parse_run_args(list(argv)), echo=echo)


def execute(opts: RunOptions, echo: bool = True) -> RunResult:
    """Check the inputs, boot, and translate the result; echo streams the console to
    stdout and isola's messages to stderr as they happen."""
    try:
        result = _launch(prepare(opts), opts, echo)
    except IsolaError as err:
        result = RunResult(err.status, "", messages=[err.line])
    return _finish(result, opts, echo)


def prepare(opts: RunOptions) -> list[str]:
    """Everything that can fail before QEMU starts, each as one clear line: the tool
    first, then the guests (so a missing guest is reported even without an image),
    then the image: Isola's, or with --xen the unpacked Xen 4.17."""
    qemu = require_tool(QEMU)
    if opts.xen:
        check_one_guest(opts.guests)
    check_guests(opts.guests)
    if opts.xen:
        image = Path(opts.image) if opts.image else xen_image()
    else:
        image = resolve_image(opts.image)
    return qemu_command(opts, str(image), qemu)


def check_guests(guests: list[Guest]) -> None:
    """A missing guest file is our error, not a QEMU one hidden in its output."""
    for guest in guests:
        if not Path(guest.path).is_file():
            raise IsolaError(f"guest kernel '{guest.path}' not found", EXIT_BAD_INPUT)


def resolve_image(image: str | None) -> Path:
    """The image to boot; missing means the build did not produce it."""
    path = Path(image) if image else paths.image_path()
    if not path.is_file():
        raise IsolaError(f"hypervisor image {path} not found; run `isola build` "
                         "or set ISOLA_IMAGE", EXIT_BAD_INPUT)
    return path


def _launch(cmd: list[str], opts: RunOptions, echo: bool) -> RunResult:
    """Spawn QEMU in its own process group with no stdin, stream, wait, translate.

    Own group: on timeout or Ctrl-C we kill QEMU and anything it started, and a
    terminal's Ctrl-C reaches us, not QEMU. No stdin: CI has no tty, and QEMU's
    stdio chardev would otherwise put a real terminal in raw mode. With --xen a
    XenWatch reads along and ends the run at Xen's end-of-run line."""
    if opts.gdb and echo:
        print("isola: QEMU waits for gdb: target remote localhost:1234 (no timeout)",
              file=sys.stderr, flush=True)
    watch = XenWatch() if opts.xen else None
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                start_new_session=True, preexec_fn=_die_with_parent)
    except OSError as err:
        raise IsolaError(f"cannot start {cmd[0]}: {err.strerror}", EXIT_QEMU_FAILED) from None
    try:
        console = ConsoleReader(proc.stdout, t0, echo, banner=XEN_BANNER if watch else BANNER,
                                on_line=watch.feed if watch else None)
        timed_out = _wait(proc, opts.effective_timeout, watch.finished if watch else None)
    finally:
        _kill_group(proc)  # no-op after a normal exit; Ctrl-C lands here
    exit_time = time.monotonic() - t0
    console.join()
    proc.stdout.close()
    timings = {"first_output": console.first_output, "banner": console.banner,
               "result": console.result, "exit": exit_time}
    if watch is not None:
        end = watch.after_exit()  # after console.join(): every line has been seen
        if end is not None:
            killed = watch.end is not None
            return RunResult(end.status, console.text, timings,
                             [f"isola: {end.message}"] if end.message else [],
                             None if killed else proc.returncode)
    return _translate(proc.returncode, timed_out, opts, console, timings)


def _die_with_parent() -> None:
    """In the child before exec: QEMU gets SIGKILL when isola dies without cleaning up
    (SIGKILL, a killed CI job), so no orphaned QEMU keeps spinning a CPU."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _wait(proc: subprocess.Popen, timeout: float | None,
          stop: threading.Event | None = None) -> bool:
    """Wait for QEMU; on timeout kill it and report True. When `stop` is set (Xen
    printed its end-of-run line and will idle forever) kill it and report False."""
    if stop is None:
        try:
            proc.wait(timeout)
            return False
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return True
    deadline = None if timeout is None else time.monotonic() + timeout
    while proc.poll() is None:
        wait = _POLL_SECONDS if deadline is None else min(_POLL_SECONDS,
                                                          max(0.0, deadline - time.monotonic()))
        if stop.wait(wait):
            _kill_group(proc)
            return False
        if deadline is not None and time.monotonic() >= deadline:
            _kill_group(proc)
            return True
    return False


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL QEMU's process group if QEMU is still running, then reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _translate(qemu_status, timed_out, opts, console, timings) -> RunResult:
    """Turn QEMU's raw status into the run's result and message."""
    if timed_out:
        return RunResult(EXIT_TIMEOUT, console.text, timings,
                         [f"isola: {timeout_message(opts.timeout)}"])
    status, message = decode_status(qemu_status, console_seen=bool(console.lines))
    messages = [f"isola: {message}"] if message else []
    return RunResult(status, console.text, timings, messages, qemu_status)


def _finish(result: RunResult, opts: RunOptions, echo: bool) -> RunResult:
    """Print isola's own lines (and --timing) after the console, to stderr."""
    if echo:
        for line in result.messages:
            print(line, file=sys.stderr, flush=True)
        if opts.timing and result.timings:
            print(format_timings(result.timings), file=sys.stderr, flush=True)
    return result


def format_timings(timings: dict[str, float | None]) -> str:
    """The --timing line; `n/a` for an event that never happened (no banner, no
    `Test result:` line...)."""
    def fmt(key: str) -> str:
        value = timings.get(key)
        return "n/a" if value is None else f"{value:.3f} s"
    return (f"isola: timing: first console output {fmt('first_output')}, "
            f"banner {fmt('banner')}, test result {fmt('result')}, exit {fmt('exit')}")
