# SPDX-License-Identifier: MIT
"""Xen 4.17 as the oracle (`isola run --xen`): the same guest kernels boot on real Xen
in the same QEMU machine, so differential tests can compare Isola against it.

Three things differ from an Isola run: the image (the Debian package's gzipped Xen,
unpacked once into the build tree), the command line, and the end of the run. Xen
never ends QEMU by itself when dom0 powers off; it prints a line and halts forever.
XenWatch reads the console for those lines so the run loop can kill QEMU at once.
"""
import gzip
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .errors import EXIT_BAD_INPUT, EXIT_MISSING_TOOL, IsolaError
from .options import Guest

XEN_PACKAGE = "xen-hypervisor-4.17-amd64"

# Xen's own command line; anything after `isola run --xen ... --` is appended.
# smap=0: QEMU TCG performs the stack pops of LRETQ as supervisor accesses, so with SMAP on a PV
# guest's far return faults on its own (user) stack (pv-abi.md §4.10, bug 2). Isola never enables
# SMAP while a PV guest runs, so both oracles see the same architectural behaviour.
XEN_CMDLINE = ["console=com1", "com1=115200,8n1", "dom0_mem=32M", "loglvl=all",
               "guest_loglvl=all", "smap=0"]

# The line --timing reports as the banner on a Xen run.
XEN_BANNER = "Xen version"

EXIT_DOM0_HALTED = 0   # dom0 powered off: the clean end of a test kernel
EXIT_DOM0_CRASHED = 1  # dom0 crashed, or asked for a reboot (not a clean end either)
EXIT_XEN_PANIC = 3     # Xen itself panicked (like Isola's fatal-fault status)

_GZIP_MAGIC = b"\x1f\x8b"


def not_installed(gz: Path) -> IsolaError:
    """The one-line hint for a machine without the Xen package."""
    return IsolaError(f"Xen 4.17 not found ({gz}); install it with: apt-get install -y "
                      f"{XEN_PACKAGE}", EXIT_MISSING_TOOL)


def check_one_guest(guests: list[Guest]) -> None:
    """Xen boots exactly one kernel, dom0: a second module would become dom0's initrd,
    which is not what a caller listing two guests means."""
    if len(guests) != 1:
        raise IsolaError(f"--xen needs exactly one guest, which becomes dom0 "
                         f"(got {len(guests)})", EXIT_BAD_INPUT)


def xen_image() -> Path:
    """The uncompressed Xen image for QEMU's multiboot loader (which cannot read gzip).

    Gunzipped once into build/xen/xen-4.17 and again whenever the source changes: a
    stamp file next to it records the source's path, mtime and size, so a newer
    package (or a switch of ISOLA_XEN_IMAGE) is noticed. The image is written to a
    temporary file and renamed, so parallel runs never boot a half-written file.
    ISOLA_XEN_IMAGE may also name an uncompressed image, which is used as it is."""
    gz = paths.xen_gz_path()
    try:
        st = gz.stat()
        with open(gz, "rb") as f:
            magic = f.read(2)
    except FileNotFoundError:
        raise not_installed(gz) from None
    except OSError as err:
        raise IsolaError(f"cannot read Xen image {gz}: {err.strerror}", EXIT_BAD_INPUT) from None
    if magic != _GZIP_MAGIC:
        return gz
    image = paths.xen_image_path()
    stamp = image.with_name(image.name + ".source")
    source = f"{gz.resolve()} {st.st_mtime_ns} {st.st_size}\n"
    if image.is_file() and _read_text(stamp) == source:
        return image
    try:
        image.parent.mkdir(parents=True, exist_ok=True)
        _unpack(gz, image)
        _write_atomically(stamp, source.encode())
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise IsolaError(f"cannot unpack Xen image {gz} into {image}: {err}",
                         EXIT_BAD_INPUT) from None
    return image


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _unpack(gz: Path, image: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=image.parent, prefix=image.name + ".")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would lock other users out of the cache
        with os.fdopen(fd, "wb") as out, gzip.open(gz, "rb") as src:
            shutil.copyfileobj(src, out)
        os.replace(tmp, image)
    except BaseException:
        os.unlink(tmp)
        raise


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@dataclass(frozen=True)
class XenEnd:
    """How a Xen run ended: isola's status and its `isola:` message (None when clean)."""
    status: int
    message: str | None


# Xen's hwdom_shutdown() lines (common/shutdown.c), searched anywhere in a console
# line: dom0 output without a final newline can share the line with Xen's.
_DOM0_ENDS = [
    (re.compile(r"Hardware Dom\d+ halted: halting machine"),
     XenEnd(EXIT_DOM0_HALTED, None)),
    (re.compile(r"Hardware Dom\d+ crashed: "),
     XenEnd(EXIT_DOM0_CRASHED, "Xen: dom0 crashed; QEMU killed")),
    (re.compile(r"Hardware Dom\d+ shutdown"),
     XenEnd(EXIT_DOM0_CRASHED, "Xen: dom0 shut down for a reboot, not a power-off; "
                               "QEMU killed")),
    (re.compile(r"Hardware domain \d+ did unsupported soft reset"),
     XenEnd(EXIT_DOM0_CRASHED, "Xen: dom0 asked for a soft reset; QEMU killed")),
]

# panic(): a box of 40 stars around "Panic on CPU n:" and the reason, then
# "Reboot in five seconds..." (or "Manual reset required" with noreboot). A fatal
# machine check draws the same 40-star box and reboots without that last line.
_PANIC_START = re.compile(r"Panic on CPU \d+:|^\(XEN\) (?:\[[^]]*\] )?\*{40}\s*$")
_PANIC_CPU = re.compile(r"Panic on CPU \d+:")
_PANIC_END = re.compile(r"in five seconds\.\.\.|Manual reset required")
_XEN_PREFIX = re.compile(r"^\(XEN\) (?:\[[^]]*\] )?")


def dom0_end(line: str) -> XenEnd | None:
    """The end of run a console line announces, if it is one of hwdom_shutdown()'s."""
    for pattern, end in _DOM0_ENDS:
        if pattern.search(line):
            return end
    return None


class XenWatch:
    """Fed every console line (on the console thread); sets `finished` at the first
    line after which Xen will do nothing useful, so the run loop kills QEMU."""

    def __init__(self):
        self.end: XenEnd | None = None
        self.finished = threading.Event()
        self._panic = False
        self._want_reason = False
        self._reason: str | None = None

    def feed(self, line: str) -> None:
        if self.end is not None:
            return
        end = dom0_end(line)
        if end is not None:
            return self._finish(end)
        if self._want_reason:
            self._reason = _XEN_PREFIX.sub("", line).strip() or None
            self._want_reason = False
        if _PANIC_START.search(line):
            self._panic = True
            self._want_reason = self._want_reason or bool(_PANIC_CPU.search(line))
        if self._panic and _PANIC_END.search(line):
            self._finish(self.panic_end())

    def panic_end(self) -> XenEnd:
        reason = f": {self._reason}" if self._reason else ""
        return XenEnd(EXIT_XEN_PANIC, f"Xen panicked{reason}")

    def after_exit(self) -> XenEnd | None:
        """The end when QEMU stopped by itself: a panic's reboot (with -no-reboot QEMU
        exits 0) is still a panic; anything else is for the usual status rules."""
        if self.end is not None:
            return self.end
        return self.panic_end() if self._panic else None

    def _finish(self, end: XenEnd) -> None:
        self.end = end
        self.finished.set()
