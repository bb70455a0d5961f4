# SPDX-License-Identifier: MIT
"""Host-side `isola` command: build the hypervisor, boot it in QEMU, run the tests.

Python 3.11 standard library only, so a fresh machine needs nothing but python3,
cmake, ninja and qemu-system-x86_64 to use it.
"""
from .cli import main
from .run import RunResult, run_isola

__all__ = ["main", "run_isola", "RunResult"]
