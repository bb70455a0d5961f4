# SPDX-License-Identifier: MIT
"""`isola <command>`: argument handling and dispatch; the work lives in the modules."""
import argparse
import os
import subprocess
import sys

from . import bench, build, paths
from .audit import cmd_audit
from .demo import DEFAULT_TIMEOUT, run_demo
from .errors import (EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED, IsolaError,
                     Terminated, require_tool, terminate_on_sigterm)
from .options import EXIT_STATUS_HELP, parse_run_args, positive_number
from .run import execute

TOP_HELP = """\
usage: isola <command> [options]

Build the Isola hypervisor and run it in QEMU.

commands:
  run     boot Isola in QEMU with PV guests, stream the console, exit with its status
          (--xen: boot Xen 4.17 instead, the oracle for differential tests)
  demo    the main job: Isola on 2 pCPUs, 2 domains x 2 vCPUs, ASI on, the isolation audit
  audit   boot with ASI on and off, print and draw what each root table can reach
  bench   the benchmark suite under QEMU -icount (--vs-xen: side by side with Xen 4.17)
  test    build, then run the CTest suite (unit and system tests)
  build   configure (first time only) and build into build/

`isola <command> --help` describes a command. run, demo and bench build first unless
--no-build; the image is build/isola.bin (ISOLA_IMAGE overrides it).
"""


def cmd_run(argv: list[str]) -> int:
    """`isola run`: build unless --no-build, then boot."""
    opts = parse_run_args(argv)
    if opts.build:
        build.build()
    return execute(opts).status


def cmd_demo(argv: list[str]) -> int:
    """`isola demo`: build, then the demo configuration (see demo.py)."""
    p = argparse.ArgumentParser(prog="isola demo", epilog=EXIT_STATUS_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Boot Isola on 2 pCPUs with 2 domains x 2 vCPUs and the "
                                            "command line `demo audit`: it prints its layout, what it "
                                            "found and the isolation audit of every root.")
    p.add_argument("--timeout", type=positive_number(float), default=DEFAULT_TIMEOUT, metavar="S",
                   help=f"kill QEMU after S seconds (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--no-build", dest="build", action="store_false",
                   help="boot the existing image without building first")
    ns = p.parse_args(argv)
    if ns.build:
        build.build()
    return run_demo(ns.timeout).status


def cmd_test(argv: list[str]) -> int:
    """`isola test`: build, then ctest with the given filters; ctest's status."""
    p = argparse.ArgumentParser(prog="isola test",
                                description="Build, then run the CTest suite.")
    p.add_argument("-j", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="parallel tests (default: number of CPUs)")
    p.add_argument("-R", metavar="REGEX", help="only tests whose name matches REGEX")
    p.add_argument("-L", metavar="LABEL",
                   help="only tests with LABEL (unit, system, guest, xen)")
    ns = p.parse_args(argv)
    ctest = require_tool("ctest")
    build.build()
    cmd = [ctest, "--test-dir", str(paths.build_dir()), "--output-on-failure", "-j", str(ns.j)]
    cmd += ["-R", ns.R] if ns.R else []
    cmd += ["-L", ns.L] if ns.L else []
    return subprocess.call(cmd, stdin=subprocess.DEVNULL)


def cmd_bench(argv: list[str]) -> int:
    """`isola bench`: build unless --no-build, run the benchmarks, write the report."""
    return bench.main(argv)


def cmd_build(argv: list[str]) -> int:
    """`isola build`: configure if needed, then build."""
    argparse.ArgumentParser(prog="isola build",
                            description="Configure (first time only) and build.").parse_args(argv)
    build.build()
    return 0


COMMANDS = {"run": cmd_run, "demo": cmd_demo, "audit": cmd_audit, "bench": cmd_bench, "test": cmd_test,
            "build": cmd_build}


def dispatch(argv: list[str]) -> int:
    """Pick the command; each parses its own arguments (run splits at `--` first,
    which a single argparse tree with subparsers cannot do)."""
    if not argv:
        sys.stderr.write(TOP_HELP)
        return EXIT_BAD_INPUT
    if argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(TOP_HELP)
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        raise IsolaError(f"unknown command '{argv[0]}' (commands: {', '.join(COMMANDS)}; "
                         "see isola --help)", EXIT_BAD_INPUT)
    return command(argv[1:])


def main(argv: list[str] | None = None) -> int:
    """Entry point: expected failures end with one line, Ctrl-C with 130, no traceback."""
    terminate_on_sigterm()
    try:
        return dispatch(sys.argv[1:] if argv is None else list(argv))
    except IsolaError as err:
        print(err.line, file=sys.stderr)
        return err.status
    except KeyboardInterrupt:
        print("isola: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("isola: terminated", file=sys.stderr)
        return EXIT_TERMINATED
