"""Black box: operating a running DRA — `sigcore dra routes` against its /metrics, SIGHUP re-importing the
transform, `dra.hooks` answering and steering."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from interop.ports import free_tcp_port

from .nodes import Nodes, air, mme, origin_host, result_code

pytestmark = [pytest.mark.interop, pytest.mark.slow]
IMSI_A, IMSI_B = "001010000000001", "001020000000001"


def test_dra_routes_shows_the_table_peer_states_and_counters(nodes: Nodes) -> None:
    hss1 = nodes.hss("hss1", [IMSI_A])
    metrics_port = free_tcp_port()
    nodes.dra("dra", {"hss1": hss1, "hss2": free_tcp_port()},
              {"routes": [{"name": "range-a", "user_name_prefix": "00101", "peers": ["hss1.localdomain"]},
                          {"name": "range-b", "user_name_prefix": "00102", "peers": ["hss2.localdomain"]}]},
              metrics={"enabled": True}, api={"enabled": False, "listen": f"127.0.0.1:{metrics_port}"},
              wait_peers=["hss1.localdomain"])
    with mme(nodes.ports["dra"]) as client:
        client.wait_ready()
        for _ in range(3):
            assert result_code(air(client, IMSI_A)) == 2001
        assert result_code(air(client, IMSI_B)) == 3002  # hss2 is down: its route's peers are all down
    shown = subprocess.run([sys.executable, "-m", "sigcore.cli", "dra", "routes", "-c",
                            str(nodes.workdir / "dra.yaml")], capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert any(ln.split()[:1] == ["range-a"] and "user_name_prefix=00101" in ln for ln in lines)
    hss1_line = next(ln for ln in lines if ln.strip().startswith("hss1.localdomain"))
    hss2_line = next(ln for ln in lines if ln.strip().startswith("hss2.localdomain"))
    assert "open" in hss1_line and "relayed 3" in hss1_line and "2xxx 3" in hss1_line, shown.stdout
    assert "closed" in hss2_line or "wait" in hss2_line, shown.stdout


def test_sighup_reimports_the_transform(nodes: Nodes, tmp_path: Path) -> None:
    directory = tmp_path / "scripts"
    directory.mkdir()
    script = directory / "rewrite.py"
    script.write_text("def transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):\n"
                      "    return value\n")
    hss1 = nodes.hss("hss1", [IMSI_A])
    dra = nodes.dra("dra", {"hss1": hss1}, {"routes": [{"peers": ["hss1.localdomain"]}], "pyform": {
        "directory": str(directory), "module": "rewrite", "reload_check": 0}})
    with mme(dra) as client:
        client.wait_ready()
        assert result_code(air(client, IMSI_B)) != 2001  # the HSS does not know IMSI_B
        script.write_text("def transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):\n"
                          f"    return {IMSI_A!r} if AVP_Code == 1 else value\n")
        assert result_code(air(client, IMSI_B)) != 2001  # reload_check 0: only SIGHUP reloads
        pid = nodes.procs["dra"].pid
        assert pid is not None
        os.kill(pid, signal.SIGHUP)
        nodes.procs["dra"].wait_for(r"reloaded .*rewrite\.py", 10)
        assert result_code(air(client, IMSI_B)) == 2001  # rewritten to IMSI_A on the way


HOOKS = '''
def steer(message, peers):
    user = message.get("User-Name", "")
    if user.startswith("00109"):
        message.answer(3002, "range closed")
        return None
    return ["hss2.localdomain"] if user.endswith("2") else peers
'''


def test_hooks_answer_locally_and_steer(nodes: Nodes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dra_site_hooks.py").write_text(HOOKS)
    # beside the PYTHONPATH given, which may name the checkout under test (else the venv's install runs)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    both = ["001010000000001", "001010000000002"]
    hss1, hss2 = nodes.hss("hss1", both), nodes.hss("hss2", both)
    dra = nodes.dra("dra", {"hss1": hss1, "hss2": hss2}, {"routes": [{"peers": ["hss1.localdomain"]}],
                                                         "hooks": ["dra_site_hooks:steer"]})
    with mme(dra) as client:
        client.wait_ready()
        first = air(client, "001010000000001")
        assert result_code(first) == 2001 and origin_host(first) == "hss1.localdomain"
        steered = air(client, "001010000000002")
        assert result_code(steered) == 2001 and origin_host(steered) == "hss2.localdomain"
        closed = air(client, "001090000000001")
        assert result_code(closed) == 3002 and origin_host(closed) == "dra.localdomain"


def test_a_node_with_hss_and_dra_answers_its_realm_and_relays_the_other(nodes: Nodes) -> None:
    """hss.enabled stays on: S6a for our realm is answered here, another realm's is relayed to its HSS."""
    other = nodes.hss("hss2", [IMSI_B], diameter={"origin_realm": "other.example"})
    combo = nodes.hss("combo", [IMSI_A], diameter={
        "peers": [{"name": "hss2.localdomain", "port": other, "mode": "connect"}]},
        dra={"routes": [{"destination_realm": "other.example", "peers": ["hss2.localdomain"]}]})
    nodes.wait_open("combo", "hss2.localdomain")
    with mme(combo, remote="combo.localdomain") as here:
        here.wait_ready()
        local = air(here, IMSI_A)
        assert result_code(local) == 2001 and origin_host(local) == "combo.localdomain"
    with mme(combo, name="mme2.localdomain", remote="combo.localdomain", remote_realm="other.example") as away:
        away.wait_ready()
        relayed = air(away, IMSI_B)
        assert result_code(relayed) == 2001 and origin_host(relayed) == "hss2.localdomain"
