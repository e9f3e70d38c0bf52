"""Authentication vectors the HSS hands out: E-UTRAN (S6a), UTRAN (S6d/Gr), GERAN triplets, IMS AKA (Cx).

AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A (TS 33.102 §6.3.2).  AMF bit 0 ("separation bit", the top bit of the
first AMF octet) is forced to 1 in E-UTRAN vectors and to 0 in all others (TS 33.401 §6.1.1), so a UE on
E-UTRAN refuses a vector made for another access, whatever AMF was provisioned.

RAND comes from the operating system's CSPRNG (`secrets`): 128 random bits make a repeat as unlikely as
guessing K.  A caller may pass RAND explicitly, which tests and conformance data need.

Secrets (XRES, CK, IK, KASME, Kc, SRES) are left out of the dataclasses' reprs so a stray log line or
traceback does not print them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from .kdf import kasme as derive_kasme
from .milenage import Milenage

SEPARATION_BIT = 0x8000
_RAND_OCTETS = 16
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class EutranVector:
    """One E-UTRAN vector (S6a E-UTRAN-Vector AVP): RAND, XRES, AUTN, KASME; and the SQN it used."""

    rand: bytes
    xres: bytes = field(repr=False)
    autn: bytes
    kasme: bytes = field(repr=False)
    sqn: int


@dataclass(frozen=True, slots=True)
class UtranVector:
    """One UMTS quintuplet (S6a/S6d UTRAN-Vector AVP): RAND, XRES, AUTN, CK, IK; and the SQN it used."""

    rand: bytes
    xres: bytes = field(repr=False)
    autn: bytes
    ck: bytes = field(repr=False)
    ik: bytes = field(repr=False)
    sqn: int


@dataclass(frozen=True, slots=True)
class GeranTriplet:
    """One GSM triplet (GERAN-Vector AVP) made from a UMTS vector with the c2/c3 conversions."""

    rand: bytes
    sres: bytes = field(repr=False)
    kc: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ImsAkaVector:
    """The Cx SIP-Auth-Data-Item for Digest-AKAv1-MD5, named after its AVPs (TS 29.228 §6.3)."""

    sip_authenticate: bytes  # RAND ‖ AUTN
    sip_authorization: bytes = field(repr=False)  # XRES
    confidentiality_key: bytes = field(repr=False)  # CK
    integrity_key: bytes = field(repr=False)  # IK
    sqn: int


def new_rand() -> bytes:
    """A fresh 128-bit RAND from the CSPRNG."""
    return secrets.token_bytes(_RAND_OCTETS)


def _or_new(rand: bytes | None) -> bytes:
    return new_rand() if rand is None else rand


def _amf_value(amf: bytes, eutran: bool) -> int:
    if len(amf) != 2:
        raise ValueError(f"AMF must be 2 octets, got {len(amf)}")
    value = int.from_bytes(amf, "big")
    return value | SEPARATION_BIT if eutran else value & ~SEPARATION_BIT


def _check_plmn(plmn: bytes) -> None:
    if len(plmn) != 3:
        raise ValueError(f"the serving network id (Visited-PLMN-Id) is 3 octets, got {len(plmn)}")


def _eutran(milenage: Milenage, amf: int, sqn: int, plmn: bytes, rand: bytes) -> EutranVector:
    mac_a, xres, ck, ik, ak = milenage.generate(rand, sqn, amf)
    concealed_sqn = (sqn ^ ak).to_bytes(6, "big")
    autn = concealed_sqn + amf.to_bytes(2, "big") + mac_a
    return EutranVector(rand, xres, autn, derive_kasme(ck, ik, plmn, concealed_sqn), sqn)


def _utran(milenage: Milenage, amf: int, sqn: int, rand: bytes) -> UtranVector:
    mac_a, xres, ck, ik, ak = milenage.generate(rand, sqn, amf)
    autn = (sqn ^ ak).to_bytes(6, "big") + amf.to_bytes(2, "big") + mac_a
    return UtranVector(rand, xres, autn, ck, ik, sqn)


def eutran_vector(k: bytes, opc: bytes, amf: bytes, sqn: int, plmn: bytes, rand: bytes | None = None) -> EutranVector:
    """One E-UTRAN vector for serving network `plmn` (the 3 octets of Visited-PLMN-Id)."""
    _check_plmn(plmn)
    return _eutran(Milenage(k, opc), _amf_value(amf, True), sqn, plmn, _or_new(rand))


def eutran_vectors(k: bytes, opc: bytes, amf: bytes, sqns: Iterable[int], plmn: bytes) -> list[EutranVector]:
    """One E-UTRAN vector per SQN (in order), sharing one AES key schedule, as an AIR for N vectors needs."""
    return eutran_vectors_of(Milenage(k, opc), amf, sqns, plmn)


def eutran_vectors_of(milenage: Milenage, amf: bytes, sqns: Iterable[int], plmn: bytes) -> list[EutranVector]:
    """`eutran_vectors` with the subscriber's `Milenage` built once and kept (the HSS caches it per key)."""
    _check_plmn(plmn)
    amf_value = _amf_value(amf, True)
    return [_eutran(milenage, amf_value, sqn, plmn, new_rand()) for sqn in sqns]


