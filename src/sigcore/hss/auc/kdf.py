"""The 3GPP key derivation function (TS 33.220 Annex B.2) and KASME (TS 33.401 Annex A.2).

KDF(Key, S) = HMAC-SHA-256(Key, S) with S = FC ‖ P0 ‖ L0 ‖ P1 ‖ L1 ‖ …, each Li the length of Pi in two
octets.  HMAC is written out (RFC 2104) over `hashlib` because the key changes with every vector, and the
generic `hmac` module spends more than half of a whole vector's time on its per-key set-up; the tests
check it against `hmac` for every key length the KDF takes.
"""

from __future__ import annotations

import hashlib

_BLOCK = 64
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
_sha256 = hashlib.sha256

FC_KASME = 0x10
_KASME_FC = bytes((FC_KASME,))
_L0_PLMN = (3).to_bytes(2, "big")
_L1_SQN = (6).to_bytes(2, "big")


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA-256 for keys up to one SHA-256 block (64 octets), which covers every 3GPP KDF key."""
    if len(key) > _BLOCK:
        raise ValueError("KDF keys are at most 64 octets")
    padded = key + bytes(_BLOCK - len(key))
    inner = _sha256(padded.translate(_IPAD) + message).digest()
    return _sha256(padded.translate(_OPAD) + inner).digest()


def kdf(key: bytes, fc: int, *parameters: bytes) -> bytes:
    """KDF(key, FC ‖ P0 ‖ L0 ‖ …) of TS 33.220 Annex B.2.2."""
    s = bytearray((fc,))
    for p in parameters:
        s += p
        s += len(p).to_bytes(2, "big")
    return hmac_sha256(key, bytes(s))


def kasme(ck: bytes, ik: bytes, serving_network_id: bytes, sqn_xor_ak: bytes) -> bytes:
    """KASME = KDF(CK ‖ IK, FC=0x10, P0 = serving network id, P1 = SQN ⊕ AK) (TS 33.401 Annex A.2).

    The serving network id is the 3-octet PLMN identity exactly as carried in Visited-PLMN-Id.
    """
    if len(serving_network_id) != 3:
        raise ValueError("the serving network id is a 3-octet PLMN identity")
    if len(sqn_xor_ak) != 6:
        raise ValueError("SQN ⊕ AK is 6 octets")
    # Same as kdf(ck + ik, FC_KASME, serving_network_id, sqn_xor_ak), with S laid out without the loop,
    # since this runs once per vector.
    return hmac_sha256(ck + ik, _KASME_FC + serving_network_id + _L0_PLMN + sqn_xor_ak + _L1_SQN)
