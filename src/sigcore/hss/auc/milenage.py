"""Milenage (TS 35.206): the 3GPP example algorithm set f1, f1*, f2, f3, f4, f5, f5* on AES-128.

Every function is a handful of AES-128 block encryptions under the subscriber key K, so one `Milenage`
object keeps one ECB encryptor for K and reuses it for every block: building the AES key schedule costs
more than the whole rest of a vector.  Blocks are carried as Python ints between encryptions, because
XOR and rotation on one int are far cheaper than on 16-byte strings, and the blocks that depend only on
TEMP go to the cipher in one call (a call costs the same for one block or four).

TS 35.206 §4.1, with TEMP = E_K(RAND ⊕ OPc) and IN1 = SQN ‖ AMF ‖ SQN ‖ AMF:

    OUT1 = E_K(TEMP ⊕ rot(IN1 ⊕ OPc, r1) ⊕ c1) ⊕ OPc     MAC-A = OUT1[0..63], MAC-S = OUT1[64..127]
    OUTi = E_K(rot(TEMP ⊕ OPc, ri) ⊕ ci) ⊕ OPc  i=2..5  RES = OUT2[64..127], AK = OUT2[0..47],
                                                        CK = OUT3, IK = OUT4, AK* = OUT5[0..47]

rot(x, r) rotates the 128-bit x left by r bits.  K and OPc never appear in a repr or a log line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_MASK128 = (1 << 128) - 1
_MASK64 = (1 << 64) - 1
SQN_MAX = (1 << 48) - 1


@dataclass(frozen=True, slots=True)
class MilenageConstants:
    """The operator-selectable constants c1..c5 (128-bit ints) and rotations r1..r5 (bits, 0..127)."""

    c: tuple[int, int, int, int, int] = (0, 1, 2, 4, 8)
    r: tuple[int, int, int, int, int] = (64, 0, 32, 64, 96)

    def __post_init__(self) -> None:
        if len(self.c) != 5 or len(self.r) != 5:
            raise ValueError("Milenage needs exactly five constants c1..c5 and five rotations r1..r5")
        if any(not 0 <= c <= _MASK128 for c in self.c):
            raise ValueError("each Milenage constant c1..c5 is a 128-bit value")
        if any(not 0 <= r < 128 for r in self.r):
            raise ValueError("each Milenage rotation r1..r5 is 0..127 bits")


STANDARD_CONSTANTS = MilenageConstants()


class AkaOutputs(NamedTuple):
    """Everything the network side needs from one RAND/SQN/AMF: f1, f2, f3, f4 and f5 in one pass."""

    mac_a: bytes
    xres: bytes
    ck: bytes
    ik: bytes
    ak: int


def _require(value: bytes, length: int, name: str) -> None:
    if len(value) != length:
        raise ValueError(f"{name} must be {length} octets, got {len(value)}")


def _rotate(x: int, bits: int) -> int:
    if bits == 0:
        return x
    return ((x << bits) | (x >> (128 - bits))) & _MASK128


def _aes_block_encryptor(k: bytes) -> Callable[[bytes], bytes]:
    """One reusable AES-128 ECB encryptor for K: ECB keeps no state between whole blocks."""
    _require(k, 16, "K")
    return Cipher(algorithms.AES(k), modes.ECB()).encryptor().update


def derive_opc(k: bytes, op: bytes) -> bytes:
    """OPc = OP ⊕ E_K(OP) (TS 35.206 §4.1), for subscribers provisioned with the operator's OP only."""
    _require(op, 16, "OP")
    encrypted = _aes_block_encryptor(k)(op)
    return (int.from_bytes(encrypted, "big") ^ int.from_bytes(op, "big")).to_bytes(16, "big")


