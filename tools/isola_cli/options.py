# SPDX-License-Identifier: MIT
"""What `isola run` accepts, and how its argument list is split and parsed.

Kept free of side effects so the unit tests can check every parsing rule.
"""
import argparse
from dataclasses import dataclass, field

RUN_USAGE = ("isola run [-h] [--smp N] [--mem MIB] [--timeout S] [--no-build] [--gdb]\n"
             "                 [--trace FILE] [--icount] [--timing]\n"
             "                 [GUEST[:ARGS] ...] [-- HV_CMDLINE ...]")

ARGUMENT_ORDER = """\
argument order:
  Options and guests come first, in any order; everything after the first literal
  `--` is the hypervisor command line, joined with spaces:
      isola run --smp 2 guest.elf:"mem=64M" -- loglvl=all
  A second `--` ends the hypervisor command line; what follows is guests again,
  so the order `isola run --smp 2 -- loglvl=all -- guest.elf` works too.
  A guest is PATH or PATH:ARGS (split at the first colon); it becomes a multiboot
  module whose command line is "PATH ARGS".
"""

EXIT_STATUS_HELP = """\
exit status:
  c     the hypervisor wrote c to isa-debug-exit (port 0xf4); QEMU exits 2c+1
  2     bad arguments, guest or image not found, build failed
  124   timeout: QEMU killed after --timeout seconds
  125   the machine stopped without a clean exit (triple fault or reset)
  126   QEMU failed to start or ended with a status isola cannot translate
  127   qemu-system-x86_64 (or cmake/ninja for the build) is not installed
  130   interrupted (Ctrl-C); QEMU is killed
"""

RUN_EPILOG = ARGUMENT_ORDER + "\n" + EXIT_STATUS_HELP


@dataclass
class Guest:
    """One PV guest kernel and the command line its multiboot module carries."""
    path: str
    args: str = ""


@dataclass
class RunOptions:
    """Everything one boot of Isola in QEMU needs; built by parse_run_args."""
    smp: int = 1
    mem: int = 256
    timeout: float | None = 30.0
    build: bool = True
    gdb: bool = False
    trace: str | None = None
    icount: bool = False
    timing: bool = False
    guests: list[Guest] = field(default_factory=list)
    hv_cmdline: list[str] = field(default_factory=list)
    image: str | None = None  # None: paths.image_path() at launch time

    @property
    def effective_timeout(self) -> float | None:
        """No timeout under --gdb: a debugging session can sit at a breakpoint forever."""
        return None if self.gdb else self.timeout


def split_hv_cmdline(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split at the first `--` into (options and guests, hypervisor command line).

    Done before argparse because argparse would swallow `--` and mix the two lists;
    a second `--` hands the rest back to the guest side (see RUN_EPILOG)."""
    argv = list(argv)
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    left, right = argv[:cut], argv[cut + 1:]
    if "--" in right:
        cut = right.index("--")
        return left + right[cut + 1:], right[:cut]
    return left, right


def parse_guest(token: str) -> Guest:
    """`PATH[:ARGS]` -> Guest; the first colon separates, later ones stay in ARGS."""
    path, _, args = token.partition(":")
    return Guest(path=path, args=args)


def positive_number(kind):
    """argparse type for numbers that must be > 0, so `--smp 0` is a usage error."""
    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
        return value
    return convert


def run_parser(prog: str = "isola run") -> argparse.ArgumentParser:
    """The parser for the options-and-guests half of `isola run`."""
    p = argparse.ArgumentParser(
        prog=prog, usage=RUN_USAGE, epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build (unless --no-build), boot Isola in QEMU with the given PV "
                    "guests, stream the serial console, exit with the hypervisor's status.")
    p.add_argument("--smp", type=positive_number(int), default=1, metavar="N",
                   help="number of pCPUs (default 1)")
    p.add_argument("--mem", type=positive_number(int), default=256, metavar="MIB",
                   help="machine memory in MiB (default 256)")
    p.add_argument("--timeout", type=positive_number(float), default=30.0, metavar="S",
                   help="kill QEMU after S seconds (default 30; none with --gdb)")
    p.add_argument("--no-build", dest="build", action="store_false",
                   help="boot the existing image without building first")
    p.add_argument("--gdb", action="store_true",
                   help="QEMU waits for gdb on localhost:1234 (-s -S); no timeout")
    p.add_argument("--trace", metavar="FILE",
                   help="log interrupts and CPU resets to FILE (-d int,cpu_reset -D FILE)")
    p.add_argument("--icount", action="store_true",
                   help="deterministic instruction counting (-icount shift=0)")
    p.add_argument("--timing", action="store_true",
                   help="print first-output, banner and exit times to stderr")
    p.add_argument("guests", nargs="*", metavar="GUEST[:ARGS]",
                   help="PV guest kernel (ELF) with an optional module command line")
    return p


def parse_run_args(argv: list[str], prog: str = "isola run") -> RunOptions:
    """Parse `isola run` arguments; usage errors exit 2 through argparse."""
    left, hv_cmdline = split_hv_cmdline(argv)
    ns = run_parser(prog).parse_intermixed_args(left)
    return RunOptions(smp=ns.smp, mem=ns.mem, timeout=ns.timeout, build=ns.build,
                      gdb=ns.gdb, trace=ns.trace, icount=ns.icount, timing=ns.timing,
                      guests=[parse_guest(t) for t in ns.guests], hv_cmdline=hv_cmdline)
