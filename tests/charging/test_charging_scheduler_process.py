"""The real-time check of the durable scheduler: a `sigcore run` process with an *every_minute plan runs its
slot at a real minute boundary, is stopped right after and started again within the same minute: that slot
does not run twice. Bounded by one minute boundary. What the restarted process runs next (the next slot,
slots missed while down, two processes on one database) is tests/charging/test_charging_scheduler.py's, on
a clock it sets: waiting here for a second real boundary cost CI a minute for what that test shows."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from interop.ports import free_tcp_port
from sigcore.store import migrate

pytestmark = pytest.mark.slow
ACCOUNT = {"Account": "ticker"}


class Running:
    def __init__(self, config: Path, port: int) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.proc = subprocess.Popen([sys.executable, "-m", "sigcore.cli", "run", "--config", str(config)], env=env)
        self.url = f"http://127.0.0.1:{port}/jsonrpc"
        deadline = time.monotonic() + 30
        while True:
            try:
                self.call("CoreSv1.Ping", {})
                return
            except OSError:
                assert self.proc.poll() is None and time.monotonic() < deadline, "sigcore run did not start"
                time.sleep(0.2)

    def call(self, method: str, params: Any) -> Any:
        body = json.dumps({"method": method, "params": [params], "id": 1}).encode()
        with urllib.request.urlopen(urllib.request.Request(self.url, body, method="POST"), timeout=5) as reply:
            answer = json.loads(reply.read())
        assert answer["error"] is None, answer
        return answer["result"]

    def runs(self) -> int:
        acc = self.call("APIerSv2.GetAccount", ACCOUNT)
        return int(sum(b["Value"] for b in acc["BalanceMap"].get("*monetary", [])))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def wait_runs(server: Running, wanted: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while server.runs() < wanted:
        assert time.monotonic() < deadline, f"{wanted} runs expected, have {server.runs()}"
        time.sleep(0.2)


def test_every_minute_across_a_process_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGCORE_KEK", "ab" * 32)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(url)
    port = free_tcp_port()
    config = tmp_path / "sigcore.yaml"
    config.write_text(f"database:\n  url: {url}\ndiameter:\n  listen: ['127.0.0.1:{free_tcp_port()}']\n"
                      f"api:\n  enabled: false\nmetrics:\n  enabled: false\n"
                      f"charging:\n  listen: 127.0.0.1:{port}\n  scheduler_interval: 0.2\n")
    server = Running(config, port)
    try:
        server.call("APIerSv1.SetActions", {"ActionsId": "TICK", "Actions": [
            {"Identifier": "*topup", "BalanceType": "*monetary", "BalanceId": "ticks", "Units": 1, "Weight": 10}]})
        server.call("APIerSv1.SetActionPlan", {"Id": "EVERY_MINUTE", "ActionPlan": [
            {"ActionsId": "TICK", "Time": "*every_minute", "Weight": 10}]})
        server.call("APIerSv2.SetAccount", {**ACCOUNT, "ActionPlanIDs": ["EVERY_MINUTE"]})
        wait_runs(server, 1, 65)  # the first minute boundary after attaching
        fired_minute = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        server.stop()
        server = Running(config, port)  # the same minute, unless the boundary was within the last seconds
        time.sleep(1.0)  # several scheduler passes
        same_minute = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) == fired_minute
        assert server.runs() == (1 if same_minute else 2)
    finally:
        server.stop()
