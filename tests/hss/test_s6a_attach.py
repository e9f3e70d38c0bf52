"""The acceptance run: a python-diameter MME attaches the demo subscriber to a real `sigcore run` process.

From a fresh directory: `sigcore demo` (KEK file, database, demo subscriber), `sigcore run`, then
CER/CEA, AIR/AIA (every vector checked by the independent USIM model), ULR/ULA, a second MME's ULR (the
first MME receives the CLR), PUR/PUA, DPR/DPA, all captured by tshark and judged by Wireshark's
dissector: no malformed packet, no Diameter warning.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from interop.ports import free_tcp_port, wait_tcp_listening
from interop.process import LoggedProcess
from interop.tshark import TsharkCapture, check_pcap, diameter_messages, port_filter
from sigcore.hss.s6a.cli import DEMO_IMSI, DEMO_KI, DEMO_MSISDN, DEMO_OPC
from sigcore.toolkit import tbcd
from support.s6a import HOME_PLMN, air, mme, pur, ulr
from support.usim_model import Accepted, UsimModel

pytestmark = [pytest.mark.interop, pytest.mark.slow]
SIGCORE = [sys.executable, "-m", "sigcore.cli"]


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[tuple[TsharkCapture, int]]:
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed (apt-get install tshark)")
    port = free_tcp_port()
    cap = TsharkCapture(tmp_path / "s6a.pcap", port_filter([port]))
    cap.start()
    try:
        yield cap, port
    finally:
        cap.stop()


@pytest.fixture
def sigcore_run(tmp_path: Path, capture: tuple[TsharkCapture, int]) -> Iterator[LoggedProcess]:
    _, port = capture
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    config = {
        "diameter": {"origin_host": "hss.localdomain", "origin_realm": "localdomain", "listen": [f"127.0.0.1:{port}"]},
        "database": {"url": "sqlite:///var/sigcore.sqlite", "key_file": "var/kek.hex"},
        "api": {"enabled": False},
        "metrics": {"enabled": False},
    }
    (workdir / "sigcore.yaml").write_text(yaml.safe_dump(config))
    for _ in range(2):  # idempotent
        demo = subprocess.run([*SIGCORE, "demo", "--config", "sigcore.yaml"], cwd=workdir, capture_output=True,
                              text=True, timeout=120, check=False)
        assert demo.returncode == 0, demo.stderr
        assert "demo subscriber" in demo.stdout
    assert (workdir / "var" / "kek.hex").exists()
    run = LoggedProcess([*SIGCORE, "run", "--config", "sigcore.yaml"], tmp_path / "run.log", cwd=workdir)
    run.start()
    try:
        wait_tcp_listening(port, timeout=30)
        yield run
    finally:
        run.stop()


def test_python_diameter_attaches_the_demo_subscriber(capture: tuple[TsharkCapture, int],
                                                      sigcore_run: LoggedProcess) -> None:
    cap, port = capture
    k, opc = bytes.fromhex(DEMO_KI), bytes.fromhex(DEMO_OPC)
    usim = UsimModel(k, opc)
    with mme("mme1.localdomain", port) as mme1:
        mme1.wait_ready()
        aia = air(mme1, imsi=DEMO_IMSI, vectors=2)
        assert aia.result_code == 2001
        for v in aia.authentication_info.e_utran_vector:
            outcome = usim.authenticate_eutran(v.rand, v.autn, HOME_PLMN)
            assert isinstance(outcome, Accepted) and outcome.res == v.xres and outcome.kasme == v.kasme
        ula = ulr(mme1, imsi=DEMO_IMSI)
        assert ula.result_code == 2001
        assert tbcd.decode(ula.subscription_data.msisdn) == DEMO_MSISDN
        assert [c.service_selection for c in ula.subscription_data.apn_configuration_profile.apn_configuration] == [
            "internet"]
        with mme("mme2.localdomain", port) as mme2:
            mme2.wait_ready()
            assert ulr(mme2, imsi=DEMO_IMSI, flags=0b10).result_code == 2001
            clr = mme1.next_request(timeout=10)
            assert clr.header.command_code == 317 and clr.user_name == DEMO_IMSI
            pua = pur(mme2, imsi=DEMO_IMSI)
            assert pua.result_code == 2001 and pua.pua_flags == 1
    assert sigcore_run.is_running()
    cap.stop()
    assert check_pcap(cap.pcap_path, [port]) == []
    labels = [p.label for p in diameter_messages(cap.pcap_path, [port])]
    for wanted in ("257R", "257A", "318R", "318A", "316R", "316A", "317R", "317A", "321R", "321A", "282R", "282A"):
        assert wanted in labels, f"{wanted} not on the wire: {labels}"
