"""The route table: which rule wins, priority groups, weights, and the config schema around it."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from sigcore.config import ConfigError, parse_config
from sigcore.diameter.constants import FLAG_PROXIABLE, FLAG_REQUEST
from sigcore.diameter.dictionary import DICTIONARY
from sigcore.dra.config import RouteConfig
from sigcore.dra.routes import RequestFacts, RouteTable, facts_of, facts_of_frame

S6A, AIR = 16777251, 318


def table(*rules: dict[str, object], rng: float | None = None) -> RouteTable:
    configs = [RouteConfig.model_validate(r) for r in rules]
    if rng is None:
        return RouteTable.from_config(configs)
    return RouteTable.from_config(configs, rng=lambda: rng)


def facts(**kw: object) -> RequestFacts:
    base: dict[str, object] = {"application_id": S6A, "command_code": AIR, "destination_realm": "epc.example"}
    base.update(kw)
    return RequestFacts(**base)  # type: ignore[arg-type]


def test_default_route_when_nothing_else_matches() -> None:
    t = table({"destination_realm": "other.example", "peers": ["a"]}, {"peers": ["dflt"]})
    assert t.candidates(facts()) == (["dflt"], t.routes[1])
    assert t.routes[1].is_default and t.routes[1].describe() == "*"


def test_no_rule_matches_gives_no_candidates() -> None:
    t = table({"destination_realm": "other.example", "peers": ["a"]})
    assert t.candidates(facts()) == ([], None)


def test_more_match_fields_win_over_fewer() -> None:
    t = table({"destination_realm": "epc.example", "peers": ["realm"]},
              {"destination_realm": "epc.example", "application_id": S6A, "peers": ["realm-app"]},
              {"peers": ["dflt"]})
    assert t.candidates(facts())[0] == ["realm-app"]
    assert t.candidates(facts(application_id=16777216))[0] == ["realm"]


def test_imsi_ranges_route_by_longest_prefix() -> None:
    t = table({"user_name_prefix": "00101", "peers": ["hss-a"]},
              {"user_name_prefix": "0010112", "peers": ["hss-b"]},
              {"destination_realm": "epc.example", "peers": ["realm"]})
    assert t.candidates(facts(user_name="001011234567890"))[0] == ["hss-b"]
    assert t.candidates(facts(user_name="001019999999999"))[0] == ["hss-a"]
    # a realm rule and a prefix rule have one match field each: the prefix is the more specific
    assert t.candidates(facts(user_name="999990000000000"))[0] == ["realm"]
    assert t.candidates(facts(user_name=None))[0] == ["realm"]


def test_prefix_and_realm_beats_longer_prefix_alone() -> None:
    t = table({"user_name_prefix": "0010112345", "peers": ["long"]},
              {"user_name_prefix": "001", "destination_realm": "epc.example", "peers": ["two-fields"]})
    assert t.candidates(facts(user_name="001011234567890"))[0] == ["two-fields"]


def test_regex_matches_from_the_start() -> None:
    t = table({"user_name_regex": r"00101[0-4]", "peers": ["low"]}, {"peers": ["dflt"]})
    assert t.candidates(facts(user_name="001013000000000"))[0] == ["low"]
    assert t.candidates(facts(user_name="001017000000000"))[0] == ["dflt"]
    assert t.candidates(facts(user_name="9001013000000000"))[0] == ["dflt"]


def test_hosts_and_realms_compare_without_case() -> None:
    t = table({"origin_host": "MME.Example", "destination_host": "HSS1.epc", "peers": ["Hss1"]})
    assert t.candidates(facts(origin_host="mme.example", destination_host="hss1.epc"))[0] == ["hss1"]


def test_command_and_origin_realm_fields() -> None:
    t = table({"command_code": 316, "origin_realm": "visited.example", "peers": ["ulr"]}, {"peers": ["dflt"]})
    assert t.candidates(facts(command_code=316, origin_realm="visited.example"))[0] == ["ulr"]
    assert t.candidates(facts(command_code=318, origin_realm="visited.example"))[0] == ["dflt"]


def test_priority_groups_are_active_then_standby() -> None:
    t = table({"destination_realm": "epc.example", "peers": ["standby"], "priority": 2},
              {"destination_realm": "epc.example", "peers": ["active1", "active2"], "priority": 1})
    peers, route = t.candidates(facts())
    assert sorted(peers[:2]) == ["active1", "active2"] and peers[2] == "standby"
    assert route is not None and route.priority == 1


def test_weights_share_load_in_proportion() -> None:
    t = table({"destination_realm": "epc.example", "peers": ["heavy"], "weight": 3},
              {"destination_realm": "epc.example", "peers": ["light"], "weight": 1})
    firsts = Counter(t.candidates(facts())[0][0] for _ in range(8000))
    assert 0.70 < firsts["heavy"] / 8000 < 0.80  # 3:1 -> 75 %
    assert all(len(t.candidates(facts())[0]) == 2 for _ in range(10))  # the other stays the failover


def test_weight_zero_is_used_only_after_the_others() -> None:
    t = table({"destination_realm": "epc.example", "peers": ["spare"], "weight": 0},
              {"destination_realm": "epc.example", "peers": ["main"], "weight": 1})
    assert {tuple(t.candidates(facts())[0]) for _ in range(50)} == {("main", "spare")}


def test_peers_of_one_rule_share_its_load_and_each_appears_once() -> None:
    t = table({"peers": ["a", "b", "c"]}, {"peers": ["c", "a"], "priority": 5})
    firsts = Counter(t.candidates(facts())[0][0] for _ in range(3000))
    assert set(firsts) == {"a", "b", "c"} and min(firsts.values()) > 800
    assert all(sorted(t.candidates(facts())[0]) == ["a", "b", "c"] for _ in range(20))


def test_many_imsi_ranges_stay_fast() -> None:
    rules = [{"user_name_prefix": f"00101{i:05d}", "peers": [f"hss{i % 7}"]} for i in range(5000)]
    t = table(*rules, {"peers": ["dflt"]}, rng=0.0)
    assert t.candidates(facts(user_name="001010042199999"))[0] == ["hss1"]  # range 00421, 421 % 7 == 1
    import time
    start = time.perf_counter()
    for i in itertools.islice(itertools.cycle(range(5000)), 20000):
        t.candidates(facts(user_name=f"00101{i:05d}12345"))
    per_lookup = (time.perf_counter() - start) / 20000
    assert per_lookup < 50e-6  # a scan of 5,000 rules would take milliseconds


def test_facts_of_reads_the_routing_avps() -> None:
    msg = DICTIONARY.message(AIR, S6A, FLAG_REQUEST | FLAG_PROXIABLE, [
        ("Session-Id", "mme;1"), ("Origin-Host", "MME.example"), ("Origin-Realm", "Visited.Example"),
        ("Destination-Realm", "EPC.example"), ("Destination-Host", "hss1.EPC.example"),
        ("User-Name", "001011234567890")])
    frame = msg.encode()
    msg = type(msg).decode(frame)
    expected = RequestFacts(S6A, AIR, "epc.example", "hss1.epc.example", "mme.example", "visited.example",
                            "001011234567890")
    assert facts_of(msg) == expected == facts_of_frame(frame)
    with pytest.raises(ValueError, match="does not fit"):
        facts_of_frame(frame[:-3])


def test_config_requires_route_peers_from_diameter_peers() -> None:
    base = {"diameter": {"peers": [{"name": "hss1"}]}}
    cfg = parse_config({**base, "dra": {"routes": [{"peers": ["HSS1"]}]}})
    assert cfg.dra is not None and cfg.dra.routes[0].name == "route0"
    with pytest.raises(ConfigError, match=r"dra\.routes\.0\.peers: 'hss2' is not in diameter\.peers"):
        parse_config({**base, "dra": {"routes": [{"peers": ["hss2"]}]}})


@pytest.mark.parametrize(("dra", "key"), [
    ({"routes": [{"peers": ["hss1"], "destination_relm": "x"}]}, "dra.routes.0.destination_relm: unknown key"),
    ({"routes": [{"peers": []}]}, "dra.routes.0.peers"),
    ({"routes": [{"peers": ["hss1"], "user_name_regex": "(("}]}, "dra.routes.0.user_name_regex"),
    ({"routes": [{"peers": ["hss1"], "priority": -1}]}, "dra.routes.0.priority"),
    ({"pyform": {"directory": "."}}, "dra.pyform.module"),
    ({"hooks": ["nocolon"]}, "dra.hooks"),
    ({"mode": "proxy-ish"}, "dra.mode"),
])
def test_config_errors_name_the_dotted_key(dra: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_config({"diameter": {"peers": [{"name": "hss1"}]}, "dra": dra})


def test_dra_section_is_optional_and_hss_can_be_disabled() -> None:
    assert parse_config({}).dra is None and parse_config({}).hss.enabled
    assert not parse_config({"hss": {"enabled": False}, "dra": {}}).hss.enabled


@pytest.mark.parametrize(("rules", "reads"), [
    ([{"peers": ["a"]}], "header"),
    ([{"application_id": S6A, "peers": ["a"]}, {"peers": ["b"]}], "header"),
    ([{"destination_realm": "x", "peers": ["a"]}], "destination"),
    ([{"destination_host": "x", "command_code": 318, "peers": ["a"]}], "destination"),
    ([{"destination_realm": "x", "peers": ["a"]}, {"user_name_prefix": "001", "peers": ["b"]}], "avps"),
    ([{"origin_host": "mme", "peers": ["a"]}], "avps"),
])
def test_table_says_which_facts_it_reads(rules: list[dict[str, object]], reads: str) -> None:
    assert table(*rules).reads == reads


def test_the_example_configuration_is_valid() -> None:
    from pathlib import Path

    from sigcore.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[2] / "etc" / "dra.yaml")
    assert cfg.dra is not None and not cfg.hss.enabled
    t = RouteTable.from_config(cfg.dra.routes)
    peers, route = t.candidates(facts(destination_realm="localdomain", user_name="001010012345678"))
    assert route is not None and route.name == "range-1" and peers == ["hss1.localdomain"]
    peers, route = t.candidates(facts(destination_realm="localdomain", user_name="001019912345678"))
    assert route is not None and route.name == "realm" and peers[-1] == "hss-standby.localdomain"
