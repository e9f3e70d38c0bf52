"""The compiled CCF walk (`sigcore.diameter._speedups`) against the Python walk it stands in for.

`Dictionary.check_raw` asks the compiled walk first; it may only ever say "valid" where the Python walk
finds nothing wrong, and then it must list the same top-level AVPs. For anything else it says False and
the Python walk raises. Checked here on valid requests of every interface the HSS serves, on mutated
ones (hypothesis), and by running the decoder's whole contract once with the compiled walk switched off.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import pytest
from frames import ccr_with_mscc, cer_message, nested_unknown
from hypothesis import given
from hypothesis import strategies as st
from rawpeer import ccr
from test_decoder_fuzz import FAST, exercise, mutate, random_frames

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter import dictionary
from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import HEADER_LEN
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Message

S6A, CX, VENDOR = 16777251, 16777216, 10415
speedups = dictionary._speedups


def _request(code: int, app: int, avps: list[tuple[str, object]]) -> bytes:
    common = [("Session-Id", "mme.localdomain;1;2"),
              ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR), ("Auth-Application-Id", app)]),
              ("Auth-Session-State", 1), ("Origin-Host", "mme.localdomain"), ("Origin-Realm", "localdomain"),
              ("Destination-Realm", "localdomain")]
    return Message(code, app, 0xC0, 7, 8, D.build_many([*common, *avps])).encode()


def valid_frames() -> list[bytes]:
    imsi = ("User-Name", "001010000000001")
    plmn = ("Visited-PLMN-Id", b"\x00\xf1\x10")
    features = ("Supported-Features", [("Vendor-Id", VENDOR), ("Feature-List-ID", 1), ("Feature-List", 3)])
    unknown = ccr(hbh=5)
    unknown.avps.append(nested_unknown(5))  # an unknown AVP without the M-bit: skipped, not refused
    return [
        _request(318, S6A, [imsi, ("Requested-EUTRAN-Authentication-Info",
                                   [("Number-Of-Requested-Vectors", 3), ("Immediate-Response-Preferred", 0)]),
                            plmn, features]),
        _request(316, S6A, [imsi, ("RAT-Type", 1004), ("ULR-Flags", 0b100010), plmn, features]),
        _request(321, S6A, [imsi, ("PUR-Flags", 1)]),
        _request(303, CX, [("User-Name", "alice@ims.localdomain"),
                           ("Public-Identity", "sip:alice@ims.localdomain"), ("SIP-Number-Auth-Items", 1),
                           ("SIP-Auth-Data-Item", [("SIP-Authentication-Scheme", "Digest-AKAv1-MD5")]),
                           ("Server-Name", "sip:scscf.ims.localdomain:6060")]),
        cer_message().encode(),
        ccr(hbh=2).encode(),
        ccr_with_mscc().encode(),
        unknown.encode(),
    ]


VALID = valid_frames()


def python_walk(frame: bytes) -> tuple[DiameterError | None, list[Avp]]:
    """What the Python walk makes of a request frame's AVPs: its error (or None) and the AVPs it listed."""
    cmd = D.command(int.from_bytes(frame[8:12], "big"), int.from_bytes(frame[5:8], "big"), True)
    out: list[Avp] = []
    try:
        D._check_raw(frame, HEADER_LEN, len(frame), cmd.rules if cmd else None, out)
    except DiameterError as err:
        return err, out
    return None, out


def compiled_walk(frame: bytes) -> tuple[bool, list[Avp]]:
    cmd = D.command(int.from_bytes(frame[8:12], "big"), int.from_bytes(frame[5:8], "big"), True)
    out: list[Avp] = []
    ok = speedups.check(frame, HEADER_LEN, len(frame), cmd.rules if cmd else dictionary._ANY_AVP, out,
                        D._unlisted, dictionary._ANY_AVP, Avp)
    return ok, out


def fields(avps: list[Avp]) -> list[tuple[int, int, int, bytes]]:
    return [(a.code, a.flags, a.vendor, a.data) for a in avps]


def agree(frame: bytes) -> bool:
    """The compiled walk says valid only where the Python walk does, listing the same AVPs; returns its verdict."""
    ok, listed = compiled_walk(frame)
    err, expected = python_walk(frame)
    if ok:
        assert err is None, f"the compiled walk passed what the Python walk refuses ({err})"
        assert fields(listed) == fields(expected)
    return ok


