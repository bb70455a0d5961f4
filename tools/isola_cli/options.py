# SPDX-License-Identifier: MIT
"""What `isola run` accepts, and how its argument list is split and parsed.

Kept free of side effects so the unit tests can check every parsing rule.
"""
import argparse
from dataclasses import dataclass, field

RUN_USAGE = ("isola run [-h] [--xen] [--smp N] [--mem MIB] [--timeout S] [--no-build]\n"
             "                 [--gdb] [--trace FILE] [--icount] [--timing]\n"
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

XEN_HELP = """\
Xen 4.17 oracle (--xen):
  Boots the Debian package's Xen (/boot/xen-4.17-amd64.gz, or ISOLA_XEN_IMAGE) in
  the same QEMU machine instead of Isola, with exactly one guest, which becomes dom0:
      isola run --xen build/guests/hello.elf
  Xen's command line is "console=com1 com1=115200,8n1 dom0_mem=32M loglvl=all
  guest_loglvl=all smap=0" followed by anything after `--` (smap=0 works around a QEMU
  TCG bug, pv-abi.md 4.10). Memory defaults to 512 MiB and
  the timeout to 90 s (Xen boots slower under TCG). Xen never ends QEMU by itself,
  so isola watches the console and kills QEMU at the first end-of-run line.
"""

EXIT_STATUS_HELP = """\
exit status:
  c     the hypervisor wrote c to isa-debug-exit (port 0xf4); QEMU exits 2c+1
  2     bad arguments, guest or image not found, build failed
  124   timeout: QEMU killed after --timeout seconds
  125   the machine stopped without a clean exit (triple fault or reset)
  126   QEMU failed to start or ended with a status isola cannot translate
  127   qemu-system-x86_64 (or cmake/ninja for the build, or Xen for --xen) is
        not installed
  130   interrupted (Ctrl-C); QEMU is killed
with --xen, instead of isa-debug-exit codes:
  0     dom0 powered off ("Hardware Dom0 halted")
  1     dom0 crashed or asked for a reboot ("Hardware Dom0 crashed" / "shutdown")
  3     Xen panicked
"""

RUN_EPILOG = ARGUMENT_ORDER + "\n" + XEN_HELP + "\n" + EXIT_STATUS_HELP

DEFAULT_MEM = 256           # MiB for Isola
XEN_DEFAULT_MEM = 512       # MiB for Xen: its own heap plus dom0_mem
DEFAULT_TIMEOUT = 30.0      # seconds for Isola
XEN_DEFAULT_TIMEOUT = 90.0  # seconds for Xen, which boots slower under TCG


@dataclass
class Guest:
    """One PV guest kernel and the command line its multiboot module carries."""
    path: str
    args: str = ""


@dataclass
class RunOptions:
    """Everything one boot of Isola (or, with xen, of Xen 4.17) in QEMU needs; built
    by parse_run_args. mem and timeout left at None get the defaults of the mode."""
    smp: int = 1
    mem: int | None = None        # None: DEFAULT_MEM, or XEN_DEFAULT_MEM with xen
    timeout: float | None = None  # None: DEFAULT_TIMEOUT, or XEN_DEFAULT_TIMEOUT with xen
    build: bool = True
    gdb: bool = False
    trace: str | None = None
    icount: bool = False
    timing: bool = False
    guests: list[Guest] = field(default_factory=list)
    hv_cmdline: list[str] = field(default_factory=list)
    image: str | None = None  # None: paths.image_path() (Isola) at launch time
    xen: bool = False         # boot Xen 4.17, the oracle, instead of Isola

    def __post_init__(self):
        if self.mem is None:
            self.mem = XEN_DEFAULT_MEM if self.xen else DEFAULT_MEM
        if self.timeout is None:
            self.timeout = XEN_DEFAULT_TIMEOUT if self.xen else DEFAULT_TIMEOUT

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
        description="Build (unless --no-build), boot Isola (or with --xen, Xen 4.17) in "
                    "QEMU with the given PV guests, stream the serial console, exit with "
                    "the hypervisor's status.")
    p.add_argument("--xen", action="store_true",
                   help="boot Xen 4.17 instead of Isola, with the one guest as dom0 "
                        "(the oracle for differential tests; see below)")
    p.add_argument("--smp", type=positive_number(int), default=1, metavar="N",
                   help="number of pCPUs (default 1)")
    p.add_argument("--mem", type=positive_number(int), default=None, metavar="MIB",
                   help=f"machine memory in MiB (default {DEFAULT_MEM}, "
                        f"{XEN_DEFAULT_MEM} with --xen)")
    p.add_argument("--timeout", type=positive_number(float), default=None, metavar="S",
                   help=f"kill QEMU after S seconds (default {DEFAULT_TIMEOUT:g}, "
                        f"{XEN_DEFAULT_TIMEOUT:g} with --xen; none with --gdb)")
    p.add_argument("--no-build", dest="build", action="store_false",
                   help="boot the existing image without building first")
    p.add_argument("--gdb", action="store_true",
                   help="QEMU waits for gdb on localhost:1234 (-s -S); no timeout")
    p.add_argument("--trace", metavar="FILE",
                   help="log interrupts and CPU resets to FILE (-d int,cpu_reset -D FILE)")
    p.add_argument("--icount", action="store_true",
                   help="deterministic instruction counting (-icount shift=0)")
    p.add_argument("--timing", action="store_true",
                   help="print the times of the first output, the banner, the first "
                        "`Test result:` line and the exit to stderr")
    p.add_argument("guests", nargs="*", metavar="GUEST[:ARGS]",
                   help="PV guest kernel (ELF) with an optional module command line")
    return p


def parse_run_args(argv: list[str], prog: str = "isola run") -> RunOptions:
    """Parse `isola run` arguments; usage errors exit 2 through argparse. The
    one-guest rule of --xen is checked at launch (run.prepare), so it fails with
    one `isola:` line like the other input errors."""
    left, hv_cmdline = split_hv_cmdline(argv)
    ns = run_parser(prog).parse_intermixed_args(left)
    return RunOptions(smp=ns.smp, mem=ns.mem, timeout=ns.timeout, build=ns.build,
                      gdb=ns.gdb, trace=ns.trace, icount=ns.icount, timing=ns.timing,
                      guests=[parse_guest(t) for t in ns.guests], hv_cmdline=hv_cmdline,
                      xen=ns.xen)
