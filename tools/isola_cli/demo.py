# SPDX-License-Identifier: MIT
"""`isola demo`: the main job on its embedded default configuration.

Today: Isola on 2 pCPUs runs two unmodified PV guest kernels at once, one per pCPU: `traps`
(exceptions, bounce frames, user mode, page-table hypercalls) and `memory_checksum`; the
hypervisor prints what it found and its virtual layout first. It will grow 2 vCPUs per domain,
the isolation audit and a cost summary (issues 4, 6, 7); the system test `demo` uses
demo_run_args so it follows along."""
from .options import parse_run_args
from .paths import build_dir
from .run import RunResult, execute

DEFAULT_TIMEOUT = 30.0
DEMO_GUESTS = ("traps:name=traps", "memory_checksum:name=checksum")


def demo_guest_args() -> list[str]:
    """The demo's guests as `isola run` GUEST:ARGS arguments (also `isola audit`'s default)."""
    guests = []
    for spec in DEMO_GUESTS:
        name, _, args = spec.partition(":")
        guests.append(f"{build_dir() / 'guests' / (name + '.elf')}:{args}")
    return guests


def demo_run_args(timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """The `isola run` arguments the demo amounts to."""
    return ["--smp", "2", "--timeout", f"{timeout:g}", *demo_guest_args(), "--", "demo"]


def run_demo(timeout: float = DEFAULT_TIMEOUT, echo: bool = True) -> RunResult:
    """Boot the demo (the caller builds first) and return its result."""
    return execute(parse_run_args(demo_run_args(timeout), prog="isola demo"), echo=echo)
