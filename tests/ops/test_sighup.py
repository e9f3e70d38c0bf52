"""SIGHUP (`kill -HUP`, what `systemctl reload`-style tooling and closing terminals send) to `sigcore run`:
the node logs what it reloads and keeps running; under ``--workers`` the supervisor passes it to every worker,
and SIGUSR1/SIGUSR2 (log level) too.
Before, a node without a DRA died of it (SIGHUP's default action): no DPR to its peers, and with
``--workers`` the supervisor died and left its workers running unsupervised."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sigcore_process import Sigcore, fixed_keys_config, wait_exit

from interop.ports import wait_tcp_listening

pytestmark = [pytest.mark.interop]
NOTHING = "SIGHUP: nothing to reload in this node"


def _node(tmp_path: Path) -> Sigcore:
    return Sigcore(tmp_path, fixed_keys_config(f"sqlite:///{tmp_path / 'hss.sqlite'}"))


def test_a_node_without_a_dra_says_so_and_keeps_serving(tmp_path: Path) -> None:
    node = _node(tmp_path)
    run = node.start()
    try:
        assert run.pid is not None
        os.kill(run.pid, signal.SIGHUP)
        run.wait_for(NOTHING, timeout=20)
        time.sleep(0.3)
        assert run.returncode is None, run.log_tail()
        wait_tcp_listening(node.diameter_port, timeout=5)
        os.kill(run.pid, signal.SIGTERM)
        assert wait_exit(run) == 0
    finally:
        node.stop()


@pytest.mark.slow
def test_the_workers_supervisor_passes_it_to_every_worker(tmp_path: Path) -> None:
    node = _node(tmp_path)
    run = node.start("--workers", "2", wait=False)
    try:
        for index in (0, 1):
            run.wait_for(rf"\[worker {index}\] sigcore \S+ \(\S+\) running", timeout=90)
        assert run.pid is not None
        os.kill(run.pid, signal.SIGHUP)
        for index in (0, 1):
            run.wait_for(rf"\[worker {index}\] .*{NOTHING}", timeout=20)
        # docs/operations.md's `kill -USR1 <pid>` / `-USR2`: the supervisor changed only its own level (it
        # logs next to nothing), the workers kept theirs
        for signum, level in ((signal.SIGUSR1, "DEBUG"), (signal.SIGUSR2, "INFO")):
            os.kill(run.pid, signum)
            for index in (0, 1):
                run.wait_for(rf"\[worker {index}\] log level now {level}", timeout=20)
        time.sleep(0.3)
        assert run.returncode is None, run.log_tail()
        os.kill(run.pid, signal.SIGTERM)
        assert wait_exit(run) == 0
    finally:
        node.stop()