def test_the_compiled_walk_is_built_where_a_compiler_is() -> None:
    """A build that silently fell back to pure Python would pass every other test here, slower."""
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    if shutil.which("cc") is None or not headers.exists():
        pytest.skip("no C compiler or Python headers: the pure Python walk is used")
    assert speedups is not None, "setup.py did not build sigcore.diameter._speedups (pip install -e . again)"


needs_speedups = pytest.mark.skipif(speedups is None, reason="sigcore.diameter._speedups is not built")


@needs_speedups
@pytest.mark.parametrize("frame", VALID, ids=["AIR", "ULR", "PUR", "MAR", "CER", "CCR", "CCR-MSCC", "unknown"])
def test_valid_requests_pass_the_compiled_walk_with_the_same_avps(frame: bytes) -> None:
    assert agree(frame), "a valid request fell back to the Python walk"
    msg = D.decode_checked(frame)
    assert msg.fault is None and fields(msg.avps) == fields(Message.decode(frame).avps)


@needs_speedups
@FAST
@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1,
                                        max_size=4), st.integers(0, 64), st.binary(max_size=24))
def test_mutated_requests_never_pass_the_compiled_walk_alone(frame: bytes, edits: list[tuple[int, int]], cut: int,
                                                            extra: bytes) -> None:
    mutated = mutate(frame, edits, cut, extra, fix_length=True)
    if len(mutated) >= HEADER_LEN:
        agree(mutated)


@needs_speedups
@FAST
@given(random_frames)
def test_random_frames_never_pass_the_compiled_walk_alone(frame: bytes) -> None:
    if len(frame) >= HEADER_LEN:
        agree(frame)


@needs_speedups
def test_the_compiled_walk_refuses_a_wrong_call_instead_of_crashing() -> None:
    frame = VALID[0]
    rules = D.command(S6A, 318, True).rules  # type: ignore[union-attr]
    any_rules = dictionary._ANY_AVP
    for args in [(bytearray(frame), 20, len(frame)), (frame, 20, len(frame) + 4), (frame, 30, 20), (frame, -4, 20)]:
        assert speedups.check(*args, rules, None, D._unlisted, any_rules, Avp) is False
    assert speedups.check(frame, 20, len(frame), rules, [], D._unlisted, any_rules, object) is False
    with pytest.raises(TypeError):
        speedups.check(frame, 20, len(frame))


@FAST
@given(st.one_of(random_frames, st.builds(mutate, st.sampled_from(VALID),
                                          st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)),
                                                   max_size=4),
                                          st.integers(0, 64), st.binary(max_size=24), st.booleans())))
def test_the_decoder_contract_holds_with_the_python_walk_alone(frame: bytes) -> None:
    """Where setup.py could not build the compiled walk, the Python walk alone does everything."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dictionary, "_speedups", None)
        exercise(frame)


@pytest.mark.parametrize("walk", ["compiled", "python"])
@pytest.mark.parametrize("where", ["Origin-Host", "Destination-Host"])
def test_a_diameter_identity_longer_than_255_octets_is_5004(walk: str, where: str) -> None:
    """A DiameterIdentity is a FQDN (at most 255 octets): longer ones were accepted and met the store's
    255-character columns, where SQLite kept them and PostgreSQL and MariaDB failed the ULR with 5012."""
    if walk == "compiled" and speedups is None:
        pytest.skip("sigcore.diameter._speedups is not built")

    def ulr(identity: str) -> bytes:
        frame = _request(316, S6A, [("User-Name", "001010000000001"), ("RAT-Type", 1004), ("ULR-Flags", 34),
                                    ("Visited-PLMN-Id", b"\x00\xf1\x10")])
        msg = Message.decode(frame)
        for avp in msg.avps:
            if avp.code == D.avp(where).code:
                avp.data = identity.encode()
                break
        else:
            msg.avps.append(D.build(where, identity))
        return msg.encode()

    with pytest.MonkeyPatch.context() as patch:
        if walk == "python":
            patch.setattr(dictionary, "_speedups", None)
        D.validate(D.decode_checked(ulr("h" * 251 + ".net")))  # 255 octets: fine
        msg = D.decode_checked(ulr("h" * 252 + ".net"))
        with pytest.raises(DiameterError) as refused:
            D.validate(msg)
    assert refused.value.result_code == 5004 and f"{where} longer than 255 octets" in str(refused.value)
    assert [a.code for a in refused.value.failed_avps] == [D.avp(where).code]
    if walk == "compiled":
        assert agree(ulr("h" * 251 + ".net")) and not agree(ulr("h" * 252 + ".net"))
