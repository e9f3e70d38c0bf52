"""`sigcore run --workers 2`: two processes on one Diameter port and one API port (SO_REUSEPORT).

* HSS-initiated requests reach the peer whichever worker holds its connection: two MMEs whose connections
  landed on different workers; the second one's ULR makes the worker it reached send a CLR to the first
  MME, whose connection the other worker holds (the relay);
* SQN safety: AIRs for one subscriber from MMEs on both workers at once get distinct SQNs;
* metrics summed over the workers (through Redis): /metrics, from whichever worker answers, counts every AIA;
* a clean Ctrl-C: SIGINT to the process group, both workers stop (DPR), no process left, status 0.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sigcore_process import Sigcore, fixed_keys_config, wait_exit, worker_of

from support.s6a import HOME_PLMN, OPC, K, air, mme, ulr
from support.usim_model import Accepted, UsimModel

pytestmark = [pytest.mark.interop, pytest.mark.slow]
IMSI = "001010000000001"
AIRS_PER_MME = 15


@pytest.fixture
def sigcore(tmp_path: Path, redis_server: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sigcore]:
    monkeypatch.delenv("SIGCORE_KEK", raising=False)
    redis_url = f"redis://127.0.0.1:{redis_server.port}/1"  # type: ignore[attr-defined]
    node = Sigcore(tmp_path, fixed_keys_config(f"sqlite:///{tmp_path / 'hss.sqlite'}",
                                               metrics={"redis": {"url": redis_url, "flush_interval": 0.2}}))
    try:
        yield node
    finally:
        node.stop()


def test_two_workers_relay_count_and_stop_cleanly(sigcore: Sigcore) -> None:
    added = sigcore.command("subscriber", "add", "--imsi", IMSI, "--ki", K.hex(), "--opc", OPC.hex(),
                            "--apn", "internet")
    assert added.returncode == 0, added.stderr
    run = sigcore.start("--workers", "2", wait=False)
    for index in (0, 1):
        run.wait_for(rf"\[worker {index}\] sigcore \S+ \(\S+\) running", timeout=90)
    pids = [int(p) for p in run.wait_for(r"started 2 workers: pids (\d+) (\d+)").groups()]
    with ExitStack() as stack:
        mmes, where = [], {}
        for n in range(1, 17):  # until both workers hold some MME's connection (the kernel hashes them)
            name = f"mme{n}.localdomain"
            peer = stack.enter_context(mme(name, sigcore.diameter_port))
            peer.wait_ready()
            deadline = time.monotonic() + 5
            while (worker := worker_of(run.log_text(), name)) is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert worker is not None, run.log_tail()
            mmes.append(peer)
            where[peer] = worker
            if len(set(where.values())) == 2 and n >= 4:
                break
        assert len(set(where.values())) == 2, where

        vectors: list[tuple[bytes, bytes]] = []

        def airs(peer: object) -> None:
            for _ in range(AIRS_PER_MME):
                vector = air(peer, imsi=IMSI).authentication_info.e_utran_vector[0]  # type: ignore[arg-type]
                vectors.append((vector.rand, vector.autn))

        threads = [threading.Thread(target=airs, args=(p,)) for p in mmes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        sqns = []
        for rand, autn in vectors:  # a fresh USIM accepts any valid vector: SQN read back, MAC checked
            accepted = UsimModel(K, OPC).authenticate_eutran(rand, autn, HOME_PLMN)
            assert isinstance(accepted, Accepted)
            sqns.append(accepted.sqn)
        assert len(vectors) == AIRS_PER_MME * len(mmes) and len(set(sqns)) == len(sqns)

        first = next(p for p in mmes if where[p] == 0)
        second = next(p for p in mmes if where[p] == 1)
        for old, new in ((first, second), (second, first)):  # the CLR crosses workers both ways
            assert ulr(old).result_code == 2001
            assert ulr(new, flags=0b10).result_code == 2001
            clr = old.next_request(timeout=10)
            assert clr.header.command_code == 317 and clr.user_name == IMSI

        expected = AIRS_PER_MME * len(mmes)
        deadline = time.monotonic() + 10
        while (counted := _aia_2001(sigcore.api_url)) != expected and time.monotonic() < deadline:
            time.sleep(0.2)
        assert counted == expected  # both workers' answers, summed

    os.killpg(run.pid or 0, signal.SIGINT)  # Ctrl-C in the terminal: the whole process group
    assert wait_exit(run, timeout=60) == 0
    log = run.log_text()
    assert "[worker 0] stopping" in log and "[worker 1] stopping" in log and "Traceback" not in log
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def _aia_2001(api_url: str) -> float:
    text = httpx.get(f"{api_url}/metrics", timeout=10).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    answers = families.get("sigcore_diameter_answers")
    if answers is None:
        return 0.0
    return sum(s.value for s in answers.samples
               if s.labels.get("command_code") == "318" and s.labels.get("result_code") == "2001")
