"""The container: the Dockerfile builds with `podman build --isolation chroot` on a base image made from
Debian packages (no registry), runs as a non-root user with its config, database and key in the volume,
carries a HEALTHCHECK on the API's /healthz; its entry point, run by chroot into the mounted container
(podman cannot start containers here), answers a python-diameter AIR."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from container_base import ensure_base_image
from sigcore_process import ROOT, fixed_keys_config, run_checked, wait_exit

from interop.ports import wait_tcp_listening
from interop.process import LoggedProcess
from support.s6a import OPC, K, air, mme

pytestmark = [pytest.mark.interop, pytest.mark.slow,
              pytest.mark.skipif(not (shutil.which("podman") and shutil.which("debootstrap")),
                                 reason="needs the Debian packages podman and debootstrap"),
              pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap and chroot need root")]
VOLUME = "var/lib/sigcore"
IMSI = "001010000000001"


@pytest.fixture
def image(tmp_path: Path, built_wheel: Path) -> Iterator[str]:
    base = ensure_base_image()
    context = tmp_path / "context"
    (context / "deploy").mkdir(parents=True)
    shutil.copy(ROOT / "Dockerfile", context)
    shutil.copy(ROOT / ".dockerignore", context)
    shutil.copytree(ROOT / "deploy" / "container", context / "deploy" / "container")
    dist = context / "dist"
    dist.mkdir()
    shutil.copy(built_wheel, dist)
    run_checked([sys.executable, "-m", "pip", "wheel", "-q", "-w", str(dist), str(dist / built_wheel.name)])
    name = f"localhost/sigcore-test:{secrets.token_hex(4)}"
    run_checked(["podman", "build", "--isolation", "chroot", "--format", "docker", "--build-arg", f"BASE={base}",
                 "-t", name, str(context)], timeout=900)
    try:
        yield name
    finally:
        subprocess.run(["podman", "rmi", "-f", name], capture_output=True, check=False)


@pytest.fixture
def mounted(image: str) -> Iterator[tuple[Path, dict[str, object]]]:
    """The root of a container of `image`, writable, and the image's config."""
    inspected = json.loads(run_checked(["podman", "image", "inspect", image]))[0]
    config = {**inspected["Config"], "Healthcheck": inspected.get("Healthcheck")}
    container = run_checked(["podman", "create", image]).strip()
    try:
        yield Path(run_checked(["podman", "mount", container]).strip()), config
    finally:
        subprocess.run(["podman", "umount", container], capture_output=True, check=False)
        subprocess.run(["podman", "rm", "-f", container], capture_output=True, check=False)


def _entry(root: Path, config: dict[str, object], *args: str) -> list[str]:
    """The image's entry point with its user, working directory and environment, by chroot."""
    env = [str(e) for e in config["Env"]]  # type: ignore[attr-defined]
    uid = run_checked(["chroot", str(root), "id", "-u", str(config["User"])]).strip()
    return ["env", "-i", *env, "chroot", f"--userspec={uid}:{uid}", str(root), "/bin/sh", "-c",
            f'cd {config["WorkingDir"]} && exec "$@"', "entry", *config["Entrypoint"], *args]  # type: ignore[misc]


def test_image_runs_as_non_root_and_answers_an_air(mounted: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    root, config = mounted
    assert config["User"] == "sigcore" and "/var/lib/sigcore" in config["Volumes"]  # type: ignore[operator]
    health = config["Healthcheck"]["Test"]  # type: ignore[index]
    assert "/healthz" in " ".join(health)
    settings = fixed_keys_config("sqlite:////var/lib/sigcore/sigcore.sqlite")
    api_port = settings["api"]["listen"].rsplit(":", 1)[1]
    (root / VOLUME / "sigcore.yaml").write_text(yaml.safe_dump(settings))  # the operator's edit in the volume
    config["Env"] = [e for e in config["Env"] if not e.startswith("SIGCORE_API_PORT=")] + [  # type: ignore[attr-defined]
        f"SIGCORE_API_PORT={api_port}"]
    added = subprocess.run(_entry(root, config, "subscriber", "add", "--imsi", IMSI, "--ki", K.hex(), "--opc",
                                  OPC.hex(), "--apn", "internet"), capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr
    key = root / VOLUME / "sigcore.key"
    assert key.stat().st_uid != 0 and oct(key.stat().st_mode & 0o777) == "0o600"
    run = LoggedProcess(_entry(root, config, "run"), tmp_path / "container-run.log")
    run.start()
    try:
        run.wait_for(r"sigcore \S+ \(\S+\) running", timeout=120)
        port = int(settings["diameter"]["listen"][0].rsplit(":", 1)[1])
        wait_tcp_listening(port)
        with mme("mme1.localdomain", port) as mme1:
            mme1.wait_ready()
            assert air(mme1, imsi=IMSI).result_code == 2001
        probe = health[1:] if health[0] in ("CMD", "CMD-SHELL") else health
        checked = subprocess.run(["env", "-i", *config["Env"], "chroot", "--userspec=10001:10001", str(root),  # type: ignore[misc]
                                  *probe], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
    finally:
        run.stop(timeout=20)
    assert run.returncode == 0 or wait_exit(run) in (0, -2)
    assert (root / VOLUME / "sigcore.sqlite").exists()
