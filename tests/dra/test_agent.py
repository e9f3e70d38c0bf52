"""The DRA's per-message decisions on wire bytes: route + transform + hooks + redirect, and its counters."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sigcore.config import ConfigError
from sigcore.diameter.answers import Identity
from sigcore.diameter.application import reject_answer
from sigcore.diameter.constants import FLAG_ERROR, FLAG_PROXIABLE, FLAG_REQUEST
from sigcore.diameter.dictionary import DICTIONARY
from sigcore.diameter.message import Message
from sigcore.dra.agent import PeerAddress, RoutingAgent
from sigcore.dra.config import DraConfig
from sigcore.dra.stats import DraStats
from sigcore.metrics.families import DRA_LOCAL_ANSWERS, DRA_SCRIPT_ERRORS
from sigcore.metrics.registry import Registry
from sigcore.store import create_key_file

S6A, AIR = 16777251, 318
ROUTES = [{"user_name_prefix": "00101", "peers": ["hss1"]}, {"user_name_prefix": "00102", "peers": ["hss2"]},
          {"peers": ["hss1", "hss2"], "name": "default"}]
PEERS = {"hss1": PeerAddress("127.0.0.1", 3901), "hss2": PeerAddress("127.0.0.1", 3902, "tls")}


def air(imsi: str) -> bytes:
    return DICTIONARY.message(AIR, S6A, FLAG_REQUEST | FLAG_PROXIABLE, [
        ("Session-Id", "mme;1"), ("Origin-Host", "mme.example"), ("Origin-Realm", "example"),
        ("Destination-Realm", "epc.example"), ("User-Name", imsi)], 7, 9).encode()


def agent(registry: Registry | None = None, **cfg: object) -> RoutingAgent:
    config = DraConfig.model_validate({"routes": ROUTES, **cfg})
    return RoutingAgent(config, Identity("dra.example", "example"), DICTIONARY, PEERS, DraStats(registry or Registry()))


@pytest.fixture
def scripts(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "reverse.py").write_text(
        "def transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):\n"
        "    return value[::-1] if AVP_Code == 1 else value\n")
    (tmp_path / "dra_agent_hooks.py").write_text(
        "def deny(message, peers):\n"
        "    if message.get('User-Name').startswith('99'):\n"
        "        message.answer(3002, 'test range')\n"
        "def boom(message, peers):\n"
        "    raise RuntimeError('x')\n")
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.modules.pop("dra_agent_hooks", None)


def test_plan_routes_by_imsi_range() -> None:
    a = agent()
    plan = a.plan(air("001011234567890"))
    assert plan.peers == ["hss1"] and plan.route == "route0" and plan.local is None
    assert a.plan(air("001021234567890")).peers == ["hss2"]
    assert sorted(a.plan(air("310150000000000")).peers) == ["hss1", "hss2"]
    assert len(agent(max_attempts=1).plan(air("310150000000000")).peers) == 1


def test_plan_applies_the_transform_before_routing_sees_the_frame(scripts: Path) -> None:
    frame = air("098765432110100")
    plan = agent(pyform={"directory": str(scripts), "module": "reverse"}).plan(frame)
    # routing used the received User-Name (it came from the MME); the frame going out carries the new one
    assert sorted(plan.peers) == ["hss1", "hss2"]
    assert Message.decode(plan.frame)["User-Name"] == "001011234567890"


def test_hook_answers_locally_and_errors_are_counted(scripts: Path) -> None:
    registry = Registry()
    a = agent(registry, hooks=["dra_agent_hooks:boom", "dra_agent_hooks:deny"])
    frame = air("991011234567890")
    plan = a.plan(frame)
    assert plan.peers == [] and plan.local is not None
    ans = DICTIONARY.decode_checked(reject_answer(Message.decode(frame), a.identity, plan.local).encode())
    assert ans["Result-Code"] == 3002 and ans.flags & FLAG_ERROR and ans["Error-Message"] == "test range"
    assert ans.hop_by_hop == 7 and ans.end_to_end == 9
    assert registry.counters[(DRA_SCRIPT_ERRORS, "dra_agent_hooks:boom")] == 1
    assert a.plan(air("001011234567890")).local is None


def test_redirect_mode_answers_3006_with_the_candidates() -> None:
    a = agent(mode="redirect")
    frame = air("001021234567890")
    plan = a.plan(frame)
    assert plan.local is not None and plan.peers == []
    ans = DICTIONARY.decode_checked(reject_answer(Message.decode(frame), a.identity, plan.local).encode())
    no_route = RoutingAgent(DraConfig.model_validate({"mode": "redirect", "routes": [
        {"destination_realm": "elsewhere.example", "peers": ["hss1"]}]}), a.identity, DICTIONARY, PEERS).plan(frame)
    assert no_route.local is not None and no_route.local.result_code == 3003 and no_route.peers == []
    assert ans["Result-Code"] == 3006 and DICTIONARY.get_values(ans.avps, "Redirect-Host") == [
        "aaas://hss2:3902;transport=tcp;protocol=diameter"]  # the Diameter identity, its listening port


def test_answers_go_through_the_transform(scripts: Path) -> None:
    a = agent(pyform={"directory": str(scripts), "module": "reverse"})
    ans = DICTIONARY.message(AIR, S6A, FLAG_PROXIABLE, [("Session-Id", "mme;1"), ("Result-Code", 2001),
                                                       ("Origin-Host", "hss1"), ("Origin-Realm", "epc.example"),
                                                       ("User-Name", "abc")], 7, 9).encode()
    out = a.answer_frame(ans)
    assert out is not None and Message.decode(out)["User-Name"] == "cba"
    assert agent().answer_frame(ans) is None


def test_local_answer_counter_family_exists() -> None:
    registry = Registry()
    DraStats(registry).local_answer("default", 3002)
    assert registry.counters == {(DRA_LOCAL_ANSWERS, "default", 3002): 1}


def test_route_alone_reads_only_what_the_table_needs() -> None:
    class Seen:
        destination_realm, destination_host = "other.example", None

    a = RoutingAgent(DraConfig.model_validate({"routes": [{"destination_realm": "other.example", "peers": ["hss2"]},
                                                         {"peers": ["hss1"]}]}),
                     Identity("dra.example", "example"), DICTIONARY, PEERS, DraStats(Registry()))
    frame = air("001011234567890")  # its own Destination-Realm is epc.example: the node's reading wins
    assert a.table.reads == "destination" and a.route(frame, Seen()).peers == ["hss2"]
    assert a.route(frame).peers == ["hss1"] and not a.rewrites


def test_install_attaches_the_agent_only_with_a_dra_section() -> None:
    from sigcore.applications import AppContext, Services
    from sigcore.config import parse_config
    from sigcore.diameter.aio import Node, NodeSettings
    from sigcore.dra.install import install

    cfg = parse_config({"diameter": {"peers": [{"name": "hss1"}]}, "dra": {"routes": [{"peers": ["hss1"]}]}})
    node = Node(NodeSettings.from_config(cfg))
    ctx = AppContext(cfg, node, Services())
    install(node, ctx)
    assert node.settings.relay and node.routing.next_hops
    assert len(ctx.services.reloaders) == 1 and not ctx.services.starters  # SIGHUP re-imports its modules
    plain_cfg = parse_config({})
    plain = Node(NodeSettings.from_config(plain_cfg))
    plain_services = Services()
    install(plain, AppContext(plain_cfg, plain, plain_services))
    assert not plain.settings.relay and not plain.routing.next_hops and not plain_services.reloaders


def test_a_header_only_table_with_one_peer_reuses_its_plan() -> None:
    one = RoutingAgent(DraConfig.model_validate({"routes": [{"peers": ["hss1"]}]}), Identity("d", "e"), DICTIONARY,
                       PEERS, DraStats(Registry()))
    first, second = one.route(air("001011234567890")), one.route(air("001021234567890"))
    assert first is second and first.peers == ["hss1"] and first.route == "route0"
    two = RoutingAgent(DraConfig.model_validate({"routes": [{"peers": ["hss1", "hss2"]}]}), Identity("d", "e"),
                       DICTIONARY, PEERS, DraStats(Registry()))
    plans = [two.route(air("001011234567890")) for _ in range(40)]
    assert len({id(p) for p in plans}) == 40 and {p.peers[0] for p in plans} == {"hss1", "hss2"}


def test_install_stops_the_start_with_a_message_when_a_script_cannot_load(tmp_path: Path) -> None:
    from sigcore.applications import AppContext, Services
    from sigcore.config import parse_config
    from sigcore.diameter.aio import Node, NodeSettings
    from sigcore.dra.install import install

    (tmp_path / "broken.py").write_text("def transform(:\n")
    for dra, key, word in (({"pyform": {"directory": str(tmp_path), "module": "broken"}}, "dra.pyform", "broken.py"),
                           ({"pyform": {"directory": str(tmp_path), "module": "missing"}}, "dra.pyform", "missing.py"),
                           ({"hooks": ["no_such_hook_module:f"]}, "dra.hooks", "no_such_hook_module")):
        cfg = parse_config({"dra": dra})
        # a ConfigError naming the key: `sigcore run` prints it as its one line and exits 2
        with pytest.raises(ConfigError) as stopped:
            node = Node(NodeSettings.from_config(cfg))
            install(node, AppContext(cfg, node, Services()))
        message = str(stopped.value)
        assert message.startswith(f"{key}: ") and word in message and "Traceback" not in message, message


def test_run_with_a_transform_that_cannot_load_exits_2_naming_the_key(tmp_path: Path) -> None:
    create_key_file(tmp_path / "kek.hex")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    (tmp_path / "dra.yaml").write_text(yaml.safe_dump({
        "diameter": {"listen": [f"127.0.0.1:{port}"]},
        "database": {"url": f"sqlite:///{tmp_path}/dra.sqlite", "key_file": str(tmp_path / "kek.hex")},
        "api": {"enabled": False}, "metrics": {"enabled": False}, "hss": {"enabled": False},
        "dra": {"pyform": {"directory": str(tmp_path / "scripts"), "module": "imsi_rewrite"}}}))
    done = subprocess.run([sys.executable, "-m", "sigcore.cli", "run", "--config", "dra.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    # docs/configuration.md: one line naming the key, exit 2 (it was "sigcore: <path>: ...", exit 1)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1] == f"invalid configuration: dra.pyform: {tmp_path}/scripts/imsi_rewrite.py: " \
                                           "No such file or directory"
