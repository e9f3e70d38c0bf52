"""No double spending: 8 processes x 50 concurrent Gy sessions on one account, on SQLite, PostgreSQL and MariaDB.
The units used (granted, then reported) add up to exactly the balance, never more; no hold survives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from sigcore.charging.engine import ChargingEngine
from sigcore.charging.repo import ChargingStore
from sigcore.store import Store

pytestmark = pytest.mark.slow
PROCESSES, SESSIONS = 8, 50
WORKER = Path(__file__).with_name("double_spend_worker.py")


def test_no_double_spending(charging_url: str) -> None:
    balance = Decimal(1_000_000)
    key = os.urandom(32)  # one key-encryption key for every process: the store refuses another (keycheck)
    store = Store(charging_url, key)
    engine = ChargingEngine(ChargingStore(store))
    api_set = {"Tenant": "cgrates.org", "Account": "shared"}
    from sigcore.charging.api import ChargingApi

    api = ChargingApi(engine)
    api.call("APIerSv1.SetAccount", api_set)
    api.call("APIerSv1.SetBalance", {**api_set, "BalanceType": "*data", "Value": int(balance),
                                     "Balance": {"ID": "pool"}})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    workers = [subprocess.Popen([sys.executable, str(WORKER), charging_url, str(i), str(SESSIONS), key.hex()],
                                stdout=subprocess.PIPE, text=True, env=env) for i in range(PROCESSES)]
    reports = []
    for worker in workers:
        out, _ = worker.communicate(timeout=240)
        assert worker.returncode == 0
        reports.append(json.loads(out))
    assert sum(r["sessions"] for r in reports) == PROCESSES * SESSIONS
    used = sum(Decimal(r["used"]) for r in reports)
    acc = engine.store.get_account("cgrates.org", "shared")
    assert acc is not None
    left = acc.total("*data", engine.now)
    # every unit used was granted from the balance: used == what the balance lost, and never more than it held
    assert used == balance - left
    assert used <= balance and left >= 0
    assert acc.reservations == {}
    cdrs = engine.store.get_cdrs(sources=["*diameter_gy"])
    assert len(cdrs) == PROCESSES * SESSIONS
    assert sum(Decimal(str(c["Usage"])) for c in cdrs) == used
    engine.poster.close()
    store.close()
