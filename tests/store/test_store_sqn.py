"""SQN reservation: never the same SQN twice, across 8 processes, on every backend; nothing unstored leaks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqn_worker import next_sqns

from sigcore.store import InvalidValue, NotFound, Store

IMSI = "001010123456789"
KI = "000102030405060708090a0b0c0d0e0f"
PROCESSES = 8
RESERVATIONS = 500
WORKER = Path(__file__).with_name("sqn_worker.py")
SRC = Path(__file__).resolve().parents[2] / "src"


def _provision(store: Store, sqn: int = 0) -> None:
    store.add_subscriber(IMSI, ki=KI, opc=KI, sqn=sqn)


def test_reserve_moves_the_stored_sqn_to_the_last_value(store: Store) -> None:
    _provision(store, sqn=64)
    values = store.reserve_sqns(IMSI, 3, lambda sqn: next_sqns(sqn, 3))
    assert values == next_sqns(64, 3)
    assert store.get_auth_material(IMSI).sqn == values[-1]
    assert store.reserve_sqns(IMSI, 1, lambda sqn: next_sqns(sqn, 1))[0] > values[-1]


def test_a_failing_advance_stores_nothing(store: Store) -> None:
    _provision(store, sqn=100)

    def broken(_sqn: int) -> list[int]:
        raise RuntimeError("AUC crashed mid-AIR")

    with pytest.raises(RuntimeError):
        store.reserve_sqns(IMSI, 1, broken)
    with pytest.raises(InvalidValue):
        store.reserve_sqns(IMSI, 2, lambda sqn: [sqn + 1, sqn + 1])  # not strictly increasing
    with pytest.raises(InvalidValue):
        store.reserve_sqns(IMSI, 1, lambda sqn: [sqn])  # would hand out the stored SQN again
    with pytest.raises(InvalidValue):
        store.reserve_sqns(IMSI, 1, lambda sqn: [1 << 48])  # beyond 48 bits
    assert store.get_auth_material(IMSI).sqn == 100


def test_set_sqn_and_unknown_imsi(store: Store) -> None:
    _provision(store)
    store.set_sqn(IMSI, 12345)
    assert store.get_auth_material(IMSI).sqn == 12345
    with pytest.raises(InvalidValue):
        store.set_sqn(IMSI, -1)
    with pytest.raises(NotFound):
        store.reserve_sqns("001019999999999", 1, lambda sqn: [sqn + 1])
    with pytest.raises(NotFound):
        store.set_sqn("001019999999999", 1)


@pytest.mark.slow
def test_concurrent_processes_never_share_an_sqn(store: Store, db_url: str, tmp_path: Path) -> None:
    _provision(store)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), db_url, IMSI, str(RESERVATIONS), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for _ in range(PROCESSES)
    ]
    go.touch()
    outputs = [w.communicate(timeout=240) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err

    per_process = [[json.loads(line) for line in out.splitlines()] for out, _ in outputs]
    everything = [sqn for batches in per_process for batch in batches for sqn in batch]
    expected = PROCESSES * sum(1 + i % 3 for i in range(RESERVATIONS))
    assert len(everything) == expected
    assert len(set(everything)) == expected, "an SQN was handed out twice"
    for batches in per_process:
        flat = [sqn for batch in batches for sqn in batch]
        assert flat == sorted(flat) and len(set(flat)) == len(flat)
    assert store.get_auth_material(IMSI).sqn == max(everything)
    # Every reservation continued exactly from the previous one: the union is one unbroken chain.
    assert sorted(everything) == next_sqns(0, expected)
