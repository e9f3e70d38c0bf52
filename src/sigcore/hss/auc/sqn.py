"""Sequence numbers (TS 33.102 Annex C): SQN = SEQ ‖ IND, generation and resynchronisation.

The HSS stores, per subscriber, the last SQN it handed out.  Each new vector takes SEQ + 1 and the next
IND (IND cycles through 0 … 2^ind_bits - 1), so every IND slot of the USIM's SEQ_MS array (Annex C.2)
sees strictly increasing SEQ values, and vectors still cached in an old MME or SGSN stay acceptable after
newer ones from another node were used (they sit in other slots).  The functions here are pure: the
caller reads the stored SQN, takes `next_sqns`, and stores the last one in the same transaction.

Resynchronisation (TS 33.102 §6.3.5) follows the USIM rules of Annex C.2 with the recommended
Δ = 2^28 (the USIM refuses SEQ - SEQ_MS > Δ):

* MAC-S is always verified first (f1* with the dummy AMF 0x0000); a wrong MAC-S raises `AutsMacError`
  and the caller must change nothing.
* If the next SEQ generated from the stored SQN would already be accepted (SEQ_MS < SEQ_HE + 1 ≤
  SEQ_MS + Δ), the stored SQN is kept: the failure was about an old vector (a stale slot, or the USIM's age
  limit L of Annex C.2.2), and moving SEQ_HE backwards would re-issue sequence numbers.
* Otherwise SQN_HE is reset to SQN_MS, so the next vector (SEQ_MS + 1) is accepted.
"""

from __future__ import annotations

import hmac

from .milenage import SQN_MAX, Milenage

DEFAULT_IND_BITS = 5
DEFAULT_DELTA = 1 << 28
SQN_BITS = 48


class AucError(Exception):
    """Base of the authentication centre's typed errors."""


class AutsMacError(AucError):
    """The MAC-S inside AUTS does not verify: a forged or corrupted resynchronisation request."""


class SqnExhaustedError(AucError):
    """SEQ reached its maximum: the subscriber's sequence space is used up (needs a new K)."""


def _check_ind_bits(ind_bits: int) -> None:
    if not 0 <= ind_bits < SQN_BITS:
        raise ValueError(f"IND length must be 0..{SQN_BITS - 1} bits, got {ind_bits}")


def _check_sqn(sqn: int) -> None:
    if not 0 <= sqn <= SQN_MAX:
        raise ValueError("SQN is a 48-bit value")


def split_sqn(sqn: int, ind_bits: int = DEFAULT_IND_BITS) -> tuple[int, int]:
    """(SEQ, IND) of a 48-bit SQN."""
    _check_sqn(sqn)
    _check_ind_bits(ind_bits)
    return sqn >> ind_bits, sqn & ((1 << ind_bits) - 1)


def join_sqn(seq: int, ind: int, ind_bits: int = DEFAULT_IND_BITS) -> int:
    """SQN = SEQ ‖ IND."""
    _check_ind_bits(ind_bits)
    if not 0 <= ind < 1 << ind_bits:
        raise ValueError(f"IND must fit in {ind_bits} bits")
    if not 0 <= seq < 1 << (SQN_BITS - ind_bits):
        raise SqnExhaustedError(f"SEQ must fit in {SQN_BITS - ind_bits} bits")
    return (seq << ind_bits) | ind


def next_sqns(stored_sqn: int, count: int, ind_bits: int = DEFAULT_IND_BITS) -> list[int]:
    """The `count` SQNs that follow `stored_sqn`: SEQ + 1, + 2, … with IND cycling from the stored IND + 1.

    Raises `SqnExhaustedError` rather than wrap: a wrapped SEQ would be refused by the USIM forever.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    if not 0 <= ind_bits < SQN_BITS:  # the checks of split_sqn, inline: this runs in every AIR's transaction
        _check_ind_bits(ind_bits)
    if not 0 <= stored_sqn <= SQN_MAX:
        _check_sqn(stored_sqn)
    seq, ind, mask = stored_sqn >> ind_bits, stored_sqn, (1 << ind_bits) - 1
    if seq + count >= 1 << (SQN_BITS - ind_bits):
        raise SqnExhaustedError("the subscriber's SEQ space is used up")
    out = []
    for _ in range(count):
        seq += 1
        ind += 1
        out.append(seq << ind_bits | ind & mask)
    return out


def recover_sqn_ms(k: bytes, opc: bytes, rand: bytes, auts: bytes) -> int:
    """SQN_MS from AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S, after verifying MAC-S; raises `AutsMacError` if it fails.

    RAND is the one the USIM answered (the RAND half of Re-Synchronization-Info).
    """
    sqn_ms, received, expected = Milenage(k, opc).resync_parts(rand, auts)
    if not hmac.compare_digest(received, expected):
        raise AutsMacError("MAC-S of AUTS does not verify")
    return sqn_ms


def resync(
    k: bytes,
    opc: bytes,
    rand: bytes,
    auts: bytes,
    stored_sqn: int,
    ind_bits: int = DEFAULT_IND_BITS,
    delta: int = DEFAULT_DELTA,
) -> int:
    """The SQN the HSS must store after a synchronisation failure so that its next vector is accepted.

    Returns `stored_sqn` itself when the next vector would already be accepted, SQN_MS otherwise (see the
    module docstring).  Raises `AutsMacError` for a wrong MAC-S; then nothing must change.
    """
    sqn_ms = recover_sqn_ms(k, opc, rand, auts)
    seq_he, _ = split_sqn(stored_sqn, ind_bits)
    seq_ms, _ = split_sqn(sqn_ms, ind_bits)
    if seq_ms < seq_he + 1 <= seq_ms + delta:
        return stored_sqn
    return sqn_ms
