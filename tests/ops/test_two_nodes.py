"""Two `sigcore run` nodes (hss1, hss2) on one PostgreSQL serve the same subscribers. An MME connected to
both (python-diameter, one connection to each, attaches shared between them) keeps attaching while hss1 is
killed (SIGKILL) mid-load: a request to hss1 that gets no answer is sent again to hss2. Then:

* every attach got exactly one AIA and one ULA, 2001 (answered, or failed over once);
* no SQN was reused: one USIM model per subscriber accepts every vector (a reused or older SQN fails its
  freshness check) and the (IMSI, SQN) pairs are distinct;
* no registration was lost: every subscriber's serving MME in the database is the MME.

The failover gap (the longest wait of a failed-over attach, and the longest pause between two answers)
is printed (`pytest -s`) and asserted to be within the MME's request timeout plus a margin.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sigcore_process import REALM, Sigcore, fixed_keys_config

from interop.pydiameter_peer import APP_S6A, PyDiameterPeer
from sigcore.config import DatabaseConfig
from sigcore.store import Store
from support.s6a import HOME_PLMN, OPC, K, air, experimental, ulr
from support.usim_model import Accepted, UsimModel

pytestmark = [pytest.mark.interop, pytest.mark.slow]
SUBSCRIBERS = [f"0010100000{n:05d}" for n in range(1, 101)]
MME = "mme1.localdomain"
REQUEST_TIMEOUT = 1.0  # the MME's answer timeout before it fails a request over to the other HSS
ATTACHES_PER_SECOND = 40
LOAD_SECONDS = 6.0


@dataclass
class Outcome:
    imsi: str
    sent: float
    done: float = 0.0
    failed_over: bool = False
    results: list[int] = field(default_factory=list)


@pytest.fixture
def nodes(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Sigcore]]:
    monkeypatch.delenv("SIGCORE_KEK", raising=False)
    key_file = tmp_path / "shared.key"  # the same key on both nodes (copied to each host in real life)
    pair = [Sigcore(tmp_path / name, fixed_keys_config(str(postgres_url), database={"key_file": str(key_file)},
                                                       diameter={"origin_host": f"{name}.localdomain"}),
                    name=name) for name in ("hss1", "hss2")]
    assert pair[0].command("key", "create").returncode == 0
    try:
        yield pair
    finally:
        for node in pair:
            node.stop()


def _mme_to(node: Sigcore) -> PyDiameterPeer:
    return PyDiameterPeer(MME, REALM, APP_S6A, remote_host=node.config["diameter"]["origin_host"],
                          connect_port=node.diameter_port)


def test_an_mme_keeps_attaching_when_one_of_two_nodes_is_killed(nodes: list[Sigcore], postgres_url: str) -> None:
    hss1, hss2 = nodes
    batch = hss1.workdir / "sims.csv"
    batch.write_text("imsi,ki,opc\n" + "".join(f"{imsi},{K.hex()},{OPC.hex()}\n" for imsi in SUBSCRIBERS))
    imported = hss1.command("subscriber", "import", str(batch), "--apn", "internet")
    assert imported.returncode == 0, imported.stderr
    runs = [hss1.start(), hss2.start()]
    usims = {imsi: UsimModel(K, OPC) for imsi in SUBSCRIBERS}
    outcomes: list[Outcome] = []
    sqns: list[tuple[str, int]] = []
    with _mme_to(hss1) as to1, _mme_to(hss2) as to2:
        to1.wait_ready()
        to2.wait_ready()
        peers, down = [to1, to2], [False, False]

        def attach(n: int) -> Outcome:
            imsi = SUBSCRIBERS[n % len(SUBSCRIBERS)]
            outcome = Outcome(imsi, time.monotonic())
            preferred = n % 2 if not down[n % 2] else 1 - n % 2
            for step in (lambda p: air(p, imsi=imsi), lambda p: ulr(p, imsi=imsi)):
                for choice in (preferred, 1 - preferred):
                    if down[choice]:
                        continue
                    try:
                        answer = step(peers[choice])
                    except Exception:  # no answer in time, or the connection is gone: fail over
                        down[choice] = True
                        outcome.failed_over = True
                        continue
                    outcome.results.append(answer.result_code or experimental(answer))
                    if answer.header.command_code == 318 and answer.result_code == 2001:
                        vector = answer.authentication_info.e_utran_vector[0]
                        accepted = usims[imsi].authenticate_eutran(vector.rand, vector.autn, HOME_PLMN)
                        assert isinstance(accepted, Accepted), (imsi, accepted)  # a reused SQN is refused here
                        sqns.append((imsi, accepted.sqn))
                    preferred = choice
                    break
            outcome.done = time.monotonic()
            return outcome

        for peer in peers:  # python-diameter's per-request timeout
            peer.request = _with_timeout(peer.request, REQUEST_TIMEOUT)  # type: ignore[method-assign]
        total = int(ATTACHES_PER_SECOND * LOAD_SECONDS)
        started = time.monotonic()
        killer = threading.Timer(LOAD_SECONDS / 3, lambda: os.killpg(runs[0].pid or 0, signal.SIGKILL))
        killer.start()
        for n in range(total):
            time.sleep(max(0.0, started + n / ATTACHES_PER_SECOND - time.monotonic()))
            outcomes.append(attach(n))
        killed_at = started + LOAD_SECONDS / 3
        killer.join()

    assert runs[1].is_running() and not runs[0].is_running()
    assert all(o.results == [2001, 2001] for o in outcomes), [o for o in outcomes if o.results != [2001, 2001]][:3]
    assert len(sqns) == len(set(sqns)) == total
    failed_over = [o for o in outcomes if o.failed_over]
    assert failed_over, "the kill happened under load"
    longest_attach = max(o.done - o.sent for o in failed_over)
    answers = sorted(o.done for o in outcomes)
    longest_pause = max(b - a for a, b in itertools.pairwise(answers) if b > killed_at - 1)
    print(f"\ntwo nodes, one PostgreSQL: {total} attaches at {ATTACHES_PER_SECOND}/s, hss1 killed at "
          f"{LOAD_SECONDS / 3:.1f} s; {len(failed_over)} failed over; failover gap: longest failed-over attach "
          f"{longest_attach * 1000:.0f} ms, longest pause between answers {longest_pause * 1000:.0f} ms "
          f"(MME request timeout {REQUEST_TIMEOUT * 1000:.0f} ms)")
    assert longest_attach < REQUEST_TIMEOUT + 2.0
    with Store.from_config(DatabaseConfig(url=str(postgres_url))) as store:
        for imsi in SUBSCRIBERS:  # every subscriber attached at least once; the registration is stored
            mme = store.get_serving(imsi).mme
            assert mme is not None and mme.host == MME, imsi


def _with_timeout(request, timeout: float):  # type: ignore[no-untyped-def]
    def send(message, timeout_: float = timeout):  # type: ignore[no-untyped-def]
        return request(message, timeout=timeout_)

    return send
