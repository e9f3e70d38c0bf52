"""The compiled transform walk (`sigcore.dra._pyform`) against the Python walk it stands in for.

`PyformTransform.apply` uses the compiled walk where it was built; both must give the same result on every
message and script: the same bytes (or None), the same number of script calls, the same `routing_changed`
and the same errors reported. Checked on AIR/AIA-like messages, nested and vendor AVPs, binary values,
scripts that grow, shrink, keep, replace, refuse or raise, malformed headers, and (hypothesis) random AVP
trees and random mutations of their bytes.
"""

from __future__ import annotations

import shutil
import sysconfig
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigcore.diameter.constants import FLAG_PROXIABLE, FLAG_REQUEST
from sigcore.diameter.dictionary import DICTIONARY as D
from sigcore.diameter.message import Message
from sigcore.dra import pyform
from sigcore.dra.pyform import MAX_DEPTH, PyformTransform
from sigcore.dra.script_errors import ScriptErrors
from sigcore.dra.scriptmodule import ScriptModule
from sigcore.loadgen import requests

compiled = pyform._walk
needs_compiled = pytest.mark.skipif(compiled is None, reason="sigcore.dra._pyform is not built (no C compiler)")
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
S6A, AIR, VENDOR = 16777251, 318, 10415
PROXY_INFO = 284  # Grouped, vendor 0, may hold itself (*[ AVP ])

SCRIPTS = '''
class Same(str):
    pass

def identity(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    return value

def imsi_reversal(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    if (int(appId) == 16777251) and int(AVP_Code) == 1:
        value = str(value[::-1]).zfill(15)
    return value

def grow(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    return value + "xyz"

def shrink(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    return value[:-1]

def equal_new(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    return (value + ".")[:-1]

def subclass(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    return Same(value) if AVP_Code % 2 else Same(value + "!")

def realm(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    return "other.example" if AVP_Code == 283 and vendorID == 0 else value

def to_int(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    return 42

def to_none(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    pass

def to_bytes(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    return value.encode("latin-1")

def raises(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    raise ValueError(value)

def mixed(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    """A bit of everything, chosen by the AVP and its value."""
    pick = (AVP_Code + vendorID + len(value) + HBH_ID) % 11
    if pick == 0:
        return value
    if pick == 1:
        return value[::-1]
    if pick == 2:
        return value + "\\u20ac"  # beyond Latin-1: a binary value goes UTF-8
    if pick == 3:
        return value + "\\ud800"  # a lone surrogate: not encodable at all
    if pick == 4:
        raise KeyError(AVP_Code)
    if pick == 5:
        return None
    if pick == 6:
        return value[:len(value) // 2]
    if pick == 7:
        return value * 3
    if pick == 8:
        return (value + ".")[:-1]
    if pick == 9:
        return [value]
    return "\\xff" + value
'''
NAMES = ["identity", "imsi_reversal", "grow", "shrink", "equal_new", "subclass", "realm", "to_int", "to_none",
         "to_bytes", "raises", "mixed"]


class Recording(ScriptErrors):
    """ScriptErrors that also keeps what was reported, to compare the two walks' reports."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[tuple[str, ...]] = []

    def exception(self, script: str, err: BaseException) -> None:
        tb = traceback.extract_tb(err.__traceback__)
        self.reports.append(("exception", script, type(err).__name__, str(err), tb[-1].name if tb else "?"))
        super().exception(script, err)

    def bad_value(self, script: str, what: str) -> None:
        self.reports.append(("bad_value", script, what))
        super().bad_value(script, what)


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("scripts")
    (directory / "scripts.py").write_text(SCRIPTS)
    return directory


Result = tuple[bytes | None, int, int, bool, list[tuple[str, ...]]]


def run(directory: Path, name: str, frame: bytes | bytearray, use_compiled: bool) -> Result:
    """apply() with one walk: (result, calls, changed, routing_changed, errors reported)."""
    errors = Recording()
    t = PyformTransform(ScriptModule(str(directory), "scripts", name, check_every=0), D, errors)
    saved = pyform._walk
    pyform._walk = compiled if use_compiled else None
    try:
        out = t.apply(frame)
    finally:
        pyform._walk = saved
    assert errors.total == len(errors.reports)
    return out, t.calls, t.changed, t.routing_changed, errors.reports


def same(directory: Path, name: str, frame: bytes | bytearray) -> Result:
    """Both walks' results, asserted equal; returns them."""
    python = run(directory, name, frame, False)
    assert run(directory, name, frame, True) == python
    return python


# --- messages ---------------------------------------------------------------------------------------------
def avp(code: int, data: bytes, vendor: int | None = None, flags: int = 0x40) -> bytes:
    head = code.to_bytes(4, "big")
    if vendor is None:
        n = 8 + len(data)
        head += (flags << 24 | n).to_bytes(4, "big")
    else:
        n = 12 + len(data)
        head += ((flags | 0x80) << 24 | n).to_bytes(4, "big") + vendor.to_bytes(4, "big")
    return head + data + b"\0" * (-n % 4)


