# SPDX-License-Identifier: MIT
"""Boot Isola with `audit-point=<cpu>` and a QMP socket, and ask QEMU what that pCPU maps.

The hypervisor prints the stopped root's mappings and halts the pCPU (audit_qemu.py). We stop
the whole machine through QMP (so the other pCPUs change nothing while we look), then run the
monitor commands `info registers`, `info tlb` and `info mem` on that CPU through
`human-monitor-command` with `cpu-index`, and kill QEMU. Comparison: audit_qemu.compare().
"""
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .options import parse_run_args
from .qemu import qemu_command
from .run import prepare

POINT_END = "audit: point end "


@dataclass
class QemuView:
    console: str
    info_registers: str
    info_tlb: str
    info_mem: str


class Qmp:
    """A minimal QMP client: one command at a time, events skipped."""

    def __init__(self, path: str, timeout: float):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buffer = b""
        self._message()  # the greeting
        self.execute("qmp_capabilities")

    def _message(self) -> dict:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("QMP socket closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def execute(self, command: str, **arguments):
        self.sock.sendall(json.dumps({"execute": command, "arguments": arguments}).encode() + b"\n")
        while True:
            reply = self._message()
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise RuntimeError(f"QMP {command}: {reply['error']}")

    def hmp(self, command_line: str, cpu: int) -> str:
        return self.execute("human-monitor-command", **{"command-line": command_line, "cpu-index": cpu})

    def close(self):
        self.sock.close()


def _read_console(stream, lines: list[str], done: threading.Event) -> None:
    for raw in stream:
        line = raw.decode("utf-8", errors="replace")
        lines.append(line)
        if line.startswith(POINT_END):
            done.set()
    done.set()  # QEMU ended without an audit point


def _connect(path: str, deadline: float) -> Qmp:
    while True:
        try:
            return Qmp(path, max(1.0, deadline - time.monotonic()))
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def boot_and_look(run_args: list[str], cpu: int, timeout: float = 30.0) -> QemuView:
    """Boot with `isola run` arguments plus `audit-point=<cpu>`, wait for the point, look."""
    opts = parse_run_args([*run_args, "--", f"audit-point={cpu}"] if "--" not in run_args
                          else [*run_args, f"audit-point={cpu}"], prog="audit-qemu")
    cmd = prepare(opts)
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "qmp.sock")
        at = cmd.index("-monitor")
        cmd[at:at + 2] = ["-monitor", "none", "-qmp", f"unix:{sock},server=on,wait=off"]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True)
        lines: list[str] = []
        done = threading.Event()
        reader = threading.Thread(target=_read_console, args=(proc.stdout, lines, done), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + timeout
            done.wait(timeout)
            if not any(line.startswith(POINT_END) for line in lines):
                raise TimeoutError("no `audit: point end` line; console:\n" + "".join(lines[-20:]))
            qmp = _connect(sock, deadline)
            try:
                qmp.execute("stop")
                view = QemuView("".join(lines), qmp.hmp("info registers", cpu), qmp.hmp("info tlb", cpu),
                                qmp.hmp("info mem", cpu))
            finally:
                qmp.close()
        finally:
            proc.kill()
            proc.wait()
    return view


def save_view(view: QemuView, directory: Path) -> None:
    """Keeps the four texts, so a failing comparison can be replayed and samples recorded."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("console", "info_registers", "info_tlb", "info_mem"):
        (directory / f"{name}.txt").write_text(getattr(view, name), encoding="utf-8")
