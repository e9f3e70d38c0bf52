"""A Debian 12 base image made from Debian packages, for `podman build` with no image registry.

``debootstrap --variant=minbase bookworm`` (with python3 and python3-venv, so the build installs nothing)
into a temporary folder, packed once as a tarball under the cache folder (``$SIGCORE_CONTAINER_CACHE``,
default /var/tmp/sigcore-container: kept across test runs, so a machine pays for debootstrap once) and
``podman import``-ed as localhost/sigcore-base:bookworm when podman does not hold it already. A lock file
keeps two test processes from building it at once.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

BASE_IMAGE = "localhost/sigcore-base:bookworm"
MIRROR = os.environ.get("SIGCORE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = "python3,python3-venv,ca-certificates"


def cache_dir() -> Path:
    return Path(os.environ.get("SIGCORE_CONTAINER_CACHE", "/var/tmp/sigcore-container"))


def _run(argv: list[str], timeout: float = 1200) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def image_exists(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name], check=False).returncode == 0


def ensure_base_image() -> str:
    """The base image's name, building the cached rootfs tarball and importing it when needed."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    tarball = folder / "bookworm-minbase-python3.tar"
    with (folder / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(BASE_IMAGE):
            return BASE_IMAGE
        if not tarball.exists():
            rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=folder))
            try:
                _run(["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm", str(rootfs), MIRROR])
                partial = tarball.with_suffix(".partial")
                _run(["tar", "-C", str(rootfs), "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*",
                      "-cf", str(partial), "."])
                partial.rename(tarball)
            finally:
                shutil.rmtree(rootfs, ignore_errors=True)
        _run(["podman", "import", str(tarball), BASE_IMAGE])
    return BASE_IMAGE
