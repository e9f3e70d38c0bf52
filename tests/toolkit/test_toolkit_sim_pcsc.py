"""`sigcore sim read` against a virtual USIM: pcscd with vsmartcard's vpcd driver and a vicc card model.

pcscd always serves /run/pcscd/pcscd.comm (1.9.9 ignores PCSCLITE_CSOCK_NAME on the daemon side), so only one
can run: the test skips if someone else's pcscd is up. vpcd itself listens on 0.0.0.0 (not configurable).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sigcore.toolkit.cli import register

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
VICC_LIBRARY = Path("/usr/lib/python3/site-packages/virtualsmartcard")
CARD_MODEL = Path(__file__).parent / "fixtures" / "usim_vicc.py"

USIM_AID = bytes((0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x06, 0x04, 0x00, 0x00))
FULL_CARD = {
    "iccid": bytes((0x98, 0x10, 0x99, 0x09, 0x00, 0x21, 0x43, 0x65, 0x87, 0x39)),  # 89019990001234567893
    "dir_record": bytes((0x61, 0x18, 0x4F, 0x10)) + USIM_AID + bytes((0x50, 0x04)) + b"USIM",
    "aid": USIM_AID,
    "imsi": bytes((0x08, 0x09, 0x10, 0x10, 0x10, 0x32, 0x54, 0x76, 0x98)),  # 001010123456789
    "ad": bytes((0x00, 0x00, 0x00, 0x02)),  # MNC length 2
}

pytestmark = [pytest.mark.interop, pytest.mark.slow]


def _missing_prerequisite() -> str | None:
    if shutil.which("pcscd") is None:
        return "pcscd is not installed (Debian package pcscd)"
    if not VPCD_DRIVER.exists():
        return "vpcd driver missing (Debian package vsmartcard-vpcd)"
    if not VICC_LIBRARY.exists():
        return "virtualsmartcard missing (Debian package python3-virtualsmartcard)"
    for module in ("smartcard", "Crypto"):
        try:
            __import__(module)
        except ImportError:
            return f"python module {module} missing (pip install pyscard pycryptodome)"
    if subprocess.run(["pgrep", "-x", "pcscd"], capture_output=True).returncode == 0:
        return "another pcscd is running; this test needs its own on /run/pcscd/pcscd.comm"
    return None


def _free_port_pair() -> int:
    """vpcd opens two slots, on PORT and PORT+1."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 65535:
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair for vpcd")


def _wait_for(condition, what: str, seconds: float = 15) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def pcscd_with_vpcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    reason = _missing_prerequisite()
    if reason:
        pytest.skip(reason)
    port = _free_port_pair()
    root = tmp_path_factory.mktemp("pcscd")
    config = root / "reader.conf.d"  # pcscd parses every file here: keep logs elsewhere
    config.mkdir()
    (config / "vpcd").write_text(f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:{port}\n'
                                 f"LIBPATH {VPCD_DRIVER}\nCHANNELID {port}\n")
    log = (root / "pcscd.log").open("wb")
    daemon = subprocess.Popen(["pcscd", "-f", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: _listening(port), "vpcd to listen")
        yield port
    finally:
        _stop(daemon)
        log.close()


@pytest.fixture
def virtual_card(pcscd_with_vpcd: int, tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    """``insert(files)`` starts a vicc with those files and waits until PC/SC sees the card."""
    started: list[subprocess.Popen[bytes]] = []

    def insert(card_files: dict[str, bytes]) -> None:
        card_json = tmp_path / "card.json"
        card_json.write_text(json.dumps({key: value.hex() for key, value in card_files.items()}))
        env = {**os.environ, "PYTHONPATH": str(VICC_LIBRARY)}
        vicc = subprocess.Popen([sys.executable, str(CARD_MODEL), str(pcscd_with_vpcd), str(card_json)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        started.append(vicc)
        _wait_for(_card_present, "the virtual card to be inserted")

    yield insert
    for vicc in started:
        _stop(vicc)


def _card_present() -> bool:
    from smartcard.System import readers

    try:
        connection = readers()[0].createConnection()
        connection.connect()
        connection.disconnect()
        return True
    except Exception:
        return False


def _sim_read(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["sim", "read", "--reader", "0", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_reads_iccid_imsi_and_mnc_length(virtual_card) -> None:
    virtual_card(FULL_CARD)
    code, out = _sim_read("--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["ICCID"] == "89019990001234567893 (Luhn check digit ok)"
    assert report["IMSI"] == "001010123456789"
    assert report["MCC/MNC"] == "001/01 (MSIN 0123456789)"
    assert report["USIM AID"] == USIM_AID.hex().upper()
    assert report["errors"] == {}


def test_missing_files_are_explained_not_a_traceback(virtual_card) -> None:
    virtual_card({key: value for key, value in FULL_CARD.items() if key not in ("imsi", "ad")})
    code, out = _sim_read("--file", "3F00/2F05")
    assert code == 0, out
    assert "ICCID        89019990001234567893" in out
    assert "IMSI         unavailable: SELECT EF_IMSI (6F07): 6A82 file or application not found" in out
    assert "3F00/2F05    unavailable: SELECT EF (2F05): 6A82 file or application not found" in out
    assert "Traceback" not in out


def test_reads_any_transparent_file_by_path(virtual_card) -> None:
    virtual_card(FULL_CARD)
    code, out = _sim_read("--file", "3F00/7FF0/6F07")
    assert code == 0, out
    assert f"file 3F00/7FF0/6F07 {FULL_CARD['imsi'].hex()}" in out


def test_provision_creates_the_subscriber_from_the_card(virtual_card, tmp_path: Path) -> None:
    from sigcore.store import Store, create_key_file, migrate

    url = f"sqlite:///{tmp_path / 'hss.sqlite'}"
    migrate(url)
    key_file = tmp_path / "kek.hex"
    kek = create_key_file(key_file)
    config = tmp_path / "sigcore.yaml"
    config.write_text(f"database:\n  url: '{url}'\n  key_file: '{key_file}'\n")
    ki, opc = "000102030405060708090a0b0c0d0e0f", "f0e0d0c0b0a090807060504030201000"
    virtual_card(FULL_CARD)
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["sim", "provision", "--ki", ki, "--opc", opc, "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "provisioned IMSI 001010123456789 (ICCID 89019990001234567893)" in result.output
    assert ki not in result.output and opc not in result.output
    subscriber = Store(url, kek).get_subscriber("001010123456789")
    assert subscriber.iccid == "89019990001234567893"


def test_sigcore_command_end_to_end(virtual_card) -> None:
    """Through the real `sigcore` entry point (src/sigcore/cli.py's register hook), in a separate process."""
    virtual_card(FULL_CARD)
    done = subprocess.run([sys.executable, "-m", "sigcore.cli", "sim", "read", "--json"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["IMSI"] == "001010123456789"
