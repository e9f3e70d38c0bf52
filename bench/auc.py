"""How fast the authentication centre makes vectors on one core (no I/O, no database).

The HSS budget is >= 5,000 AIR/s end to end on one core, i.e. 200 us per AIR for everything (Diameter
decode/encode, the SQN transaction, the vector).  This prints what the vector part costs:

* an AIR asking for 1 E-UTRAN vector (the common case): key schedule + 5 AES blocks + KASME + RAND;
* vectors in a batch (AIR for N vectors shares one key schedule);
* a resynchronisation (f1*, f5*, MAC-S check) and next_sqns.

Usage: .venv/bin/python bench/auc.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import os
import time
import timeit
from collections.abc import Callable

from sigcore.hss.auc import eutran_vector, eutran_vectors, next_sqns, resync, utran_vector
from sigcore.hss.auc.milenage import Milenage

K = os.urandom(16)
OPC = os.urandom(16)
AMF = bytes.fromhex("8000")
PLMN = bytes.fromhex("00f110")


def rate(label: str, work: Callable[[], object], items_per_call: int, seconds: float) -> None:
    """Times `work` in ~20 rounds over about `seconds`; prints items/s of the best and the median round.

    The best round is what one uncontended core does; the median shows how noisy the machine was.
    """
    calls = max(1, int(seconds / 20 / _one_call(work)))
    rounds = sorted(timeit.repeat(work, number=calls, repeat=20))
    best, median = (r / (calls * items_per_call) for r in (rounds[0], rounds[len(rounds) // 2]))
    print(f"{label:<46} {1 / best:>10,.0f} /s  {best * 1e6:>7.2f} us  (median {median * 1e6:.2f} us)")


def _one_call(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(50):
        work()
    return (time.perf_counter() - start) / 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    seconds = parser.parse_args().seconds

    sqn = 1 << 5
    rand = os.urandom(16)
    usim_auts = _genuine_auts(rand, sqn_ms=sqn + 1000)

    rate("E-UTRAN vector, 1 per AIR (incl. key schedule)", lambda: eutran_vector(K, OPC, AMF, sqn, PLMN), 1, seconds)
    batch = next_sqns(sqn, 5)
    rate("E-UTRAN vectors, 5 per AIR", lambda: eutran_vectors(K, OPC, AMF, batch, PLMN), 5, seconds)
    rate("UTRAN quintuplet, 1 per request", lambda: utran_vector(K, OPC, AMF, sqn), 1, seconds)
    rate("resync (verify MAC-S, recover SQN_MS)", lambda: resync(K, OPC, rand, usim_auts, sqn), 1, seconds)
    rate("next_sqns(stored, 1)", lambda: next_sqns(sqn, 1), 1, seconds)


def _genuine_auts(rand: bytes, sqn_ms: int) -> bytes:
    """AUTS as a USIM would send it, so the resync measurement takes the successful path."""
    m = Milenage(K, OPC)
    sqn_bytes = sqn_ms.to_bytes(6, "big")
    concealed = bytes(a ^ b for a, b in zip(sqn_bytes, m.f5_star(rand), strict=True))
    return concealed + m.f1_star(rand, sqn_bytes, b"\x00\x00")


if __name__ == "__main__":
    main()
