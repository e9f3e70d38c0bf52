"""Configuration: defaults, the fixed key names, and errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sigcore.cli import app
from sigcore.config import ConfigError, load_config, parse_config
from sigcore.diameter.aio import NodeSettings


def test_defaults() -> None:
    cfg = parse_config({})
    assert cfg.diameter.origin_host == "hss.localdomain"
    assert cfg.diameter.origin_realm == "localdomain"
    assert cfg.diameter.listen == ["127.0.0.1:3868"]
    assert cfg.database.url.startswith("sqlite")
    assert cfg.api.listen == "127.0.0.1:8080"
    assert cfg.metrics.snmp.listen == "127.0.0.1:1161"
    assert cfg.diameter.allow == ["127.0.0.0/8", "::1/128"]


def test_fixed_keys_are_read() -> None:
    cfg = parse_config({
        "diameter": {"origin_host": "hss1.epc", "origin_realm": "epc", "listen": ["[::1]:3870", "127.0.0.2:3871"]},
        "database": {"url": "postgresql://u@127.0.0.1/db"},
        "api": {"listen": "127.0.0.1:9000"},
        "metrics": {"snmp": {"listen": "127.0.0.1:1700"}},
    })
    settings = NodeSettings.from_config(cfg)
    assert settings.listen == [("::1", 3870), ("127.0.0.2", 3871)]
    assert settings.identity.origin_host == "hss1.epc"
    assert cfg.database.url == "postgresql://u@127.0.0.1/db"
    assert cfg.metrics.snmp.listen == "127.0.0.1:1700"


@pytest.mark.parametrize(("data", "named"), [
    ({"diameter": {"listne": []}}, "diameter.listne: unknown key"),
    ({"diameter": {"timers": {"tw": 0}}}, "diameter.timers.tw"),
    ({"diameter": {"listen": ["nohostport:0"]}}, "diameter.listen"),
    ({"diameter": {"allow": ["not-a-network"]}}, "diameter.allow"),
    ({"api": {"listen": "127.0.0.1:99999"}}, "api.listen"),
    ({"diameter": {"peers": [{"name": "mme", "mode": "sometimes"}]}}, "diameter.peers.0.mode"),
    ({"diameter": {"peers": [{"name": "hss", "address": "bad host!"}]}}, "diameter.peers.0.address"),
    ({"diameter": {"peers": [{"name": "hss", "port": 70000}]}}, "diameter.peers.0.port"),
    ({"diameter": {"peers": [{"name": "hss", "address": "10.0.0.1,10.0.0.2"}]}},
     "diameter.peers.0: several addresses ('10.0.0.1,10.0.0.2') need transport: sctp"),
    ({"diameter": {"peers": [{"name": "hss", "address": "10.0.0.1,bad host!", "transport": "sctp"}]}},
     "diameter.peers.0.address: 'bad host!' is neither"),
    ({"diameter": {"peers": [{"name": "not an identity"}]}}, "diameter.peers.0.name"),
    # out of an Unsigned32, each CER/CEA failed to encode (a traceback per connection, every peer refused)
    ({"diameter": {"vendor_id": -1}}, "diameter.vendor_id: Input should be greater than or equal to 0"),
    ({"diameter": {"firmware_revision": 2**32}}, "diameter.firmware_revision: Input should be less than or equal"),
    ({"diameter": {"host_ip_addresses": ["hss.example.net"]}},
     "diameter.host_ip_addresses: expected IP addresses, got 'hss.example.net'"),
    ({"metrics": {"redis": {"flush_interval": 0}}}, "metrics.redis.flush_interval"),  # a flush loop that spins
    ({"charging": {"gy": {"final_unit_action": "REDIRECT"}}},
     "charging.gy: final_unit_action REDIRECT needs redirect_address"),  # was TERMINATE without a word
    ({"hss": {"mme_peer_timeout": 0}}, "hss.mme_peer_timeout"),
    # an empty tenant means the default one in every request; the empty tenant marks ended Gy sessions
    ({"charging": {"default_tenant": ""}}, "charging.default_tenant"),
    # accepted, then unusable: every *http_post to it failed, the PGW was redirected to no URL, a GMLC
    # with a typo was refused without a word, the key never found under an empty variable name
    ({"charging": {"http_post_url": "foo"}}, "charging.http_post_url: expected a URL (http or https)"),
    ({"charging": {"http_post_url": "http://127.0.0.1:99999/x"}}, "charging.http_post_url"),
    ({"charging": {"gy": {"redirect_address": "not a url"}}}, "charging.gy.redirect_address: expected a URL"),
    ({"charging": {"gy": {"service_specific_balance": ""}}}, "charging.gy.service_specific_balance"),
    ({"hss": {"slh": {"allowed_gmlcs": ["bad host!"]}}}, "hss.slh.allowed_gmlcs: expected a DiameterIdentity"),
    ({"database": {"key_env": ""}}, "database.key_env: expected an environment variable name"),
    ({"diameter": {"product_name": ""}}, "diameter.product_name"),
    # said "ok" to `config check`, refused only by `run`
    ({"applications": ["my-app"]}, "applications: 'my-app' is not 'package.module' or 'package.module:function'"),
    ({"applications": [":install"]}, "applications: ':install' is not 'package.module'"),
    ({"database": {"pool_size": 0}}, "database.pool_size"),
    ({"diameter": {"sctp": {"heartbeat_ms": -5}}}, "diameter.sctp.heartbeat_ms"),
    ({"diameter": {"sctp": {"rto_min_ms": 3000, "rto_max_ms": 1000}}},
     "diameter.sctp: rto_min_ms (3000) is above rto_max_ms (1000)"),
    ({"diameter": {"peers": [{"name": "hss1.localdomain"}, {"name": "mme"}, {"name": "HSS1.localdomain"}]}},
     "diameter.peers: 'HSS1.localdomain' is configured twice (entries 0 and 2)"),
    ({"diameter": {"peers": [{"name": "hss", "address": "127.0.0.1:3869", "port": 3868}]}},
     "diameter.peers.0: address '127.0.0.1:3869' names port 3869 but port is 3868: give it once"),
])
def test_errors_name_the_bad_key(data: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert named in str(err.value)


@pytest.mark.parametrize(("address", "expected"), [
    ("127.0.0.1:39871", ("127.0.0.1", 39871)),
    ("[::1]:39871", ("::1", 39871)),
    ("hss1.example.net:3869", ("hss1.example.net", 3869)),
    ("::1", ("::1", 3868)),
    ("hss1.example.net", ("hss1.example.net", 3868)),
    ("10.0.0.1, 10.0.0.2", ("10.0.0.1, 10.0.0.2", 3868)),  # a multi-homed SCTP peer (docs/transports.md)
])
def test_a_peer_address_may_carry_its_port(address: str, expected: tuple[str, int]) -> None:
    """Written ``host:port`` like every other endpoint of the file, a peer's address was dialled as a host
    name ('127.0.0.1:39871', port 3868), failing each Tc with "Name or service not known"."""
    cfg = parse_config({"diameter": {"peers": [{"name": "hss1.localdomain", "address": address,
                                                "mode": "connect", "transport": "sctp" if "," in address else "tcp"}]}})
    peer = NodeSettings.from_config(cfg).peers[0]
    assert (peer.address, peer.port) == expected


def test_env_variable_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("diameter:\n  origin_host: from-env.localdomain\n")
    monkeypatch.setenv("SIGCORE_CONFIG", str(path))
    assert load_config().diameter.origin_host == "from-env.localdomain"


def test_config_check_command(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("diameter:\n  origin_host: a.b\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("database:\n  ulr: x\n")
    runner = CliRunner()
    ok = runner.invoke(app, ["config", "check", str(good)])
    assert ok.exit_code == 0 and "a.b" in ok.output
    ko = runner.invoke(app, ["config", "check", str(bad)])
    assert ko.exit_code == 1 and "database.ulr: unknown key" in ko.output
    missing = runner.invoke(app, ["config", "check", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 1 and "cannot read" in missing.output
    dialling_only = tmp_path / "dialling.yaml"
    dialling_only.write_text("diameter:\n  listen: []\n")
    ok = runner.invoke(app, ["config", "check", str(dialling_only)])  # said "diameter on " and nothing
    assert ok.output == "ok: hss.localdomain (localdomain), diameter on no address (it only dials its connect peers)\n"


def test_transport_keys_build_listeners(tmp_path: Path) -> None:
    """`transport: both` adds an SCTP listener next to TCP; tls.listen adds a TLS listener."""
    from support.certs import TestCA  # a throw-away CA

    files = TestCA(tmp_path).issue("hss.localdomain")
    cert, key, ca = files.cert, files.key, files.ca
    cfg = parse_config({"diameter": {
        "transport": "both", "bind": ["127.0.0.1", "127.0.0.2"],
        "sctp": {"streams": 4},
        "tls": {"cert": str(cert), "key": str(key), "ca": str(ca), "listen": ["127.0.0.1:5868"], "inband": False},
    }})
    settings = NodeSettings.from_config(cfg)
    kinds = sorted(type(x).__name__ for x in settings.listeners)
    assert kinds == ["SctpListener", "TlsListener"]
    assert settings.listen == [("127.0.0.1", 3868)]
    assert settings.dialer is not None


def test_yaml_nested_too_deeply_is_a_config_error(tmp_path: Path) -> None:
    """PyYAML recurses per level: a file nested 100,000 deep was a RecursionError traceback."""
    path = tmp_path / "deep.yaml"
    path.write_text("diameter: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError, match="not valid YAML: nested too deeply"):
        load_config(str(path))


def test_a_config_file_that_is_not_text_is_a_config_error(tmp_path: Path) -> None:
    """It was a UnicodeDecodeError traceback from `sigcore config check` and every command."""
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"diameter:\n  origin_host: h\xbd\n")
    with pytest.raises(ConfigError, match=r"binary\.yaml: not UTF-8 text"):
        load_config(str(path))


def test_workers_get_the_time_a_graceful_stop_may_take_before_they_are_killed() -> None:
    """A node's stop may last the request timeout, then the DPA timeout: a supervisor killing its workers at
    a fixed 30 s cut that short under a longer request timeout, losing what the stop waited for."""
    from sigcore.workers.supervisor import STOP_MARGIN, STOP_TIMEOUT, stop_timeout

    assert stop_timeout(parse_config({})) == STOP_TIMEOUT  # the defaults: 10 s + 5 s, well inside
    slow = parse_config({"diameter": {"timers": {"request_timeout": 40, "dpa_timeout": 5}}})
    assert stop_timeout(slow) == 40 + 5 + STOP_MARGIN


def test_an_empty_config_path_is_refused_not_taken_for_the_defaults(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIGCORE_CONFIG", raising=False)
    # `--config ""` (a shell variable left unset) used the defaults: a new database in the working directory
    result = CliRunner().invoke(app, ["subscriber", "list", "--config", ""])
    assert result.exit_code == 2 and result.output.startswith("error: --config: an empty path"), result.output
    assert not list(tmp_path.iterdir())


def test_urls_gmlcs_and_names_in_their_forms_are_taken() -> None:
    cfg = parse_config({"charging": {"http_post_url": "https://hooks.example.net:8443/topup",
                                     "gy": {"final_unit_action": "REDIRECT",
                                            "redirect_address": "http://topup.example.net/?msisdn"}},
                        "hss": {"slh": {"allowed_gmlcs": ["*", "gmlc.example.net", "example.net"]}},
                        "database": {"key_env": "MY_KEK_1"}})
    assert cfg.charging is not None and cfg.charging.http_post_url == "https://hooks.example.net:8443/topup"
    assert cfg.hss.slh.allowed_gmlcs == ["*", "gmlc.example.net", "example.net"]