def message(body: bytes, flags: int = 0xC0, code: int = AIR, app: int = S6A, hbh: int = 0x1234) -> bytes:
    return ((1 << 24) | (20 + len(body))).to_bytes(4, "big") + bytes([flags]) + code.to_bytes(3, "big") + \
        app.to_bytes(4, "big") + hbh.to_bytes(4, "big") + (0x5678).to_bytes(4, "big") + body


def relayed_air() -> bytes:
    air = requests.air(requests.Target(), "mme.localdomain", 1)
    return message(air[20:] + D.encode_items([("Route-Record", "relay.localdomain")]))


def aia() -> bytes:
    vector = [("RAND", bytes(range(16))), ("XRES", b"\xff\xfe\x00\x80" * 2), ("AUTN", bytes(range(200, 216))),
              ("KASME", bytes(32))]
    msg = D.message(AIR, S6A, FLAG_PROXIABLE, [
        ("Session-Id", "mme.localdomain;bench;1"), ("Result-Code", 2001), ("Auth-Session-State", 1),
        ("Origin-Host", "hss.localdomain"), ("Origin-Realm", "localdomain"),
        ("Authentication-Info", [("E-UTRAN-Vector", vector), ("E-UTRAN-Vector", vector)])],
        hop_by_hop=7, end_to_end=8)
    return msg.encode()


def air_with_groups() -> bytes:
    return D.message(AIR, S6A, FLAG_REQUEST | FLAG_PROXIABLE, [
        ("Session-Id", "mme.visited;1;2"), ("Auth-Session-State", 1), ("Origin-Host", "mme.visited.example"),
        ("Origin-Realm", "visited.example"), ("Destination-Realm", "epc.example"), ("User-Name", "1234567"),
        ("Visited-PLMN-Id", bytes.fromhex("00f110")),
        ("Requested-EUTRAN-Authentication-Info", {"Number-Of-Requested-Vectors": 1,
                                                 "Re-Synchronization-Info": bytes(range(30))}),
        ("Route-Record", "a.relay.example")], hop_by_hop=0x1234, end_to_end=0x5678).encode()


def nested(depth: int, leaf: bytes = avp(1, b"imsi")) -> bytes:
    """``leaf`` inside ``depth`` Proxy-Info AVPs."""
    for _ in range(depth):
        leaf = avp(PROXY_INFO, leaf)
    return message(avp(263, b"session") + leaf + avp(283, b"realm"))


