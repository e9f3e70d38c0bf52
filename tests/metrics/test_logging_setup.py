"""Structured logs: formats, secret redaction, message dumps and run-time level changes."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigcore.config import LoggingConfig
from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.message import Message
from sigcore.logging_setup import configure, dump_message, enable_message_dumps, set_level, step_level

from .helpers import ccr

KI = "465B5CE8B199B49FAA5F0A2EE238A6BC"


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    enable_message_dumps(False)


def _configure(fmt: str, level: str = "INFO", dumps: bool = False) -> io.StringIO:
    stream = io.StringIO()
    configure(LoggingConfig(level=level, format=fmt, dump_messages=dumps), stream)
    return stream


def test_json_lines_carry_extra_fields_and_never_a_key(restore_root: None) -> None:
    stream = _configure("json")
    logging.getLogger("sigcore.test").info("provisioned %s ki=%s", "001010000000001", KI,
                                            extra={"imsi": "001010000000001", "opc": KI})
    line = json.loads(stream.getvalue())
    assert line["level"] == "INFO" and line["imsi"] == "001010000000001"
    assert KI not in stream.getvalue() and line["opc"] == "***" and line["msg"].endswith("ki=***")


def test_kv_format_quotes_values_with_spaces(restore_root: None) -> None:
    stream = _configure("kv")
    logging.getLogger("sigcore.test").warning("peer down", extra={"peer": "mme.localdomain", "reason": "no DWA"})
    text = stream.getvalue()
    assert "level=WARNING" in text and 'msg="peer down"' in text and 'reason="no DWA"' in text


def test_message_dump_only_when_enabled_and_at_debug(restore_root: None) -> None:
    msg = Message.decode(ccr(7).encode())
    stream = _configure("text", level="INFO", dumps=True)
    log = logging.getLogger("sigcore.dump")
    dump_message(log, "in", msg)
    assert stream.getvalue() == ""
    set_level("DEBUG")
    dump_message(log, "in", msg)
    assert "Credit-Control-Request" in stream.getvalue() and "CC-Request-Number: 7" in stream.getvalue()


def test_level_steps_at_run_time(restore_root: None) -> None:
    _configure("text", level="WARNING")
    assert step_level(more_verbose=True) == "INFO"
    assert step_level(more_verbose=False) == "WARNING"
    with pytest.raises(ValueError):
        set_level("LOUD")


def test_message_dumps_never_show_vector_secrets(restore_root: None) -> None:
    """XRES (S6a vectors and Cx SIP-Authorization), SRES, KASME, CK, IK, Kc and HA1 are masked; RAND and
    AUTN, which travel to the UE in clear, are shown."""
    rand, autn, secrets = b"\x11" * 16, b"\x33" * 16, [b"\x22" * 8, b"\x44" * 32, b"\x55" * 16, b"\x66" * 16]
    eutran = [("Item-Number", 1), ("RAND", rand), ("XRES", secrets[0]), ("AUTN", autn), ("KASME", secrets[1])]
    utran = [("Item-Number", 2), ("RAND", rand), ("XRES", secrets[0]), ("AUTN", autn),
             ("Confidentiality-Key", secrets[2]), ("Integrity-Key", secrets[3])]
    geran = [("Item-Number", 3), ("RAND", rand), ("SRES", secrets[0][:4]), ("Kc", secrets[0])]
    aia = Message(318, 16777251, 0, 1, 1, D.build_many([("Authentication-Info", [
        ("E-UTRAN-Vector", eutran), ("UTRAN-Vector", utran), ("GERAN-Vector", geran)])]))
    maa = Message(303, 16777216, 0, 2, 2, D.build_many([
        ("SIP-Auth-Data-Item", [("SIP-Item-Number", 1), ("SIP-Authenticate", rand + autn),
                                ("SIP-Authorization", secrets[0]), ("Confidentiality-Key", secrets[2])]),
        ("SIP-Auth-Data-Item", [("SIP-Digest-Authenticate", [("Digest-HA1", "5f4dcc3b5aa765d61d8327deb882cf99"),
                                                             ("Digest-Realm", "ims"), ("Digest-QoP", "auth")])])]))
    stream = _configure("text", level="DEBUG", dumps=True)
    for msg in (aia, maa):
        dump_message(logging.getLogger("sigcore.dump"), "out", msg)
    text = stream.getvalue()
    assert rand.hex() in text and autn.hex() in text
    for secret in [*(s.hex() for s in secrets), secrets[0][:4].hex(), "5f4dcc3b5aa765d61d8327deb882cf99"]:
        assert secret not in text, secret
    assert text.count("***") == 10


def test_a_migration_logs_its_upgrades_and_not_alembics_chatter(tmp_path: Path) -> None:
    """A first `sigcore run` used to open with eleven alembic INFO lines (its plugins set up on import, the
    dialect it picked at each schema check); an operator needs only the upgrades it ran."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    probe = ("import sys; from sigcore.config import LoggingConfig; from sigcore.logging_setup import configure; "
             "configure(LoggingConfig(level='INFO'), sys.stdout); from sigcore.store import migrate; "
             f"migrate({url!r})")
    text = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "Running upgrade" in text, text
    assert "alembic.runtime.plugins" not in text and "Context impl" not in text and "Will assume" not in text, text