def utran_vector(k: bytes, opc: bytes, amf: bytes, sqn: int, rand: bytes | None = None) -> UtranVector:
    """One UMTS quintuplet."""
    return _utran(Milenage(k, opc), _amf_value(amf, False), sqn, _or_new(rand))


def utran_vectors(k: bytes, opc: bytes, amf: bytes, sqns: Iterable[int]) -> list[UtranVector]:
    """One UMTS quintuplet per SQN (in order), sharing one AES key schedule."""
    return utran_vectors_of(Milenage(k, opc), amf, sqns)


def utran_vectors_of(milenage: Milenage, amf: bytes, sqns: Iterable[int]) -> list[UtranVector]:
    """`utran_vectors` with a kept `Milenage`."""
    amf_value = _amf_value(amf, False)
    return [_utran(milenage, amf_value, sqn, new_rand()) for sqn in sqns]


def ims_aka_vector(k: bytes, opc: bytes, amf: bytes, sqn: int, rand: bytes | None = None) -> ImsAkaVector:
    """The IMS AKA items for a Cx MAA: the UMTS quintuplet laid out as SIP-Authenticate and friends."""
    v = utran_vector(k, opc, amf, sqn, rand)
    return ImsAkaVector(v.rand + v.autn, v.xres, v.ck, v.ik, v.sqn)


def c2_sres(xres: bytes) -> bytes:
    """c2 (TS 33.102 §6.8.1.2): SRES = XOR of the 32-bit words of XRES (zero-padded to 128 bits)."""
    if not 4 <= len(xres) <= 16:
        raise ValueError("XRES is 4 to 16 octets")
    padded = int.from_bytes(xres + bytes(16 - len(xres)), "big")
    sres = (padded >> 96) ^ (padded >> 64) ^ (padded >> 32) ^ padded
    return (sres & 0xFFFFFFFF).to_bytes(4, "big")


def c3_kc(ck: bytes, ik: bytes) -> bytes:
    """c3 (TS 33.102 §6.8.1.2): Kc = CK1 ⊕ CK2 ⊕ IK1 ⊕ IK2 over the 64-bit halves of CK and IK."""
    if len(ck) != 16 or len(ik) != 16:
        raise ValueError("CK and IK are 16 octets each")
    c, i = int.from_bytes(ck, "big"), int.from_bytes(ik, "big")
    return (((c >> 64) ^ c ^ (i >> 64) ^ i) & _MASK64).to_bytes(8, "big")


def geran_triplet(k: bytes, opc: bytes, rand: bytes | None = None) -> GeranTriplet:
    """A GSM triplet for a USIM in a GERAN (TS 33.102 §6.8.1.2); no SQN: a triplet carries no AUTN."""
    rand = _or_new(rand)
    xres, ck, ik, _ak = Milenage(k, opc).f2345(rand)
    return GeranTriplet(rand, c2_sres(xres), c3_kc(ck, ik))
