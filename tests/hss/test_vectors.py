"""Authentication vectors, each judged by the independent USIM/ME model of tests/support/usim_model.py.

Known answers: the E-UTRAN vector OpenAirInterface logged (as recorded in Magma's milenage tests, K and
OP from there, RAND 00..0f, SQN 7351, PLMN 208.95), and GSM-Milenage triplets of TS 55.205 (SRES by c2,
Kc by c3; two public transcriptions agree on them).
"""

from __future__ import annotations

import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigcore.hss.auc import (
    c2_sres,
    c3_kc,
    derive_opc,
    eutran_vector,
    eutran_vectors,
    geran_triplet,
    hmac_sha256,
    ims_aka_vector,
    kasme,
    kdf,
    next_sqns,
    utran_vector,
    utran_vectors,
)
from support.usim_model import Accepted, MacFailure, UsimModel

PLMN_208_95 = bytes.fromhex("02f859")  # MCC 208, MNC 95 as Visited-PLMN-Id carries it
PLMN_001_01 = bytes.fromhex("00f110")

octets16 = st.binary(min_size=16, max_size=16)
plmns = st.binary(min_size=3, max_size=3)
# A fresh USIM (all SEQ_MS zero) refuses SEQ above delta = 2^28 (TS 33.102 C.2.1), so stay below it.
sqns = st.integers(min_value=1 << 5, max_value=((1 << 28) << 5) | 31)


def test_eutran_vector_matches_the_one_openairinterface_produced() -> None:
    k = bytes.fromhex("8baf473f2f8fd09487cccbd7097c6862")
    opc = derive_opc(k, b"\x11" * 16)
    assert opc.hex() == "8e27b6af0e692e750f32667a3b14605d"
    v = eutran_vector(k, opc, bytes.fromhex("8000"), 7351, PLMN_208_95, rand=bytes(range(16)))
    assert v.rand == bytes(range(16))
    assert v.xres.hex() == "2daf873d73f310c6"
    assert v.autn.hex() == "6fbfa3801f5780007bde59886e96e4fe"
    assert v.kasme.hex() == "8748c1c0a2826fa405b1e27ea104434ae556c765e8f061ebdb8ae286c44616c2"
    assert v.sqn == 7351


@pytest.mark.parametrize(
    ("k", "rand", "opc", "sres", "kc"),
    [
        (
            "465b5ce8b199b49faa5f0a2ee238a6bc",
            "23553cbe9637a89d218ae64dae47bf35",
            "cd63cb71954a9f4e48a5994e37a02baf",
            "46f8416a",
            "eae4be823af9a08b",
        ),
        (
            "2d609d4db0ac5bf0d2c0de267014de0d",
            "194aa756013896b74b4a2a3b0af4539e",
            "c35a0ab0bcbfc9252caff15f24efbde0",
            "553d00b3",
            "84b417ae3aeab4f3",
        ),
        (
            "5122250214c33e723a5dd523fc145fc0",
            "81e92b6c0ee0e12ebceba8d92a99dfa5",
            "981d464c7c52eb6e5036234984ad0bcf",
            "8a3b8d17",
            "9a8d0e883ff0887a",
        ),
        (
            "90dca4eda45b53cf0f12d7c9c3bc6a89",
            "9fddc72092c6ad036b6e464789315b78",
            "cb9cccc4b9258e6dca4760379fb82581",
            "df58522f",
            "ed29b2f1c27f9f34",
        ),
    ],
)
def test_geran_triplet_matches_ts_55_205(k: str, rand: str, opc: str, sres: str, kc: str) -> None:
    t = geran_triplet(bytes.fromhex(k), bytes.fromhex(opc), rand=bytes.fromhex(rand))
    assert (t.rand.hex(), t.sres.hex(), t.kc.hex()) == (rand, sres, kc)


def test_conversion_functions_on_short_and_long_xres() -> None:
    assert c2_sres(bytes.fromhex("01020304")) == bytes.fromhex("01020304")
    assert c2_sres(bytes.fromhex("0102030410203040")) == bytes.fromhex("11223344")
    assert c2_sres(bytes.fromhex("11111111222222224444444488888888")) == bytes.fromhex("ffffffff")
    assert c3_kc(bytes(8) + b"\x01" * 8, b"\x02" * 8 + bytes(8)) == b"\x03" * 8
    with pytest.raises(ValueError):
        c2_sres(bytes(3))
    with pytest.raises(ValueError):
        c3_kc(bytes(8), bytes(16))


@given(key=st.binary(max_size=64), message=st.binary(max_size=200))
def test_hmac_is_rfc_2104_hmac_sha256(key: bytes, message: bytes) -> None:
    assert hmac_sha256(key, message) == hmac.digest(key, message, "sha256")


def test_kasme_is_the_generic_kdf_with_fc_0x10() -> None:
    ck, ik, sqn_ak = bytes(range(16)), bytes(range(16, 32)), bytes(range(6))
    assert kasme(ck, ik, PLMN_001_01, sqn_ak) == kdf(ck + ik, 0x10, PLMN_001_01, sqn_ak)
    with pytest.raises(ValueError):
        kasme(ck, ik, b"\x00\xf1", sqn_ak)
    with pytest.raises(ValueError):
        hmac_sha256(bytes(65), b"")


@given(k=octets16, opc=octets16, amf=st.binary(min_size=2, max_size=2), sqn=sqns, plmn=plmns)
def test_every_eutran_vector_is_accepted_by_the_model_with_the_same_res_and_kasme(
    k: bytes, opc: bytes, amf: bytes, sqn: int, plmn: bytes
) -> None:
    v = eutran_vector(k, opc, amf, sqn, plmn)
    outcome = UsimModel(k, opc).authenticate_eutran(v.rand, v.autn, plmn)
    assert isinstance(outcome, Accepted)
    assert outcome.sqn == sqn
    assert outcome.res == v.xres
    assert outcome.kasme == v.kasme


