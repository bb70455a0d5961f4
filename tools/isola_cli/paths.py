# SPDX-License-Identifier: MIT
"""Where the source tree, the build tree and the hypervisor image live."""
import os
from pathlib import Path

# tools/isola_cli/paths.py -> the repository root, wherever the checkout is.
ROOT = Path(__file__).resolve().parents[2]


def build_dir() -> Path:
    """The one build tree the CLI uses, so `isola` and plain cmake/ctest agree."""
    return ROOT / "build"


def image_path() -> Path:
    """The multiboot image QEMU boots; ISOLA_IMAGE overrides it (CTest sets it)."""
    override = os.environ.get("ISOLA_IMAGE")
    return Path(override) if override else build_dir() / "isola.bin"