class Milenage:
    """f1..f5* for one subscriber (K, OPc); build one per request and reuse it for all its vectors."""

    __slots__ = ("_c", "_encrypt", "_opc", "_r")

    def __init__(self, k: bytes, opc: bytes, constants: MilenageConstants = STANDARD_CONSTANTS) -> None:
        _require(opc, 16, "OPc")
        self._encrypt = _aes_block_encryptor(k)
        self._opc = int.from_bytes(opc, "big")
        self._c = constants.c
        self._r = constants.r

    def _e(self, block: int) -> int:
        return int.from_bytes(self._encrypt(block.to_bytes(16, "big")), "big")

    def _temp(self, rand: bytes) -> int:
        _require(rand, 16, "RAND")
        return self._e(int.from_bytes(rand, "big") ^ self._opc)

    def _in1_block(self, temp: int, sqn: int, amf: int) -> int:
        """The AES input of OUT1: TEMP xor rot(IN1 xor OPc, r1) xor c1."""
        if not 0 <= sqn <= SQN_MAX:
            raise ValueError("SQN is a 48-bit value")
        if not 0 <= amf <= 0xFFFF:
            raise ValueError("AMF is a 16-bit value")
        half = (sqn << 16) | amf
        return temp ^ _rotate(((half << 64) | half) ^ self._opc, self._r[0]) ^ self._c[0]

    def _in_block(self, temp: int, i: int) -> int:
        """The AES input of OUT2..OUT5 (i = 1..4 as an index into c and r): rot(TEMP xor OPc, ri) xor ci."""
        return _rotate(temp ^ self._opc, self._r[i]) ^ self._c[i]

    def _outputs(self, *blocks: int) -> bytes:
        """E_K(block) xor OPc for each block, in one call to the cipher: the calls, not the blocks, cost."""
        joined = 0
        opcs = 0
        for block in blocks:
            joined = (joined << 128) | block
            opcs = (opcs << 128) | self._opc
        size = 16 * len(blocks)
        encrypted = int.from_bytes(self._encrypt(joined.to_bytes(size, "big")), "big")
        return (encrypted ^ opcs).to_bytes(size, "big")

    def _out1(self, temp: int, sqn: int, amf: int) -> int:
        return int.from_bytes(self._outputs(self._in1_block(temp, sqn, amf)), "big")

    def _out(self, temp: int, i: int) -> int:
        return int.from_bytes(self._outputs(self._in_block(temp, i)), "big")

    # --- the spec's functions, octet strings in and out (TS 35.206 §4.1) ---

    def f1(self, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
        """MAC-A, the network authentication code carried in AUTN."""
        return (self._f1_block(rand, sqn, amf) >> 64).to_bytes(8, "big")

    def f1_star(self, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
        """MAC-S, the resynchronisation authentication code carried in AUTS."""
        return (self._f1_block(rand, sqn, amf) & _MASK64).to_bytes(8, "big")

    def _f1_block(self, rand: bytes, sqn: bytes, amf: bytes) -> int:
        _require(sqn, 6, "SQN")
        _require(amf, 2, "AMF")
        return self._out1(self._temp(rand), int.from_bytes(sqn, "big"), int.from_bytes(amf, "big"))

    def f2345(self, rand: bytes) -> tuple[bytes, bytes, bytes, bytes]:
        """(RES, CK, IK, AK) from one TEMP, as a USIM computes them."""
        temp = self._temp(rand)
        out = self._outputs(self._in_block(temp, 1), self._in_block(temp, 2), self._in_block(temp, 3))
        return out[8:16], out[16:32], out[32:48], out[0:6]

    def f2(self, rand: bytes) -> bytes:
        return self.f2345(rand)[0]

    def f3(self, rand: bytes) -> bytes:
        return self._out(self._temp(rand), 2).to_bytes(16, "big")

    def f4(self, rand: bytes) -> bytes:
        return self._out(self._temp(rand), 3).to_bytes(16, "big")

    def f5(self, rand: bytes) -> bytes:
        return (self._out(self._temp(rand), 1) >> 80).to_bytes(6, "big")

    def f5_star(self, rand: bytes) -> bytes:
        """AK used to conceal SQN_MS in AUTS."""
        return (self._out(self._temp(rand), 4) >> 80).to_bytes(6, "big")

    # --- the network side's hot path ---

    def generate(self, rand: bytes, sqn: int, amf: int) -> AkaOutputs:
        """f1 and f2..f5 for one authentication vector: TEMP, then OUT1..OUT4 in one cipher call."""
        temp = self._temp(rand)
        out = self._outputs(
            self._in1_block(temp, sqn, amf),
            self._in_block(temp, 1),
            self._in_block(temp, 2),
            self._in_block(temp, 3),
        )
        # OUT1 = out[0:16], OUT2 = out[16:32], OUT3 = out[32:48], OUT4 = out[48:64]
        return AkaOutputs(out[0:8], out[24:32], out[32:48], out[48:64], int.from_bytes(out[16:22], "big"))

    def resync_parts(self, rand: bytes, auts: bytes) -> tuple[int, bytes, bytes]:
        """From AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S: (SQN_MS, the MAC-S received, the MAC-S expected).

        The expected MAC-S is f1* over SQN_MS, RAND and the dummy AMF 0x0000 (TS 33.102 §6.3.3);
        comparing the two is the caller's job, so the comparison can be constant-time in one place.
        """
        _require(auts, 14, "AUTS")
        temp = self._temp(rand)
        sqn_ms = int.from_bytes(auts[:6], "big") ^ (self._out(temp, 4) >> 80)
        expected = self._outputs(self._in1_block(temp, sqn_ms, 0))[8:16]
        return sqn_ms, auts[6:], expected
