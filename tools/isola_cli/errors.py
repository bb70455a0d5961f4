# SPDX-License-Identifier: MIT
"""User-facing failures and the exit statuses of the `isola` command.

Every expected failure (missing tool, bad input, failed build) ends the command with
one `isola: ...` line and a documented status, never a Python traceback.
"""
import shutil
import signal

EXIT_BAD_INPUT = 2        # bad arguments, missing guest or image, failed build
EXIT_TIMEOUT = 124        # QEMU killed after --timeout seconds (like timeout(1))
EXIT_NO_CLEAN_EXIT = 125  # machine stopped without isa-debug-exit (triple fault, reset)
EXIT_QEMU_FAILED = 126    # QEMU failed or ended in a way we cannot translate
EXIT_MISSING_TOOL = 127   # a required host tool is not installed (like a shell)
EXIT_INTERRUPTED = 130    # Ctrl-C (128 + SIGINT, like a shell)
EXIT_TERMINATED = 143     # SIGTERM (128 + SIGTERM)

# Debian package that provides each host tool, for the install hint.
INSTALL_HINTS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "cmake": "cmake",
    "ctest": "cmake",
    "ninja": "ninja-build",
}


class IsolaError(Exception):
    """A failure the user can act on: printed as `isola: <message>`, exits `status`."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def line(self) -> str:
        """The exact line the CLI prints, shared by the CLI and the test API."""
        return f"isola: {self.message}"


def require_tool(name: str) -> str:
    """Find `name` on PATH, or fail with one line saying which package installs it."""
    path = shutil.which(name)
    if path is None:
        package = INSTALL_HINTS.get(name, name)
        raise IsolaError(f"{name} not found; install it with: apt-get install -y {package}",
                         EXIT_MISSING_TOOL)
    return path


class Terminated(BaseException):
    """SIGTERM turned into an exception, so `finally` blocks kill QEMU on the way out
    (Python's default SIGTERM action would exit at once and orphan QEMU)."""


def terminate_on_sigterm() -> None:
    """Make SIGTERM raise Terminated; the CLI and the CTest driver call this."""
    def handler(signum, frame):
        raise Terminated()
    signal.signal(signal.SIGTERM, handler)
