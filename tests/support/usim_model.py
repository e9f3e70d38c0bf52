"""An independent model of a USIM and an E-UTRAN ME, to judge the vectors the HSS hands out.

Written from TS 35.206, TS 33.102 §6.3 and Annex C.2, and TS 33.401 §6.1.1 / Annex A.2 without looking at
or importing `sigcore.hss.auc`: it works on octet strings (not ints), uses `cryptography`'s AES and HMAC
(the AUC uses its own HMAC over `hashlib`), so a mistake shared by both sides is unlikely.

The card side keeps the SEQ_MS array of Annex C.2 (one entry per IND value), optionally the wrap-around
limit Δ and the age limit L, and answers a challenge with RES/CK/IK (and KASME on E-UTRAN), with a
synchronisation failure carrying AUTS, or with a MAC failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

C_CONSTANTS = [bytes(15) + bytes([v]) for v in (0, 1, 2, 4, 8)]
R_BYTES = [8, 0, 4, 8, 12]  # r1..r5 of TS 35.206 (64, 0, 32, 64, 96 bits) are whole octets


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def rot_octets(x: bytes, n: int) -> bytes:
    return x[n:] + x[:n]


def aes(k: bytes, block: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def opc_from_op(k: bytes, op: bytes) -> bytes:
    return xor(aes(k, op), op)


def milenage_f1_block(k: bytes, opc: bytes, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
    temp = aes(k, xor(rand, opc))
    in1 = sqn + amf + sqn + amf
    block = xor(xor(temp, rot_octets(xor(in1, opc), R_BYTES[0])), C_CONSTANTS[0])
    return xor(aes(k, block), opc)


def milenage_out(k: bytes, opc: bytes, rand: bytes, i: int) -> bytes:
    """OUT2..OUT5 for i = 2..5."""
    temp = aes(k, xor(rand, opc))
    block = xor(rot_octets(xor(temp, opc), R_BYTES[i - 1]), C_CONSTANTS[i - 1])
    return xor(aes(k, block), opc)


def kdf_kasme(ck: bytes, ik: bytes, plmn: bytes, sqn_xor_ak: bytes) -> bytes:
    s = b"\x10" + plmn + len(plmn).to_bytes(2, "big") + sqn_xor_ak + len(sqn_xor_ak).to_bytes(2, "big")
    mac = crypto_hmac.HMAC(ck + ik, hashes.SHA256())
    mac.update(s)
    return mac.finalize()


@dataclass
class Accepted:
    res: bytes
    ck: bytes
    ik: bytes
    sqn: int
    kasme: bytes | None = None


@dataclass
class SyncFailure:
    auts: bytes


class MacFailure(Exception):
    """AUTN's MAC-A did not verify (or, on E-UTRAN, the AMF separation bit was not set)."""


class UsimModel:
    def __init__(
        self,
        k: bytes,
        opc: bytes,
        ind_bits: int = 5,
        delta: int | None = 1 << 28,
        age_limit: int | None = None,
    ) -> None:
        self.k, self.opc, self.ind_bits = k, opc, ind_bits
        self.delta, self.age_limit = delta, age_limit
        self.seq_ms = [0] * (2**ind_bits)
        self.accepted: list[int] = []

    @property
    def sqn_ms(self) -> int:
        """The highest SQN accepted anywhere in the array (SEQ and the IND of its slot)."""
        slot = max(range(len(self.seq_ms)), key=lambda i: self.seq_ms[i])
        return (self.seq_ms[slot] << self.ind_bits) | slot

    def auts(self, rand: bytes) -> bytes:
        """AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S, MAC-S = f1*(SQN_MS, RAND, AMF = 0x0000) (TS 33.102 §6.3.3)."""
        sqn_ms = self.sqn_ms.to_bytes(6, "big")
        ak_star = milenage_out(self.k, self.opc, rand, 5)[:6]
        mac_s = milenage_f1_block(self.k, self.opc, rand, sqn_ms, b"\x00\x00")[8:]
        return xor(sqn_ms, ak_star) + mac_s

    def authenticate(self, rand: bytes, autn: bytes) -> Accepted | SyncFailure:
        """UMTS AKA on the card (TS 33.102 §6.3.3); raises MacFailure when AUTN is not genuine."""
        assert len(rand) == 16 and len(autn) == 16
        out2 = milenage_out(self.k, self.opc, rand, 2)
        res, ak = out2[8:], out2[:6]
        sqn = xor(autn[:6], ak)
        amf, mac_a = autn[6:8], autn[8:]
        if milenage_f1_block(self.k, self.opc, rand, sqn, amf)[:8] != mac_a:
            raise MacFailure("MAC-A mismatch")
        if not self._fresh(int.from_bytes(sqn, "big")):
            return SyncFailure(self.auts(rand))
        ck = milenage_out(self.k, self.opc, rand, 3)
        ik = milenage_out(self.k, self.opc, rand, 4)
        return Accepted(res, ck, ik, int.from_bytes(sqn, "big"))

    def authenticate_eutran(self, rand: bytes, autn: bytes, plmn: bytes) -> Accepted | SyncFailure:
        """EPS AKA: the ME also demands the AMF separation bit and derives KASME (TS 33.401 §6.1.1)."""
        if not autn[6] & 0x80:
            raise MacFailure("AMF separation bit not set in an E-UTRAN challenge")
        outcome = self.authenticate(rand, autn)
        if isinstance(outcome, Accepted):
            outcome.kasme = kdf_kasme(outcome.ck, outcome.ik, plmn, autn[:6])
        return outcome

    def _fresh(self, sqn: int) -> bool:
        """Annex C.2: Δ and L against the highest SEQ_MS, then SEQ > SEQ_MS(IND) for the slot."""
        seq, ind = divmod(sqn, 2**self.ind_bits)
        highest = max(self.seq_ms)
        if self.delta is not None and seq - highest > self.delta:
            return False
        if self.age_limit is not None and highest - seq >= self.age_limit:
            return False
        if seq <= self.seq_ms[ind]:
            return False
        self.seq_ms[ind] = seq
        self.accepted.append(sqn)
        return True
