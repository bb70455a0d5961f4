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


# The Debian package xen-hypervisor-4.17-amd64 installs the hypervisor here.
XEN_GZ = Path("/boot/xen-4.17-amd64.gz")


def xen_gz_path() -> Path:
    """The gzipped Xen 4.17 image `isola run --xen` boots; ISOLA_XEN_IMAGE overrides it."""
    override = os.environ.get("ISOLA_XEN_IMAGE")
    return Path(override) if override else XEN_GZ


def xen_image_path() -> Path:
    """Where the gunzipped Xen image is kept (QEMU's multiboot loader cannot read .gz)."""
    return build_dir() / "xen" / "xen-4.17"
