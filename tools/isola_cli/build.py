# SPDX-License-Identifier: MIT
"""Configure (once) and build the tree, quietly unless something fails."""
import subprocess
import sys

from . import paths
from .errors import EXIT_BAD_INPUT, IsolaError, require_tool


def _quiet(cmd: list[str], what: str) -> None:
    """Run a build step with its output held back; show it only if the step fails,
    because a successful build is noise in front of the console we care about."""
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace")
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        raise IsolaError(f"{what} failed (status {proc.returncode}): {' '.join(cmd)}",
                         EXIT_BAD_INPUT)


def configure(cmake: str) -> None:
    """Generate the Ninja build tree only when it does not exist yet: re-running cmake
    on every command would be slow, and `cmake --build` re-configures when needed."""
    build = paths.build_dir()
    if not (build / "build.ninja").exists():
        _quiet([cmake, "-S", str(paths.ROOT), "-B", str(build), "-G", "Ninja"], "configure")


def build() -> None:
    """Bring the build tree up to date (image, unit tests); raises IsolaError on failure."""
    cmake = require_tool("cmake")
    require_tool("ninja")
    configure(cmake)
    _quiet([cmake, "--build", str(paths.build_dir())], "build")
