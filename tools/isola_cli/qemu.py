# SPDX-License-Identifier: MIT
"""The QEMU command line and the meaning of QEMU's exit status (pure functions)."""
import signal

from .errors import EXIT_BAD_INPUT, EXIT_NO_CLEAN_EXIT, EXIT_QEMU_FAILED, IsolaError
from .options import Guest, RunOptions
from .xen import XEN_CMDLINE

QEMU = "qemu-system-x86_64"

# The hypervisor ends a run by writing its status to this isa-debug-exit port.
DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04"

NO_CLEAN_EXIT = ("the machine stopped without a clean exit (triple fault or reset); "
                 "rerun with --trace FILE")


def module_string(guest: Guest) -> str:
    """One -initrd entry, "PATH ARGS": QEMU splits the list at single commas and reads
    ",," as a literal comma, so commas are doubled; QEMU takes the file name up to the
    first space, so a path with a space cannot be expressed and is refused."""
    if not guest.path:
        raise IsolaError("empty guest path", EXIT_BAD_INPUT)
    if " " in guest.path:
        raise IsolaError(f"guest path {guest.path!r} contains a space, which QEMU's "
                         "multiboot loader cannot pass", EXIT_BAD_INPUT)
    text = f"{guest.path} {guest.args}" if guest.args else guest.path
    return text.replace(",", ",,")


def initrd_arg(guests: list[Guest]) -> str:
    """The -initrd value: the guests' module strings, in order, comma separated."""
    return ",".join(module_string(g) for g in guests)


def kernel_cmdline(opts: RunOptions) -> str:
    """The hypervisor's command line: what follows `--`, after Xen's own with --xen."""
    return " ".join((XEN_CMDLINE if opts.xen else []) + opts.hv_cmdline)


def qemu_command(opts: RunOptions, image: str, qemu: str = QEMU) -> list[str]:
    """The full QEMU argv: a bare PC with only a serial port and the exit device,
    so the console is stdout and nothing else competes for it. Isola and Xen boot
    on the same machine; only the image, the memory default and the command line
    differ (the image is Xen's with --xen)."""
    cmd = [qemu, "-M", "pc", "-cpu", "max", "-m", str(opts.mem), "-smp", str(opts.smp),
           "-display", "none", "-vga", "none", "-nodefaults", "-no-reboot",
           "-serial", "stdio", "-monitor", "none", "-device", DEBUG_EXIT,
           "-kernel", str(image), "-append", kernel_cmdline(opts)]
    if opts.guests:
        cmd += ["-initrd", initrd_arg(opts.guests)]
    if opts.gdb:
        cmd += ["-s", "-S"]
    if opts.trace:
        cmd += ["-d", "int,cpu_reset", "-D", opts.trace]
    if opts.icount:
        cmd += ["-icount", "shift=0"]
    return cmd


def decode_status(qemu_status: int, console_seen: bool = True) -> tuple[int, str | None]:
    """Translate QEMU's exit status into isola's: (status, message to print or None).

    isa-debug-exit makes QEMU exit 2c+1 for code c, so odd statuses carry the
    hypervisor's code. QEMU itself also exits 1 when it cannot start (bad kernel,
    bad option); that would read as code 0, so a 1 with no console output at all is
    reported as a QEMU failure instead of a success."""
    if qemu_status == 1 and not console_seen:
        return EXIT_QEMU_FAILED, ("QEMU failed before the machine printed anything "
                                  "(status 1); see its message above")
    if qemu_status > 0 and qemu_status % 2 == 1:
        return (qemu_status - 1) // 2, None
    if qemu_status == 0:
        return EXIT_NO_CLEAN_EXIT, NO_CLEAN_EXIT
    if qemu_status < 0:
        return EXIT_QEMU_FAILED, f"QEMU was killed by {_signal_name(-qemu_status)}"
    return EXIT_QEMU_FAILED, f"QEMU exited with status {qemu_status}, not an isa-debug-exit code"


def timeout_message(seconds: float) -> str:
    """`timeout after 3 s, QEMU killed`: :g keeps whole seconds free of a '.0'."""
    return f"timeout after {seconds:g} s, QEMU killed"


def _signal_name(number: int) -> str:
    """SIGABRT rather than 6, because a QEMU crash is what this usually means."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
