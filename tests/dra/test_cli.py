"""`sigcore dra routes`: the table from the config, peer states and counters from the node's /metrics."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sigcore.cli import app
from sigcore.diameter.peer import State
from sigcore.dra.stats import DraStats
from sigcore.metrics.families import PEER_STATE, PEER_STATE_CODES
from sigcore.metrics.prometheus import render
from sigcore.metrics.registry import Registry
from sigcore.metrics.snapshot import local_snapshot


@pytest.fixture
def metrics_page() -> Iterator[str]:
    registry = Registry()
    stats = DraStats(registry)
    for _ in range(5):
        stats.relayed("imsi", "hss1")
        stats.answered("imsi", "hss1", 2001, 0.001)
    stats.failover("dflt", "hss2")
    stats.timeout("dflt", "hss2")
    stats.answered("dflt", "hss1", 3002, 0.002)
    registry.set((PEER_STATE, "hss1"), PEER_STATE_CODES[State.I_OPEN])
    page = render(local_snapshot(registry)).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()


def config(tmp_path: Path) -> str:
    path = tmp_path / "dra.yaml"
    path.write_text(yaml.safe_dump({
        "diameter": {"origin_host": "dra.localdomain", "peers": [{"name": "hss1", "port": 3901},
                                                                 {"name": "hss2", "port": 3902}]},
        "hss": {"enabled": False},
        "dra": {"routes": [{"name": "dflt", "peers": ["hss2", "hss1"], "priority": 2},
                           {"name": "imsi", "user_name_prefix": "00101", "peers": ["hss1"]}]}}))
    return str(path)


def test_routes_and_peer_states(tmp_path: Path, metrics_page: str) -> None:
    result = CliRunner().invoke(app, ["dra", "routes", "-c", config(tmp_path), "--metrics-url", metrics_page])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[2].split() == ["imsi", "1", "1", "hss1", "user_name_prefix=00101"]  # most specific first
    assert lines[3].split() == ["dflt", "2", "1", "hss2,hss1", "*"]
    hss1 = next(ln for ln in lines if ln.strip().startswith("hss1 "))
    hss2 = next(ln for ln in lines if ln.strip().startswith("hss2 "))
    assert "open (initiator)" in hss1 and "2xxx 5" in hss1 and "3xxx 1" in hss1 and "relayed 5" in hss1
    assert "closed" in hss2 and "failed over 1" in hss2 and "timed out 1" in hss2


def test_routes_offline_and_without_a_dra_section(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dra", "routes", "-c", config(tmp_path), "--offline"])
    assert result.exit_code == 0 and "unknown" in result.output
    empty = tmp_path / "empty.yaml"
    empty.write_text("{}\n")
    result = CliRunner().invoke(app, ["dra", "routes", "-c", str(empty), "--offline"])
    assert result.exit_code == 0 and "no 'dra' section" in result.output


def test_routes_with_the_node_down_says_so_in_words(tmp_path: Path) -> None:
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}/metrics"
    result = CliRunner().invoke(app, ["dra", "routes", "-c", config(tmp_path), "--metrics-url", url])
    assert result.exit_code == 0, result.output
    assert f"(node not reachable at {url}: connection refused; peer states unknown)" in result.output
    assert "Errno" not in result.output


@pytest.mark.parametrize("url", ["\x01é%s", "ftp://127.0.0.1/metrics", "127.0.0.1:8080/metrics", "localhost:8080/m",
                                 ""])  # "" was taken as "the default URL"
def test_routes_refuses_a_metrics_url_that_is_not_http_before_printing(tmp_path: Path, url: str) -> None:
    result = CliRunner().invoke(app, ["dra", "routes", "-c", config(tmp_path), "--metrics-url", url])
    assert result.exit_code == 2
    assert result.output == f"error: --metrics-url: expected an http:// or https:// URL, got {url!r}\n"


@pytest.mark.parametrize(("url", "problem"), [
    # each was "(node not reachable at URL: connection refused / name or service not known / ...)", exit 0
    ("http://127.0.0.1:99999/metrics", "the port is not a number from 1 to 65535"),
    ("http://127.0.0.1:0/metrics", "the port is not a number from 1 to 65535"),
    ("http://127.0.0.1:-1/metrics", "the port is not a number from 1 to 65535"),
    ("http://127.0.0.1:port/metrics", "the port is not a number from 1 to 65535"),
    ("http://[::1]:x/m", "the port is not a number from 1 to 65535"),
    ("http:///metrics", "no host"),
    ("http://:8080/metrics", "no host"),
    ("https://user@/metrics", "no host"),
    ("http://[::1/m", "not a URL"),
    ("http://127.0.0.1:8080/metrics\nx", "spaces or control characters"),
    ("http://node one:8080/metrics", "spaces or control characters"),
])
def test_routes_names_an_unusable_http_url_before_printing(tmp_path: Path, url: str, problem: str) -> None:
    result = CliRunner().invoke(app, ["dra", "routes", "-c", config(tmp_path), "--metrics-url", url])
    assert (result.exit_code, result.output) == (2, f"error: --metrics-url: {problem}, got {url!r}\n")
