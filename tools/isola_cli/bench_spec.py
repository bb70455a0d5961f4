# SPDX-License-Identifier: MIT
"""What `isola bench` measures and on which machines (pure data and planning, no I/O).

The benchmark guest (guests/bench) runs the benchmarks named on its command line. Each
benchmark needs a machine *shape*: one pCPU for everything except the cross-pCPU event
round trip; two vCPUs in the domain for the ping-pongs (on Xen: `dom0_max_vcpus=2`).

Isola runs every benchmark in its own pair of boots, with N and 2N iterations, because
the hypervisor's event counters are totals for a whole run: their difference divided by N
is the count per operation (boot, calibration and shutdown cancel). Xen has no counters,
so one boot per shape runs all of that shape's benchmarks.
"""
from dataclasses import dataclass

GUEST = "bench.elf"   # in build/guests
CALIBRATION_ITERS = 100_000
DEFAULT_ITERS = 1000


@dataclass(frozen=True)
class Shape:
    """A machine: pCPUs, the Xen options that give dom0 the vCPUs it needs, and the Isola
    module options that do the same for the benchmark domain."""
    name: str
    smp: int
    xen_args: tuple[str, ...] = ()
    isola_module_args: tuple[str, ...] = ()


ONE_PCPU = Shape("1 pCPU", 1)
TWO_VCPUS_ONE_PCPU = Shape("2 vCPUs on 1 pCPU", 1, ("dom0_max_vcpus=2",), ("vcpus=2", "cpus=0"))
TWO_VCPUS_TWO_PCPUS = Shape("2 vCPUs on 2 pCPUs", 2, ("dom0_max_vcpus=2", "dom0_vcpus_pin"), ("vcpus=2", "pin=0,1"))


@dataclass(frozen=True)
class Benchmark:
    name: str        # as on the guest command line and in its `bench:` line
    operation: str   # what one iteration is, for the report
    shape: Shape = ONE_PCPU


BENCHMARKS = (
    Benchmark("guest_call", "the guest's own loop, argument moves and call/ret (no hypercall)"),
    Benchmark("xen_version", "null hypercall: xen_version(XENVER_version)"),
    Benchmark("update_va_mapping", "update_va_mapping, same L1 entry, UVMF_INVLPG"),
    Benchmark("mmu_update", "mmu_update of one L1 entry (same value)"),
    Benchmark("mmu_update_l4", "mmu_update of an unused L4 entry, alternately an L3 and empty"),
    Benchmark("mmuext_flush", "mmuext_op(MMUEXT_TLB_FLUSH_LOCAL)"),
    Benchmark("syscall", "user SYSCALL -> syscall callback -> iret hypercall to user"),
    Benchmark("pf_bounce", "kernel #PF bounced to the guest handler, iret back"),
    Benchmark("set_gdt", "set_gdt with one read-only frame"),
    Benchmark("set_ldt", "mmuext_op(MMUEXT_SET_LDT), alternating 16/32 entries"),
    Benchmark("yield", "sched_op(SCHEDOP_yield), nothing else runnable"),
    Benchmark("yield_pingpong", "yield round trip between 2 vCPUs on 1 pCPU (2 switches)",
              TWO_VCPUS_ONE_PCPU),
    Benchmark("evtchn_rtt", "event round trip between 2 vCPUs on 2 pCPUs (SCHEDOP_poll)",
              TWO_VCPUS_TWO_PCPUS),
)
BY_NAME = {b.name: b for b in BENCHMARKS}


@dataclass(frozen=True)
class Config:
    """One hypervisor configuration: a column of the report."""
    key: str                  # short id, used in the CSV and file names
    label: str                # column heading
    xen: bool
    hv_args: tuple[str, ...]  # appended to the hypervisor command line


def isola_configs(asi_supported: bool) -> list[Config]:
    """ASI off and on. Without an `asi=` option in the image both columns are the same
    configuration (no option passed), run once; the report says so."""
    if not asi_supported:
        return [Config("isola", "Isola", False, ())]
    return [Config("isola-asi0", "Isola asi=0", False, ("asi=0",)),
            Config("isola-asi1", "Isola asi=1", False, ("asi=1",))]


XEN_CONFIGS = [Config("xen-xpti0", "Xen xpti=0", True, ("xpti=0",)),
               Config("xen-xpti1", "Xen xpti=1", True, ("xpti=1",))]


@dataclass(frozen=True)
class Run:
    """One boot: a config, a shape, the benchmarks it runs and their iteration count."""
    config: Config
    shape: Shape
    benchmarks: tuple[str, ...]
    iters: int
    repeat: int = 0   # which repetition (0-based)

    def guest_args(self) -> str:
        """The guest's command line (start_info.cmd_line)."""
        return (f"bench={','.join(self.benchmarks)} iters={self.iters} "
                f"cal={CALIBRATION_ITERS}")

    def run_argv(self, guest_path: str, timeout: float) -> list[str]:
        """`isola run` arguments. Isola takes module options before `--` and guest
        arguments after it; Xen makes everything after the path dom0's command line."""
        module = " ".join(self.shape.isola_module_args)
        guest_cmdline = self.guest_args() if self.config.xen else (module + " -- " + self.guest_args()).lstrip()
        argv = ["--no-build", "--icount", "--smp", str(self.shape.smp), "--timeout", f"{timeout:g}"]
        argv += ["--xen"] if self.config.xen else []
        hv_args = list(self.config.hv_args) + (list(self.shape.xen_args) if self.config.xen else [])
        return argv + [f"{guest_path}:{guest_cmdline}", "--", *hv_args]

    def describe(self) -> str:
        return f"{self.config.label} [{self.shape.name}] {','.join(self.benchmarks)} iters={self.iters}"


def plan_runs(configs: list[Config], names: list[str], iters: int, repeat: int) -> list[Run]:
    """Every boot the report needs, Xen (slow) first so parallel workers finish together."""
    runs = []
    for rep in range(repeat):
        for config in configs:
            runs += _xen_runs(config, names, iters, rep) if config.xen else _isola_runs(
                config, names, iters, rep)
    return sorted(runs, key=lambda r: not r.config.xen)


def _isola_runs(config: Config, names: list[str], iters: int, rep: int) -> list[Run]:
    return [Run(config, BY_NAME[n].shape, (n,), count, rep)
            for n in names for count in (iters, 2 * iters)]


def _xen_runs(config: Config, names: list[str], iters: int, rep: int) -> list[Run]:
    shapes: dict[Shape, list[str]] = {}
    for n in names:
        shapes.setdefault(BY_NAME[n].shape, []).append(n)
    return [Run(config, shape, tuple(group), iters, rep) for shape, group in shapes.items()]
