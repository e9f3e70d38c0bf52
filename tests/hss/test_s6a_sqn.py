"""SQN safety through the S6a AIR path: 8 processes x 500 AIRs for one IMSI on SQLite, PostgreSQL, MariaDB.

Each process runs the HSS's own vector service (`BatchWorker` + `AuthService`, batches of concurrent AIRs)
against the shared database. The SQN of every vector is recovered from its AUTN with the independent
Milenage of tests/support/usim_model.py (SQN = AUTN[0:6] ⊕ AK), not taken from sigcore. Then: no SQN and no RAND is
used twice, each process saw each IND slot strictly increase, the SQNs are exactly the Annex C chain from
the provisioned value, and a USIM fed all of them in SQN order accepts every one.

A crash mid-AIR: a process killed inside the transaction (after its UPDATE, before the COMMIT) printed no
vector and left the stored SQN unchanged; and an AIR whose commit fails is answered without vectors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigcore.hss.auc import next_sqns
from sigcore.store import Store
from support.s6a import IMSI, OPC, HssThread, K, air, mme, provision
from support.usim_model import Accepted, UsimModel, milenage_out, xor

WORKERS, AIRS = 8, 500
IND_BITS = 5
WORKER = Path(__file__).with_name("s6a_sqn_worker.py")
BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.interop),
    pytest.param("mariadb", marks=pytest.mark.interop),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hss.sqlite'}"
    return str(request.getfixturevalue("postgres_url" if request.param == "postgresql" else "mariadb_url"))


@pytest.fixture
def kek() -> bytes:
    return os.urandom(32)


@pytest.fixture
def store(db_url: str, kek: bytes) -> Iterator[Store]:
    s = provision(db_url, kek)
    yield s
    s.close()


def _spawn(db_url: str, kek: bytes, airs: int, go: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SIGCORE_KEK": kek.hex()}
    return subprocess.Popen([sys.executable, str(WORKER), db_url, IMSI, str(airs), str(go), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _sqn_of(rand: bytes, autn: bytes) -> int:
    ak = milenage_out(K, OPC, rand, 2)[:6]
    return int.from_bytes(xor(autn[:6], ak), "big")


@pytest.mark.slow
def test_eight_processes_never_share_an_sqn(store: Store, db_url: str, kek: bytes, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [_spawn(db_url, kek, AIRS, go) for _ in range(WORKERS)]
    go.touch()
    per_process: list[list[tuple[bytes, bytes]]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
        per_process.append([(bytes.fromhex(r), bytes.fromhex(a)) for r, a in map(json.loads, out.splitlines())])

    expected_count = WORKERS * sum(1 + i % 3 for i in range(AIRS))
    vectors = [v for seen in per_process for v in seen]
    assert len(vectors) == expected_count
    assert len({rand for rand, _ in vectors}) == expected_count, "a RAND was used twice"
    sqns = [_sqn_of(rand, autn) for rand, autn in vectors]
    assert len(set(sqns)) == expected_count, "an SQN was used twice"
    assert sorted(sqns) == next_sqns(0, expected_count, IND_BITS)  # the unbroken Annex C chain
    assert store.get_auth_material(IMSI).sqn == max(sqns)
    for seen in per_process:
        last_seq_in_slot: dict[int, int] = {}
        for rand, autn in seen:
            seq, ind = divmod(_sqn_of(rand, autn), 1 << IND_BITS)
            assert seq > last_seq_in_slot.get(ind, -1), "an IND slot went backwards within one process"
            last_seq_in_slot[ind] = seq

    usim = UsimModel(K, OPC, IND_BITS)
    for _, rand, autn in sorted(zip(sqns, *zip(*vectors, strict=True), strict=True))[-200:]:
        assert isinstance(usim.authenticate_eutran(rand, autn, bytes.fromhex("00f110")), Accepted)


def test_process_killed_before_commit_hands_out_nothing(store: Store, db_url: str, kek: bytes,
                                                        tmp_path: Path) -> None:
    before = store.get_auth_material(IMSI).sqn
    go = tmp_path / "go"
    go.touch()
    proc = _spawn(db_url, kek, 5, go, "crash")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert out == ""
    assert store.get_auth_material(IMSI).sqn == before


def test_failed_commit_answers_without_vectors(tmp_path: Path) -> None:
    store = provision(f"sqlite:///{tmp_path / 'hss.sqlite'}", os.urandom(32))
    usim = UsimModel(K, OPC)

    def fail(_kind: object) -> None:
        raise OSError("disk gone")

    with HssThread(store) as hss, mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        hss.hss.worker.fail_before_commit = fail
        refused = air(mme1, vectors=3)
        assert refused.result_code == 5012 and refused.authentication_info is None
        assert store.get_auth_material(IMSI).sqn == 0
        hss.hss.worker.fail_before_commit = None
        v = air(mme1).authentication_info.e_utran_vector[0]
        outcome = usim.authenticate(v.rand, v.autn)
        assert isinstance(outcome, Accepted) and outcome.sqn == store.get_auth_material(IMSI).sqn
    store.close()
