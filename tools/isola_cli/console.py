# SPDX-License-Identifier: MIT
"""Streams QEMU's serial console as it arrives and keeps it for the caller."""
import os
import sys
import threading
import time

BANNER = "Isola hypervisor"
RESULT = "Test result:"  # a guest test kernel's verdict line (guests/runtime)


class ConsoleReader:
    """Pumps QEMU's stdout on a thread, so the main thread is free to enforce the
    timeout; echoes each line at once (a hang must still show what came before it).
    on_line, if given, sees each line on this thread before it is echoed."""

    def __init__(self, stream, t0: float, echo: bool, out=None, banner: str = BANNER,
                 on_line=None):
        self.lines: list[str] = []
        self.first_output: float | None = None
        self.banner: float | None = None
        self.result: float | None = None
        self._banner_text = banner
        self._on_line = on_line
        self._fd = stream.fileno()
        self._t0 = t0
        self._echo = echo
        self._out = out or sys.stdout
        self._thread = threading.Thread(target=self._pump, name="qemu-console", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        """Read raw chunks (no Python buffering) and hand over complete lines."""
        pending = b""
        while chunk := os.read(self._fd, 4096):
            if self.first_output is None:
                self.first_output = time.monotonic() - self._t0
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                self._emit(raw)
        if pending:
            self._emit(pending)

    def _emit(self, raw: bytes) -> None:
        """Record one line (serial consoles end lines with \\r\\n) and echo it."""
        line = raw.decode("utf-8", "replace").rstrip("\r")
        self.lines.append(line)
        if self.banner is None and self._banner_text in line:
            self.banner = time.monotonic() - self._t0
        if self.result is None and RESULT in line:
            self.result = time.monotonic() - self._t0
        if self._on_line is not None:
            self._on_line(line)
        if self._echo:
            self._write(line + "\n")

    def _write(self, text: str) -> None:
        """Echo and flush; a closed reader (`isola run | head`) stops the echo but
        not the run, so the exit status is still the hypervisor's."""
        try:
            self._out.write(text)
            self._out.flush()
        except BrokenPipeError:
            self._echo = False
            _silence(self._out)

    def join(self, timeout: float = 5.0) -> None:
        """Wait for the pipe to drain after QEMU ended."""
        self._thread.join(timeout)

    @property
    def text(self) -> str:
        """The whole console, one newline after each line."""
        return "".join(line + "\n" for line in self.lines)


def _silence(out) -> None:
    """Point a broken stdout at /dev/null so Python's exit flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
