"""Keys without friction, as a new user meets them: a config holding only the fixed keys, then
`sigcore subscriber add`, `sigcore run` (HSS + REST API) and a python-diameter MME; and every way a key can
be wrong, each refused with one line before anything is written under it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sigcore_process import Sigcore, fixed_keys_config, one_line_error, wait_exit

from support.s6a import HOME_PLMN, OPC, K, air, mme
from support.usim_model import Accepted, UsimModel

pytestmark = [pytest.mark.interop]
IMSI1, IMSI2 = "001010000000001", "001010000000002"


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGCORE_KEK", raising=False)


@pytest.fixture
def sigcore(tmp_path: Path) -> Iterator[Sigcore]:
    node = Sigcore(tmp_path, fixed_keys_config(f"sqlite:///{tmp_path / 'var' / 'hss.sqlite'}"))
    try:
        yield node
    finally:
        node.stop()


def _add(sigcore: Sigcore, imsi: str) -> object:
    return sigcore.command("subscriber", "add", "--imsi", imsi, "--ki", K.hex(), "--opc", OPC.hex(), "--apn",
                           "internet")


def _authenticates(port: int, imsis: list[str]) -> None:
    usim = UsimModel(K, OPC)
    with mme("mme1.localdomain", port) as mme1:
        mme1.wait_ready()
        for imsi in imsis:
            aia = air(mme1, imsi=imsi)
            assert aia.result_code == 2001, imsi
            vector = aia.authentication_info.e_utran_vector[0]
            outcome = usim.authenticate_eutran(vector.rand, vector.autn, HOME_PLMN)
            assert isinstance(outcome, Accepted) and outcome.res == vector.xres


def test_fixed_keys_only_add_run_air_and_the_api(sigcore: Sigcore) -> None:
    added = _add(sigcore, IMSI1)
    key_file = sigcore.workdir / "var" / "sigcore.key"
    assert added.returncode == 0, added.stderr  # type: ignore[attr-defined]
    assert f"created the key-encryption key file {key_file}" in added.stderr  # type: ignore[attr-defined]
    assert "back it up" in added.stderr  # type: ignore[attr-defined]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = sigcore.command("token", "create", "--role", "provision").stdout.strip().splitlines()[-1]
    run = sigcore.start()
    assert "created the key-encryption key" not in run.log_text()  # made once, by the first command
    _authenticates(sigcore.diameter_port, [IMSI1])
    with httpx.Client(base_url=sigcore.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        created = http.post("/api/v1/subscribers", json={"imsi": IMSI2, "ki": K.hex(), "opc": OPC.hex(),
                                                         "apns": ["internet"]})
        assert created.status_code == 201, created.text
    _authenticates(sigcore.diameter_port, [IMSI1, IMSI2])


def test_run_with_the_api_creates_the_key(sigcore: Sigcore) -> None:
    sigcore.start()
    assert "created the key-encryption key file" in sigcore.processes[0].log_text()
    assert (sigcore.workdir / "var" / "sigcore.key").exists()
    # the health probe (the container's HEALTHCHECK) on the API's port, without a token: it used to be 404
    assert httpx.get(f"{sigcore.api_url}/healthz", timeout=10).json() == {"status": "up"}
    assert httpx.get(f"{sigcore.api_url}/metrics", timeout=10).text.startswith("# HELP")


@pytest.mark.parametrize("fault", ["missing", "short", "garbage", "wrong"])
def test_a_bad_key_is_refused_by_add_run_and_import(sigcore: Sigcore, fault: str) -> None:
    assert _add(sigcore, IMSI1).returncode == 0  # type: ignore[attr-defined]
    key_file = sigcore.workdir / "var" / "sigcore.key"
    before = sigcore.command("subscriber", "list").stdout
    expected = {
        "missing": "no key-encryption key: database.key_file is not set",
        "short": f"{key_file}: the key-encryption key must be 64 hex digits",
        "garbage": f"{key_file}: the key-encryption key is not hexadecimal",
        "wrong": f"the key file {key_file}: wrong key-encryption key: the stored secrets are sealed under key",
    }[fault]
    if fault == "missing":
        key_file.unlink()
    else:
        key_file.write_text({"short": "abcd" * 4, "garbage": "x" * 64, "wrong": os.urandom(32).hex()}[fault])
    refused = one_line_error(_add(sigcore, IMSI2))  # type: ignore[arg-type]
    assert expected in refused, refused
    csv = sigcore.workdir / "batch.csv"
    csv.write_text(f"imsi,ki,opc\n{IMSI2},{K.hex()},{OPC.hex()}\n")
    assert expected in one_line_error(sigcore.command("subscriber", "import", str(csv)))
    run = sigcore.start(wait=False)
    assert wait_exit(run) == 2
    text = run.log_text()
    errors = [line for line in text.splitlines() if " ERROR " in line or line.startswith("error: ")]
    assert "Traceback" not in text and len(errors) == 1 and expected in errors[0], text
    assert sigcore.command("subscriber", "list").stdout == before  # nothing written under the bad key
    if fault == "missing":
        assert not key_file.exists()  # no new key for a database whose secrets need the old one


def test_a_server_database_finds_its_key_from_any_working_directory(tmp_path: Path, postgres_url: str) -> None:
    """PostgreSQL, no key_file: the key goes beside the config file, so the same config run from another
    directory uses it (it used to be var/sigcore.key under the working directory: a second key, refused)."""
    node = Sigcore(tmp_path / "etc", fixed_keys_config(postgres_url))
    key_file = node.config_path.parent / "sigcore.key"
    for n, (imsi, cwd) in enumerate(((IMSI1, tmp_path / "a"), (IMSI2, tmp_path / "b"))):
        cwd.mkdir()
        done = subprocess.run([sys.executable, "-m", "sigcore.cli", "subscriber", "add", "--imsi", imsi, "--ki",
                               K.hex(), "--opc", OPC.hex(), "--config", str(node.config_path)],
                              cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert (f"created the key-encryption key file {key_file}" in done.stderr) == (n == 0), done.stderr
        assert not (cwd / "var").exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    listed = node.command("subscriber", "list")
    assert IMSI1 in listed.stdout and IMSI2 in listed.stdout
