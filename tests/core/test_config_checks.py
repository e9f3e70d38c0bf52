"""Values `config check` refuses, each naming its dotted key; `sigcore run` exits 2 with that one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sigcore.cli import app
from sigcore.config import ConfigError, parse_config

BAD_VALUES = [
    ({"database": {"url": "not a url"}}, "database.url", "database URL"),
    ({"database": {"url": "oracle://scott@db/x"}}, "database.url",
     "unsupported database 'oracle' (sqlite, postgresql, mysql, mariadb, mssql)"),  # mssql was accepted, not named
    ({"logging": {"level": "LOUD"}}, "logging.level", "DEBUG"),
    ({"diameter": {"origin_host": ""}}, "diameter.origin_host", "DiameterIdentity"),
    ({"diameter": {"origin_realm": "bad realm"}}, "diameter.origin_realm", "DiameterIdentity"),
    ({"hss": {"home_plmns": ["0010x"]}}, "hss.home_plmns", "5 or 6 digits"),
    ({"diameter": {"mirror": "bad host:99x"}}, "diameter.mirror", "host"),
    ({"diameter": {"mirror": "127.0.0.1:70000"}}, "diameter.mirror", "host"),
    ({"metrics": {"redis": {"url": "http://127.0.0.1:6379"}}}, "metrics.redis.url", "redis://"),
    ({"api": {"listen": "localhost"}}, "api.listen", "the port is missing"),
    ({"diameter": {"tls": {"cert": "c.pem", "key": "k.pem", "listen": ["127.0.0.1:5868"]}}}, "diameter.tls",
     "missing: ca"),
    # these passed `config check`, and `run` ended in a ValueError / OverflowError traceback
    ({"diameter": {"tls": {"cert": "c.pem", "key": "k.pem", "ca": "ca.pem", "listen": ["bad host:99x"]}}},
     "diameter.tls.listen", "expected 'host' or 'host:port'"),
    ({"diameter": {"tls": {"cert": "c.pem", "key": "k.pem", "ca": "ca.pem", "listen": ["127.0.0.1:70000"]}}},
     "diameter.tls.listen", "expected 'host' or 'host:port'"),
    ({"diameter": {"bind": ["10.0.0.1", "bad host"]}}, "diameter.bind", "neither an IP address nor a host name"),
]


@pytest.mark.parametrize(("data", "key", "expected"), BAD_VALUES)
def test_parse_refuses_naming_the_key(data: dict[str, object], key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert str(err.value).startswith(f"{key}: ") and expected in str(err.value)
    assert "Value error" not in str(err.value)


def test_good_values_still_pass() -> None:
    cfg = parse_config({"logging": {"level": "debug"}, "hss": {"home_plmns": ["00101", "310410"]},
                        "diameter": {"mirror": "127.0.0.1", "origin_host": "hss-1.epc.mnc001.mcc001.3gppnetwork.org"},
                        "metrics": {"redis": {"url": "redis://127.0.0.1:6379/0"}},
                        "database": {"url": "postgresql://u@127.0.0.1/db"}, "api": {"listen": "[::1]:8080"}})
    assert cfg.logging.level == "DEBUG"


@pytest.mark.parametrize(("data", "key", "expected"), BAD_VALUES)
def test_check_and_run_exit_with_one_line(tmp_path: Path, data: dict[str, object], key: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    checked = CliRunner().invoke(app, ["config", "check", str(path)])
    assert checked.exit_code == 1 and key in checked.output
    ran = CliRunner().invoke(app, ["run", "--config", str(path)])
    assert ran.exit_code == 2
    lines = ran.output.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and expected in lines[0], ran.output


def test_run_names_a_missing_certificate_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    missing = tmp_path / "nowhere" / "hss.pem"
    path.write_text(yaml.safe_dump({"diameter": {"tls": {"cert": str(missing), "key": str(missing),
                                                         "ca": str(missing), "listen": ["127.0.0.1:5868"]}}}))
    ran = CliRunner().invoke(app, ["run", "--config", str(path)])
    assert ran.exit_code == 2
    assert ran.output.strip() == f"invalid configuration: diameter.tls.cert: cannot read {missing}: " \
                                 "No such file or directory"


def _as_unprivileged() -> list[str]:
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: a read-only file is writable for root")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder the unprivileged user can reach (pytest's tmp_path is under a root-only folder)."""
    folder = Path(tempfile.mkdtemp(prefix="sigcore-ro-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_run_names_a_read_only_database_file(open_folder: Path) -> None:
    tmp_path = open_folder
    database = tmp_path / "hss.sqlite"
    database.write_bytes(b"")
    database.chmod(0o444)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": f"sqlite:///{database}"}}))
    path.chmod(0o644)
    ran = subprocess.run([*_as_unprivileged(), sys.executable, "-m", "sigcore.cli", "run", "--config", str(path)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.strip() == (f"invalid configuration: database.url: the database file {database} "
                                  "is not writable by this user")


@pytest.mark.parametrize("taken", ["diameter.listen", "api.listen"])
def test_run_names_a_listen_address_in_use(tmp_path: Path, taken: str) -> None:
    import socket

    from interop.ports import free_tcp_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        listen = {key: f"127.0.0.1:{port if key == taken else free_tcp_port()}"
                  for key in ("diameter.listen", "api.listen", "metrics.snmp.listen")}
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump({"diameter": {"listen": [listen["diameter.listen"]]},
                                        "api": {"listen": listen["api.listen"]},
                                        "metrics": {"snmp": {"listen": listen["metrics.snmp.listen"]}},
                                        "database": {"url": f"sqlite:///{tmp_path / 'hss.sqlite'}"}}))
        ran = subprocess.run([sys.executable, "-m", "sigcore.cli", "run", "--config", str(path)],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert ran.returncode == 2, ran.stderr[-2000:]
    assert "Traceback" not in ran.stderr
    assert ran.stderr.strip().splitlines()[-1].startswith(f"invalid configuration: {taken}: ")


def _encrypted_copy(key: Path, to: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(key.read_bytes(), None)
    to.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.BestAvailableEncryption(b"secret")))
    return to


@pytest.mark.parametrize("fault", ["junk ca", "junk cert", "other key", "encrypted key"])
def test_run_names_tls_files_that_are_not_what_they_should_be(tmp_path: Path, fault: str) -> None:
    """Readable files that OpenSSL refused ended `sigcore run` in an SSLError traceback; an encrypted key made
    OpenSSL ask for its passphrase on the terminal (a service waited for ever)."""
    from support.certs import TestCA

    ca = TestCA(tmp_path / "ca")
    mine, other = ca.issue("hss.localdomain"), ca.issue("other.localdomain")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    files = {"cert": str(mine.cert), "key": str(mine.key), "ca": str(ca.ca_path)}
    expected = {
        "junk ca": f"diameter.tls.ca: {junk} holds no PEM CA certificate",
        "junk cert": f"diameter.tls.cert, diameter.tls.key: {junk} and {mine.key} are not a PEM certificate and "
                     "its private key",
        "other key": f"diameter.tls.key: {other.key} is not the private key of {mine.cert}",
        "encrypted key": f"diameter.tls.key: {tmp_path / 'enc.pem'}: the private key is encrypted; give it "
                         "unencrypted (mode 0600)",
    }[fault]
    if fault == "junk ca":
        files["ca"] = str(junk)
    elif fault == "junk cert":
        files["cert"] = str(junk)
    elif fault == "other key":
        files["key"] = str(other.key)
    else:
        files["key"] = str(_encrypted_copy(Path(mine.key), tmp_path / "enc.pem"))
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"diameter": {"tls": {**files, "listen": ["127.0.0.1:5868"]}}}))
    ran = subprocess.run([sys.executable, "-m", "sigcore.cli", "run", "--config", str(path)], capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr, ran.stderr
    assert ran.stderr.strip().startswith(f"invalid configuration: {expected}"), ran.stderr
