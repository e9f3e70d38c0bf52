"""`sigcore key rotate` while `sigcore run` answers a paced AIR load: every AIR answered 2001, every
subscriber still authenticates afterwards, the old key kept, the running HSS never restarted."""

from __future__ import annotations

import threading
import time

import pytest
from sigcore_process import Sigcore

from support.s6a import HOME_PLMN, OPC, K, air, mme
from support.usim_model import Accepted, UsimModel

pytestmark = [pytest.mark.interop, pytest.mark.slow]
SUBSCRIBERS = [f"0010100000{n:05d}" for n in range(1, 201)]


def test_rotation_under_paced_air_load(sigcore: Sigcore) -> None:
    batch = sigcore.workdir / "sims.csv"
    batch.write_text("imsi,ki,opc\n" + "".join(f"{imsi},{K.hex()},{OPC.hex()}\n" for imsi in SUBSCRIBERS))
    imported = sigcore.command("subscriber", "import", str(batch))
    assert imported.returncode == 0, imported.stderr
    key_file = sigcore.workdir / "sigcore.key"
    old_key = key_file.read_text()
    run = sigcore.start()
    results: list[int] = []
    stop = threading.Event()
    with mme("mme1.localdomain", sigcore.diameter_port) as mme1:
        mme1.wait_ready()

        def load() -> None:  # ~50 AIRs a second, round the subscribers, until told to stop
            n = 0
            while not stop.is_set():
                results.append(air(mme1, imsi=SUBSCRIBERS[n % len(SUBSCRIBERS)]).result_code)
                n += 1
                time.sleep(0.02)

        loader = threading.Thread(target=load)
        loader.start()
        try:
            time.sleep(1.0)
            during = len(results)
            rotated = sigcore.command("key", "rotate")
            time.sleep(1.0)
        finally:
            stop.set()
            loader.join(30)
        assert rotated.returncode == 0, rotated.stderr
        assert f"re-sealed the secrets of {len(SUBSCRIBERS)} subscribers" in rotated.stdout
        assert during > 10 and len(results) > during + 10, "the load ran before and after the rotation"
        assert set(results) == {2001}, [r for r in results if r != 2001][:5]
        for imsi in SUBSCRIBERS:  # every subscriber, under the new key, through the same running HSS
            aia = air(mme1, imsi=imsi)
            assert aia.result_code == 2001, imsi
            vector = aia.authentication_info.e_utran_vector[0]
            assert isinstance(UsimModel(K, OPC).authenticate_eutran(vector.rand, vector.autn, HOME_PLMN), Accepted)
    assert run.is_running()
    assert key_file.read_text() != old_key
    kept = list(sigcore.workdir.glob("sigcore.key.*.old"))
    assert len(kept) == 1 and kept[0].read_text() == old_key
