"""rt_pyform-compatible transforms on wire bytes: which AVPs the script sees, what it may change, what
happens when it fails, and reloading; with either walk (test_pyform_speedups.py compares them)."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from sigcore.diameter.constants import FLAG_PROXIABLE, FLAG_REQUEST
from sigcore.diameter.dictionary import DICTIONARY
from sigcore.diameter.message import Message
from sigcore.dra import pyform
from sigcore.dra.pyform import PyformTransform
from sigcore.dra.script_errors import ScriptErrors
from sigcore.dra.scriptmodule import ScriptLoadError, ScriptModule

SCRIPTS = Path(__file__).parent / "scripts"
S6A, AIR = 16777251, 318
IMSI = "001011234567890"


@pytest.fixture(autouse=True, params=["compiled", "python"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with the compiled walk (where it was built) and with the Python walk alone."""
    if request.param == "python":
        monkeypatch.setattr(pyform, "_walk", None)
    elif pyform._walk is None:
        pytest.skip("sigcore.dra._pyform is not built")
    return str(request.param)


def air(user_name: str = IMSI, realm: str = "epc.example") -> bytes:
    msg = DICTIONARY.message(AIR, S6A, FLAG_REQUEST | FLAG_PROXIABLE, [
        ("Session-Id", "mme.visited;1;2"), ("Auth-Session-State", 1), ("Origin-Host", "mme.visited.example"),
        ("Origin-Realm", "visited.example"), ("Destination-Realm", realm), ("User-Name", user_name),
        ("Visited-PLMN-Id", bytes.fromhex("00f110")),
        ("Requested-EUTRAN-Authentication-Info", {"Number-Of-Requested-Vectors": 1,
                                                 "Re-Synchronization-Info": bytes(30)}),
        ("Route-Record", "a.relay.example")], hop_by_hop=0x1234, end_to_end=0x5678)
    return msg.encode()


def load(tmp_path: Path, source: str, errors: ScriptErrors | None = None, name: str = "script") -> PyformTransform:
    (tmp_path / f"{name}.py").write_text(source)
    return PyformTransform(ScriptModule(str(tmp_path), name, "transform"), DICTIONARY, errors or ScriptErrors())


def values(frame: bytes) -> dict[str, object]:
    msg = Message.decode(frame)
    return {n: msg.get(n) for n in ("User-Name", "Destination-Realm", "Origin-Realm", "Session-Id")}


def test_script_sees_every_string_avp_with_the_header_fields(tmp_path: Path) -> None:
    t = load(tmp_path, "SEEN = []\n"
                       "def transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):\n"
                       "    SEEN.append((appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value))\n"
                       "    return value\n")
    frame = air()
    assert t.apply(frame) is None  # nothing changed: the caller relays the original bytes
    seen = t.script.function.__globals__["SEEN"]
    assert {s[:5] for s in seen} == {(S6A, 0xC0, AIR, 0x1234, 0x5678)}
    by_code = {(s[5], s[6]): s[7] for s in seen}
    assert by_code[(1, 0)] == IMSI and by_code[(283, 0)] == "epc.example" and by_code[(282, 0)] == "a.relay.example"
    assert by_code[(1407, 10415)] == "\x00\xf1\x10"  # binary OctetString: one character per octet
    assert by_code[(1411, 10415)] == "\x00" * 30  # inside the Grouped AVP
    assert (277, 0) not in by_code and (1410, 10415) not in by_code  # Enumerated / Unsigned32 never passed


def test_changed_values_are_reencoded_with_lengths_and_padding(tmp_path: Path) -> None:
    t = load(tmp_path, "def transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):\n"
                       "    if AVP_Code == 1: return value + 'x'\n"
                       "    if AVP_Code == 1411: return 'ab'\n"
                       "    return value\n")
    out = t.apply(air())
    assert out is not None and len(out) % 4 == 0
    msg = DICTIONARY.decode_checked(out)
    assert msg.get("User-Name") == IMSI + "x"
    group = msg["Requested-EUTRAN-Authentication-Info"]
    assert group["Re-Synchronization-Info"] == b"ab" and group["Number-Of-Requested-Vectors"] == 1
    assert msg.get("Visited-PLMN-Id") == bytes.fromhex("00f110") and msg.hop_by_hop == 0x1234
    assert Message.decode(out).encode() == out


