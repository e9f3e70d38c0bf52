"""SQN generation (SEQ || IND) and resynchronisation, judged by the USIM model's SEQ_MS array."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigcore.hss.auc import (
    DEFAULT_DELTA,
    AutsMacError,
    EutranVector,
    SqnExhaustedError,
    eutran_vectors,
    join_sqn,
    next_sqns,
    recover_sqn_ms,
    resync,
    split_sqn,
)
from support.usim_model import Accepted, SyncFailure, UsimModel

K = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
OPC = bytes.fromhex("0f0e0d0c0b0a09080706050403020100")
PLMN = bytes.fromhex("00f110")
AMF = bytes.fromhex("8000")


class HssSim:
    """The stored-SQN discipline of an HSS, minus the database: what the S6a handler does in a transaction."""

    def __init__(self, stored_sqn: int = 0, ind_bits: int = 5) -> None:
        self.stored_sqn = stored_sqn
        self.ind_bits = ind_bits

    def air(self, count: int) -> list[EutranVector]:
        sqns = next_sqns(self.stored_sqn, count, self.ind_bits)
        self.stored_sqn = sqns[-1]
        return eutran_vectors(K, OPC, AMF, sqns, PLMN)

    def air_with_resync(self, rand: bytes, auts: bytes, count: int) -> list[EutranVector]:
        """A forged AUTS leaves the stored SQN alone; vectors still come from it (TS 33.102 §6.3.5 d)."""
        try:
            self.stored_sqn = resync(K, OPC, rand, auts, self.stored_sqn, self.ind_bits)
        except AutsMacError:
            pass
        return self.air(count)


def present(usim: UsimModel, v: EutranVector) -> Accepted | SyncFailure:
    return usim.authenticate_eutran(v.rand, v.autn, PLMN)


def test_split_and_join_follow_seq_ind_layout() -> None:
    assert split_sqn(0b101_00011) == (0b101, 0b00011)
    assert join_sqn(5, 3) == 0b101_00011
    assert split_sqn(77, ind_bits=0) == (77, 0)
    with pytest.raises(ValueError):
        join_sqn(1, 32)
    with pytest.raises(ValueError):
        split_sqn(1 << 48)


def test_next_sqns_increment_seq_and_cycle_ind() -> None:
    assert next_sqns(0, 3) == [join_sqn(1, 1), join_sqn(2, 2), join_sqn(3, 3)]
    assert next_sqns(join_sqn(10, 30), 3) == [join_sqn(11, 31), join_sqn(12, 0), join_sqn(13, 1)]
    assert next_sqns(41, 2, ind_bits=0) == [42, 43]
    assert next_sqns(5, 0) == []
    with pytest.raises(ValueError):
        next_sqns(5, -1)


def test_next_sqns_refuse_to_wrap_seq() -> None:
    last_seq = (1 << 43) - 1
    assert next_sqns(join_sqn(last_seq - 1, 0), 1) == [join_sqn(last_seq, 1)]
    with pytest.raises(SqnExhaustedError):
        next_sqns(join_sqn(last_seq, 0), 1)


@given(
    stored=st.integers(min_value=0, max_value=(1 << 40) - 1),
    counts=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=20),
    ind_bits=st.integers(min_value=0, max_value=8),
)
def test_sqns_strictly_increase_overall_and_in_every_ind_slot(stored: int, counts: list[int], ind_bits: int) -> None:
    issued: list[int] = []
    current = stored
    for count in counts:
        batch = next_sqns(current, count, ind_bits)
        assert batch == next_sqns(current, count, ind_bits)  # pure and deterministic
        issued += batch
        current = batch[-1]
    assert issued == next_sqns(stored, sum(counts), ind_bits)  # batching does not matter
    assert all(a < b for a, b in pairwise([stored, *issued]))
    per_slot: dict[int, list[int]] = {}
    for sqn in issued:
        seq, ind = split_sqn(sqn, ind_bits)
        per_slot.setdefault(ind, []).append(seq)
    for seqs in per_slot.values():
        assert all(a < b for a, b in pairwise(seqs))


def test_vectors_from_several_airs_are_accepted_in_any_order_across_slots() -> None:
    hss, usim = HssSim(), UsimModel(K, OPC)
    first, second, third = hss.air(5), hss.air(5), hss.air(5)
    for v in third + first + second:  # the MME holding `first` was slow; the USIM still takes them
        assert isinstance(present(usim, v), Accepted)
    assert sorted(usim.accepted) == [v.sqn for v in first + second + third]


def test_a_replayed_vector_is_refused() -> None:
    hss, usim = HssSim(), UsimModel(K, OPC)
    (v,) = hss.air(1)
    assert isinstance(present(usim, v), Accepted)
    assert isinstance(present(usim, v), SyncFailure)


def test_genuine_auts_resynchronises_when_the_usim_is_ahead() -> None:
    """The card was used up to SEQ 1_000_000 elsewhere, in every slot; the HSS starts from 0."""
    usim = UsimModel(K, OPC)
    usim.seq_ms = [1_000_000 - 31 + slot for slot in range(32)]
    hss = HssSim()
    (v,) = hss.air(1)
    failure = present(usim, v)
    assert isinstance(failure, SyncFailure)
    assert recover_sqn_ms(K, OPC, v.rand, failure.auts) == join_sqn(1_000_000, 31)
    vectors = hss.air_with_resync(v.rand, failure.auts, 3)
    assert hss.stored_sqn == join_sqn(1_000_003, 2)
    assert all(isinstance(present(usim, w), Accepted) for w in vectors)


@pytest.mark.parametrize(
    "forge",
    [
        lambda auts: bytes(14),
        lambda auts: auts[:-1] + bytes([auts[-1] ^ 1]),
        lambda auts: bytes([auts[0] ^ 0x80]) + auts[1:],  # an attacker's chosen SQN_MS, old MAC-S
    ],
    ids=["zeros", "mac-bit-flipped", "sqn-bit-flipped"],
)
def test_forged_auts_is_refused_and_changes_nothing(forge: Callable[[bytes], bytes]) -> None:
    usim = UsimModel(K, OPC)
    usim.seq_ms[3] = 500
    hss = HssSim(stored_sqn=join_sqn(10, 2))
    (v,) = hss.air(1)
    failure = present(usim, v)
    assert isinstance(failure, SyncFailure)
    forged = forge(failure.auts)
    with pytest.raises(AutsMacError):
        resync(K, OPC, v.rand, forged, hss.stored_sqn)
    before = hss.stored_sqn
    hss.air_with_resync(v.rand, forged, 1)
    assert hss.stored_sqn == next_sqns(before, 1)[0]


def test_auts_for_another_rand_or_another_key_is_refused() -> None:
    usim = UsimModel(K, OPC)
    rand = bytes(range(16))
    auts = usim.auts(rand)
    with pytest.raises(AutsMacError):
        recover_sqn_ms(K, OPC, bytes(16), auts)
    with pytest.raises(AutsMacError):
        recover_sqn_ms(bytes(16), OPC, rand, auts)
    assert recover_sqn_ms(K, OPC, rand, auts) == usim.sqn_ms


def test_hss_ahead_within_delta_keeps_its_sqn() -> None:
    """An old vector trips the USIM's age limit L; the HSS is already ahead, so it must not go backwards."""
    usim, hss = UsimModel(K, OPC, age_limit=32), HssSim()
    stale = hss.air(1)
    fresh = hss.air(40)
    for v in fresh:
        assert isinstance(present(usim, v), Accepted)
    failure = present(usim, stale[0])
    assert isinstance(failure, SyncFailure)
    stored = hss.stored_sqn
    assert resync(K, OPC, stale[0].rand, failure.auts, stored) == stored
    (after,) = hss.air_with_resync(stale[0].rand, failure.auts, 1)
    assert isinstance(present(usim, after), Accepted)