def test_eutran_vectors_set_the_amf_separation_bit_whatever_was_provisioned() -> None:
    k, opc = bytes(range(16)), bytes(range(1, 17))
    v = eutran_vector(k, opc, bytes.fromhex("0000"), 1 << 5, PLMN_001_01)
    assert v.autn[6:8] == bytes.fromhex("8000")
    assert isinstance(UsimModel(k, opc).authenticate_eutran(v.rand, v.autn, PLMN_001_01), Accepted)


def test_kasme_is_bound_to_the_serving_network() -> None:
    k, opc = bytes(range(16)), bytes(range(1, 17))
    v = eutran_vector(k, opc, bytes.fromhex("8000"), 1 << 5, PLMN_001_01)
    outcome = UsimModel(k, opc).authenticate_eutran(v.rand, v.autn, PLMN_208_95)
    assert isinstance(outcome, Accepted)
    assert outcome.kasme != v.kasme


@given(k=octets16, opc=octets16, sqn=sqns)
def test_every_utran_vector_is_accepted_by_the_model_and_refused_on_e_utran(k: bytes, opc: bytes, sqn: int) -> None:
    v = utran_vector(k, opc, bytes.fromhex("ffff"), sqn)
    assert v.autn[6:8] == bytes.fromhex("7fff")  # separation bit cleared, the rest as provisioned
    with pytest.raises(MacFailure):
        UsimModel(k, opc).authenticate_eutran(v.rand, v.autn, PLMN_001_01)
    outcome = UsimModel(k, opc).authenticate(v.rand, v.autn)
    assert isinstance(outcome, Accepted)
    assert (outcome.sqn, outcome.res, outcome.ck, outcome.ik) == (sqn, v.xres, v.ck, v.ik)


def test_ims_aka_items_are_the_quintuplet_as_sip_authenticate_and_authorization() -> None:
    k, opc = bytes(range(16)), bytes(range(1, 17))
    v = ims_aka_vector(k, opc, bytes.fromhex("8000"), 64)
    rand, autn = v.sip_authenticate[:16], v.sip_authenticate[16:]
    assert len(v.sip_authenticate) == 32
    outcome = UsimModel(k, opc).authenticate(rand, autn)
    assert isinstance(outcome, Accepted)
    assert (outcome.res, outcome.ck, outcome.ik) == (v.sip_authorization, v.confidentiality_key, v.integrity_key)


def test_a_batch_for_one_air_is_accepted_in_order_with_fresh_rands() -> None:
    k, opc = bytes(range(16)), bytes(range(1, 17))
    batch = eutran_vectors(k, opc, bytes.fromhex("8000"), next_sqns(0, 40), PLMN_001_01)
    usim = UsimModel(k, opc)
    for v in batch:
        outcome = usim.authenticate_eutran(v.rand, v.autn, PLMN_001_01)
        assert isinstance(outcome, Accepted) and outcome.kasme == v.kasme
    assert [v.sqn for v in batch] == next_sqns(0, 40)
    quintuplets = utran_vectors(k, opc, bytes.fromhex("0000"), next_sqns(0, 3))
    assert [q.sqn for q in quintuplets] == next_sqns(0, 3)


def test_rand_is_fresh_for_every_vector() -> None:
    k, opc = bytes(16), bytes(16)
    rands = [v.rand for v in eutran_vectors(k, opc, bytes(2), range(32, 32 + 2000), PLMN_001_01)]
    assert all(len(r) == 16 for r in rands)
    assert len(set(rands)) == len(rands)


@pytest.mark.parametrize("octet", range(16))
def test_a_tampered_autn_is_refused_by_the_model(octet: int) -> None:
    k, opc = bytes(range(16)), bytes(range(1, 17))
    v = eutran_vector(k, opc, bytes.fromhex("8000"), 1 << 5, PLMN_001_01)
    tampered = bytearray(v.autn)
    tampered[octet] ^= 0x01
    with pytest.raises(MacFailure):
        UsimModel(k, opc).authenticate_eutran(v.rand, bytes(tampered), PLMN_001_01)
    with pytest.raises(MacFailure):
        UsimModel(bytes(16), opc).authenticate_eutran(v.rand, v.autn, PLMN_001_01)


def test_wrong_sizes_are_refused() -> None:
    k = bytes(16)
    with pytest.raises(ValueError, match="3 octets"):
        eutran_vector(k, k, bytes(2), 32, b"\x00\xf1")
    with pytest.raises(ValueError, match="AMF"):
        utran_vector(k, k, bytes(1), 32)
    with pytest.raises(ValueError, match="RAND"):
        eutran_vector(k, k, bytes(2), 32, PLMN_001_01, rand=b"")


def test_secrets_stay_out_of_reprs() -> None:
    k, opc = bytes(range(16)), bytes(range(1, 17))
    e = eutran_vector(k, opc, bytes(2), 32, PLMN_001_01)
    u = utran_vector(k, opc, bytes(2), 32)
    g = geran_triplet(k, opc)
    i = ims_aka_vector(k, opc, bytes(2), 32)
    text = repr((e, u, g, i))
    for secret in (e.xres, e.kasme, u.ck, u.ik, g.sres, g.kc, i.sip_authorization):
        assert secret.hex() not in text and repr(secret) not in text
    assert "autn=" in repr(e) and "rand=" in repr(g)
