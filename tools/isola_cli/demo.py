# SPDX-License-Identifier: MIT
"""`isola demo`: the main job on its embedded default configuration.

For now a 2-pCPU boot with the hypervisor command line `demo` (the hypervisor prints
its layout and what it found). It will grow guests, the isolation audit and a cost
summary; the system test `demo` uses demo_run_args so it follows along."""
from .options import parse_run_args
from .run import RunResult, execute

DEFAULT_TIMEOUT = 30.0


def demo_run_args(timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """The `isola run` arguments the demo amounts to."""
    return ["--smp", "2", "--timeout", f"{timeout:g}", "--", "demo"]


def run_demo(timeout: float = DEFAULT_TIMEOUT, echo: bool = True) -> RunResult:
    """Boot the demo (the caller builds first) and return its result."""
    return execute(parse_run_args(demo_run_args(timeout), prog="isola demo"), echo=echo)