def test_hss_beyond_delta_resets_to_the_usim() -> None:
    """SEQ_HE more than delta above SEQ_MS (say a re-provisioned SQN): the USIM refuses, the HSS comes back."""
    usim, hss = UsimModel(K, OPC), HssSim(stored_sqn=join_sqn(DEFAULT_DELTA + 50, 0))
    (v,) = hss.air(1)
    failure = present(usim, v)
    assert isinstance(failure, SyncFailure)
    (after,) = hss.air_with_resync(v.rand, failure.auts, 1)
    assert split_sqn(hss.stored_sqn)[0] == 1
    assert isinstance(present(usim, after), Accepted)


@given(
    usim_seq=st.integers(min_value=0, max_value=(1 << 42)),
    usim_slot=st.integers(min_value=0, max_value=31),
    hss_sqn=st.integers(min_value=0, max_value=(1 << 47)),
    rand=st.binary(min_size=16, max_size=16),
)
def test_after_any_resync_the_next_vector_is_accepted(usim_seq: int, usim_slot: int, hss_sqn: int, rand: bytes) -> None:
    usim = UsimModel(K, OPC)
    usim.seq_ms[usim_slot] = usim_seq
    auts = usim.auts(rand)
    new_stored = resync(K, OPC, rand, auts, hss_sqn)
    assert new_stored in (hss_sqn, usim.sqn_ms)
    hss = HssSim(stored_sqn=new_stored)
    assert all(isinstance(present(usim, v), Accepted) for v in hss.air(3))