MESSAGES = {
    "AIR": relayed_air(), "AIA": aia(), "AIR-groups": air_with_groups(),
    "vendor+binary": message(avp(1407, b"\x00\xf1\x10", VENDOR) + avp(1, b"\xff\xfe") + avp(1, b"caf\xc3\xa9") +
                             avp(1407, b"", VENDOR) + avp(65535, b"abc", 39321) + avp(1, b"x", 0)),
    "empty": message(b""),
    "nested-16": nested(MAX_DEPTH), "nested-17": nested(MAX_DEPTH + 1), "nested-3000": nested(3000),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("frame", MESSAGES.values(), ids=MESSAGES.keys())
@needs_compiled
def test_both_walks_agree_on_messages_and_scripts(scripts: Path, frame: bytes, name: str) -> None:
    same(scripts, name, frame)
    same(scripts, name, bytearray(frame))


@needs_compiled
def test_what_the_walks_agree_on(scripts: Path) -> None:
    """The agreement above is about something: changes, calls, errors and routing all happen."""
    out, calls, changed, routing, reports = same(scripts, "imsi_reversal", MESSAGES["AIR"])
    assert out is not None and b"100000000010100" in out and calls == 7 and changed == 1 and not routing
    out, calls, _, routing, reports = same(scripts, "realm", MESSAGES["AIR-groups"])
    assert out is not None and b"other.example" in out and routing and not reports
    out, calls, _, _, reports = same(scripts, "mixed", MESSAGES["vendor+binary"])
    assert calls == 5 and {r[0] for r in reports} == {"bad_value", "exception"}
    assert same(scripts, "raises", MESSAGES["AIA"])[4][0] == ("exception", "scripts.raises", "ValueError",
                                                             "mme.localdomain;bench;1", "raises")
    assert same(scripts, "to_int", MESSAGES["AIA"])[4][0] == ("bad_value", "scripts.to_int", "int, not str")
    out, calls, *_ = same(scripts, "grow", MESSAGES["nested-16"])
    assert out is not None and calls == 3 and Message.decode(out).encode() == out and b"imsixyz\0" in out
    assert same(scripts, "grow", MESSAGES["nested-17"])[:2] == (None, 1)  # Session-Id, then too deep: as it came


def test_deep_nesting_is_relayed_as_it_came_without_exhausting_the_stack(scripts: Path) -> None:
    """The Python walk recursed once per level and raised RecursionError on a few thousand nested groups."""
    assert run(scripts, "grow", MESSAGES["nested-3000"], False)[:2] == (None, 1)


@pytest.mark.parametrize("cut", [1, 3, 4, 8, 11])
@needs_compiled
def test_truncated_and_malformed_headers_agree(scripts: Path, cut: int) -> None:
    frame = MESSAGES["AIR-groups"]
    short = frame[:-cut]
    out = same(scripts, "grow", message(short[20:]))[0]
    assert (out is None) == (cut > 1)  # the last AVP (15 octets) loses its padding, then its own octets
    bad = [avp(1, b"a") + b"\x00\x00\x00\x01\x40\x00\x00\x07",  # length below the header's
           avp(1, b"a") + b"\x00\x00\x00\x01\xc0\x00\x00\x0c\x00",  # V-bit, 9 octets left
           avp(PROXY_INFO, avp(1, b"abcd")[:-2] + b"\x00\x00"),  # inner length beyond the group
           avp(1, b"abc")[:-1]]  # the last AVP without its padding: fine
    for body in bad:
        same(scripts, "grow", message(body))


@needs_compiled
def test_a_wrong_call_raises_instead_of_crashing(scripts: Path) -> None:
    assert compiled is not None
    errors = ScriptErrors()
    with pytest.raises(TypeError):
        compiled(b"x" * 20, print, b"123", errors, "x")  # kinds not 16-octet pairs
    with pytest.raises(TypeError):
        compiled("text", print, b"", errors, "x")
    with pytest.raises(Exception, match="20 bytes"):
        compiled(b"\x01\x00\x00\x10", print, b"", errors, "x")


@needs_compiled
def test_keyboard_interrupt_in_a_script_propagates_from_both(tmp_path: Path) -> None:
    (tmp_path / "stop.py").write_text("def transform(*a):\n    raise KeyboardInterrupt\n")
    for use in (False, True):
        t = PyformTransform(ScriptModule(str(tmp_path), "stop", "transform"), D, ScriptErrors())
        pyform._walk, saved = (compiled if use else None), pyform._walk
        try:
            with pytest.raises(KeyboardInterrupt):
                t.apply(MESSAGES["AIR"])
        finally:
            pyform._walk = saved
        assert t.errors.total == 0


# --- random trees and mutations --------------------------------------------------------------------------
def _kinds() -> tuple[list[tuple[int, int | None]], list[tuple[int, int | None]]]:
    kinds = pyform.avp_kinds(D)
    strings = [(c, v or None) for v, codes in kinds.items() for c, k in codes.items() if k == 1]
    groups = [(c, v or None) for v, codes in kinds.items() for c, k in codes.items() if k == 2]
    return sorted(strings)[:40], sorted(groups)[:20]


STRINGS, GROUPS = _kinds()
OTHERS = [(268, None), (1, 10415), (65535, 39321), (283, 10415)]  # Result-Code, unknown, vendor twins


def trees(depth: int) -> st.SearchStrategy[bytes]:
    leaf = st.builds(lambda key, data, flags: avp(key[0], data, key[1], flags),
                     st.sampled_from(STRINGS + OTHERS), st.binary(max_size=12) | st.text(max_size=8).map(str.encode),
                     st.sampled_from([0x40, 0x00, 0x20]))
    if depth == 0:
        return leaf
    group = st.builds(lambda key, children: avp(key[0], b"".join(children), key[1]),
                      st.sampled_from(GROUPS), st.lists(trees(depth - 1), max_size=4))
    return leaf | group


frames = st.builds(lambda avps, hbh, flags: message(b"".join(avps), flags, hbh=hbh),
                   st.lists(trees(3), max_size=8), st.integers(0, 2**32 - 1), st.sampled_from([0x80, 0xC0, 0x40]))


def mutate(frame: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    out = bytearray(frame)
    for pos, value in edits:
        out[pos % len(out)] = value
    out = out[:max(20, len(out) - cut)]
    out[1:4] = len(out).to_bytes(3, "big")
    return bytes(out)


def _mutations() -> Iterator[st.SearchStrategy[bytes]]:
    edits = st.lists(st.tuples(st.integers(20, 4096), st.integers(0, 255)), min_size=1, max_size=4)
    yield st.builds(mutate, frames, edits, st.integers(0, 16))
    yield st.builds(mutate, st.sampled_from(list(MESSAGES.values())[:4]), edits, st.integers(0, 16))


@needs_compiled
@FAST
@given(frames, st.sampled_from(["mixed", "grow", "shrink", "equal_new"]))
def test_random_trees_agree(scripts: Path, frame: bytes, name: str) -> None:
    same(scripts, name, frame)


@needs_compiled
@FAST
@given(st.one_of(*_mutations()))
def test_random_mutations_agree(scripts: Path, frame: bytes) -> None:
    same(scripts, "mixed", frame)


def test_the_compiled_walk_is_built_where_a_compiler_is() -> None:
    """A build that silently fell back to the Python walk would pass every other test here, slower."""
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    if shutil.which("cc") is None or not headers.exists():
        pytest.skip("no C compiler or Python headers: the Python walk is used")
    assert compiled is not None, "setup.py did not build sigcore.dra._pyform (pip install -e . again)"