def test_seed_imsi_reversal_verbatim_runs_and_changes_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The seed's script, copied verbatim, has no ``return``: like rt_pyform, its None leaves every AVP as
    it was, the error is logged once, and the message still goes on (the caller forwards ``frame``)."""
    shutil.copy(SCRIPTS / "seed_imsi_reversal.py", tmp_path)
    errors = ScriptErrors()
    t = PyformTransform(ScriptModule(str(tmp_path), "seed_imsi_reversal", "transform"), DICTIONARY, errors)
    with caplog.at_level(logging.ERROR, "sigcore.dra.scripts"):
        assert t.apply(air()) is None
        assert t.apply(air()) is None
    assert "This is IMSI '001011234567890' - Evaluating transformation" in capsys.readouterr().out
    assert errors.total == t.calls > 0
    assert [r.getMessage() for r in caplog.records] == [
        "seed_imsi_reversal.transform returned NoneType, not str; the value is left unchanged"]


def seed_as_the_blog_says(tmp_path: Path, name: str, old_realm: str = "", new_realm: str = "") -> ScriptModule:
    """The verbatim seed script with the ``return value`` the blog's text lost (and, for the realm rewrite,
    the two realm names its HTML lost)."""
    text = (SCRIPTS / f"{name}.py").read_text()
    if old_realm:
        text = text.replace('if value == "":', f'if value == "{old_realm}":')
        text = text.replace('new_realm = ""', f'new_realm = "{new_realm}"')
    (tmp_path / f"{name}.py").write_text(text + "    return value\n")
    return ScriptModule(str(tmp_path), name, "transform")


def test_seed_imsi_reversal_reverses_the_s6a_user_name(tmp_path: Path) -> None:
    errors = ScriptErrors()
    t = PyformTransform(seed_as_the_blog_says(tmp_path, "seed_imsi_reversal"), DICTIONARY, errors)
    out = t.apply(air(user_name="1234567"))
    assert out is not None and values(out)["User-Name"] == "000000007654321"  # reversed, zfill(15)
    assert values(out)["Destination-Realm"] == "epc.example" and errors.total == 0
    assert not t.routing_changed  # the relay need not read Destination-Realm/-Host again


def test_seed_realm_rewrite_rewrites_destination_realm(tmp_path: Path) -> None:
    t = PyformTransform(seed_as_the_blog_says(tmp_path, "seed_realm_rewrite", "epc.example", "hss.other.example"),
                        DICTIONARY, ScriptErrors())
    out = t.apply(air())
    assert out is not None
    assert values(out) == {"User-Name": IMSI, "Destination-Realm": "hss.other.example",
                           "Origin-Realm": "visited.example", "Session-Id": "mme.visited;1;2"}
    assert t.routing_changed


@pytest.mark.parametrize("body", ["raise ValueError('boom')", "return 42", "return None", "return b'x'"])
def test_raising_or_non_str_script_changes_nothing(tmp_path: Path, body: str) -> None:
    errors = ScriptErrors()
    t = load(tmp_path, f"def transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):\n"
                       f"    {body}\n", errors)
    assert t.apply(air()) is None
    assert errors.total == t.calls > 5


def test_one_failing_avp_does_not_stop_the_others(tmp_path: Path) -> None:
    t = load(tmp_path, "def transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):\n"
                       "    if AVP_Code == 283: raise KeyError(value)\n"
                       "    return value.upper() if AVP_Code == 1 else value\n")
    out = t.apply(air(user_name="abc"))
    assert out is not None and values(out)["User-Name"] == "ABC" and values(out)["Destination-Realm"] == "epc.example"


def test_error_log_is_rate_limited_per_error_with_traceback(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    errors = ScriptErrors(interval=60, clock=lambda: now[0])

    def fail(kind: type[Exception]) -> None:
        try:
            raise kind("x")
        except Exception as err:
            errors.exception("s.transform", err)

    with caplog.at_level(logging.ERROR, "sigcore.dra.scripts"):
        for _ in range(100):
            fail(ValueError)
        fail(KeyError)
        now[0] = 61.0
        fail(ValueError)
    assert errors.total == 102
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 3 and "Traceback" in logged[0] and "ValueError: x" in logged[0]
    assert "KeyError" in logged[1] and "(99 more times since last logged)" in logged[2]


def test_unknown_and_malformed_avps_are_left_byte_exact(tmp_path: Path) -> None:
    t = load(tmp_path, "def transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):\n"
                       "    return 'changed'\n")
    unknown = bytes.fromhex("0000ffff" "c000000f" "00009999" "616263") + b"\0"  # code 65535 vendor 39321
    frame = air()
    body = frame[20:] + unknown
    frame2 = (len(frame) + len(unknown) | 1 << 24).to_bytes(4, "big") + frame[4:20] + body
    out = t.apply(frame2)
    assert out is not None and out.endswith(unknown)
    truncated = frame[:-4]
    truncated = (len(truncated) | 1 << 24).to_bytes(4, "big") + truncated[4:]
    assert t.apply(truncated) is None


def test_module_is_imported_once_and_reloaded_when_its_file_changes(tmp_path: Path) -> None:
    now = [0.0]
    path = tmp_path / "script.py"
    path.write_text("def transform(*a):\n    return 'one'\n")
    script = ScriptModule(str(tmp_path), "script", "transform", check_every=1.0, clock=lambda: now[0])
    t = PyformTransform(script, DICTIONARY, ScriptErrors())
    for _ in range(5):
        t.apply(air())
    assert script.loads == 1
    path.write_text("def transform(*a):\n    return 'two!'\n")
    os.utime(path, ns=(1, 1))
    out = t.apply(air())  # within check_every: the old code still runs
    assert out is not None and values(out)["User-Name"] == "one"
    now[0] = 2.0
    out = t.apply(air())
    assert out is not None and values(out)["User-Name"] == "two!" and script.loads == 2


def test_reload_keeps_running_code_when_the_new_file_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "script.py"
    path.write_text("def transform(*a):\n    return 'one'\n")
    script = ScriptModule(str(tmp_path), "script", "transform")
    path.write_text("def transform(*a):\n    return (\n")
    assert script.reload() is False and script.function() == "one"


def test_load_errors_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ScriptLoadError, match=r"script\.py"):
        ScriptModule(str(tmp_path), "script", "transform")
    (tmp_path / "script.py").write_text("x = 1\n")
    with pytest.raises(ScriptLoadError, match="no function 'transform'"):
        ScriptModule(str(tmp_path), "script", "transform")
