"""`sigcore account list/show/map`, `sigcore cdr export --csv`, the ``charging`` config section in
`sigcore run` (JSON-RPC on its port, loopback only unless told), bearer tokens, and *http_post failures."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from charging_engine import Clock, Engine
from typer.testing import CliRunner

from interop.ports import free_tcp_port
from sigcore.charging.executor import Post
from sigcore.charging.posts import Poster, PostFailed
from sigcore.charging.service import build_charging
from sigcore.cli import app
from sigcore.config import ChargingConfig, ConfigError, load_config, parse_config
from sigcore.service import installers, serve
from sigcore.store import Store, migrate
from sigcore.store.tokens import TokenRepository

KEK = "ab" * 32


def _config(tmp_path: Path, extra: str = "") -> tuple[Path, str]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    config = tmp_path / "sigcore.yaml"
    config.write_text(f"database:\n  url: {url}\n{extra}")
    return config, url


def test_account_and_cdr_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGCORE_KEK", KEK)
    config, url = _config(tmp_path)
    migrate(url)
    with Store(url, bytes.fromhex(KEK)) as store:
        charging = build_charging(store, ChargingConfig(listen="127.0.0.1:0"))
        for account, value in (("alice", 12.5), ("bob", 3)):
            answer = charging.dispatcher.handle_sync({"method": "APIerSv1.AddBalance", "id": 1, "params": [
                {"Account": account, "BalanceType": "*monetary", "Value": value, "Cdrlog": True,
                 "Balance": {"ID": "main"}}]})
            assert answer["error"] is None
        charging.dispatcher.close()
    runner = CliRunner()
    listed = runner.invoke(app, ["account", "list", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == ["cgrates.org:alice  *monetary=12.5", "cgrates.org:bob  *monetary=3"]
    assert runner.invoke(app, ["account", "list", "--tenant", "other.org", "--config", str(config)]).stdout == ""
    unnamed = runner.invoke(app, ["account", "list", "--tenant", "", "--config", str(config)])  # listed them all
    assert (unnamed.exit_code, unnamed.output) == (2, "error: --tenant: an empty name\n")
    shown = runner.invoke(app, ["account", "show", "alice", "--json", "--config", str(config)])
    assert json.loads(shown.output)["BalanceMap"]["*monetary"][0]["Value"] == 12.5
    assert runner.invoke(app, ["account", "show", "nobody", "--config", str(config)]).exit_code == 1
    mapped = runner.invoke(app, ["account", "map", "alice", "--imsi", "001010000000001", "--config", str(config)])
    assert mapped.exit_code == 0 and "imsi 001010000000001 -> cgrates.org:alice" in mapped.output
    exported = runner.invoke(app, ["cdr", "export", "--csv", "--config", str(config)])
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert [(r["Account"], r["Cost"], r["Source"], r["RunID"]) for r in rows] == [
        ("alice", "12.5", "*cdrlog", "*topup"), ("bob", "3", "*cdrlog", "*topup")]
    assert runner.invoke(app, ["cdr", "export", "--config", str(config)]).exit_code == 2
    written = runner.invoke(app, ["cdr", "export", "--csv", "-o", str(tmp_path / "cdrs.csv"), "--config", str(config)])
    assert written.exit_code == 0 and len((tmp_path / "cdrs.csv").read_text().splitlines()) == 3, written.output
    for where in (tmp_path / "missing" / "cdrs.csv", tmp_path):  # was a FileNotFoundError/IsADirectoryError traceback
        refused = runner.invoke(app, ["cdr", "export", "--csv", "-o", str(where), "--config", str(config)])
        assert refused.exit_code == 2 and refused.output.startswith(f"error: --output {where}: "), refused.output


@pytest.mark.parametrize(("args", "said"), [
    (["alice", "--msisdn", "+15551230001"], "--msisdn: expected 1-15 decimal digits"),  # never matched a CCR
    (["alice", "--imsi", "00101x"], "--imsi: expected 6-15 decimal digits"),
    (["alice", "--imsi", ""], "--imsi: expected 6-15 decimal digits"),  # mapped nothing, exit 0
    (["", "--imsi", "001010000000001"], "ACCOUNT: an empty name"),
    (["alice", "--tenant", "", "--imsi", "001010000000001"], "--tenant: an empty name"),
    # stored, and `account list` then printed the account on two lines
    (["ali\nce", "--imsi", "001010000000001"],
     "ACCOUNT: printable characters without leading or trailing spaces, got 'ali\\nce'"),
    (["alice", "--tenant", "cgrates\torg", "--imsi", "001010000000001"],
     "--tenant: printable characters without leading or trailing spaces, got 'cgrates\\torg'"),
    ([" alice", "--imsi", "001010000000001"],  # another account than 'alice', nothing said
     "ACCOUNT: printable characters without leading or trailing spaces, got ' alice'"),
])
def test_account_map_refuses_what_no_ccr_can_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   args: list[str], said: str) -> None:
    monkeypatch.setenv("SIGCORE_KEK", KEK)
    config, _ = _config(tmp_path)
    result = CliRunner().invoke(app, ["account", "map", *args, "--config", str(config)])
    assert result.exit_code == 2 and result.output.startswith(f"error: {said}"), result.output
    assert not (tmp_path / "db.sqlite").exists()  # refused before the store is opened


@pytest.mark.parametrize("args", [["-o", ""], ["--account", ""], ["--source", " "]])
def test_cdr_export_refuses_an_empty_output_or_filter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      args: list[str]) -> None:
    """-o '' wrote to stdout as if -o were not given; an empty filter exported the header alone."""
    monkeypatch.setenv("SIGCORE_KEK", KEK)
    config, _ = _config(tmp_path)
    result = CliRunner().invoke(app, ["cdr", "export", "--csv", *args, "--config", str(config)])
    assert (result.exit_code, result.output) == (2, f"error: {args[0].replace('-o', '--output')}: an empty value\n")
    assert not (tmp_path / "db.sqlite").exists()


def test_sigcore_run_serves_json_rpc_when_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGCORE_KEK", KEK)
    port = free_tcp_port()
    config, _url = _config(tmp_path, f"diameter:\n  listen: ['127.0.0.1:{free_tcp_port()}']\napi:\n  enabled: false\n"
                                     f"metrics:\n  enabled: false\n"
                                     f"charging:\n  listen: 127.0.0.1:{port}\n")
    cfg = load_config(config)

    async def run() -> dict[str, object]:
        ready = asyncio.Event()
        task = asyncio.create_task(serve(cfg, installers(), ready))
        await asyncio.wait_for(ready.wait(), 30)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/jsonrpc", method="POST", data=json.dumps(
            {"method": "CoreSv1.Status", "params": [{}], "id": 3}).encode())
        reply = await asyncio.to_thread(lambda: json.loads(urllib.request.urlopen(request, timeout=5).read()))
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        return reply  # type: ignore[no-any-return]

    reply = asyncio.run(run())
    assert reply["id"] == 3 and reply["error"] is None


def test_no_charging_section_means_no_engine() -> None:
    assert load_config(None).charging is None


@pytest.mark.parametrize(("charging", "said"), [
    ("{listen: '0.0.0.0:2080'}", "charging: 0.0.0.0:2080 is not a loopback address; set charging.auth (bearer "
                                 "tokens) or charging.allow_remote to expose JSON-RPC"),
    ("{listen_tcp: '10.0.0.1:2012', allow_remote: false}", "charging: 10.0.0.1:2012 is not a loopback address"),
    ("{auth: true, listen_tcp: '127.0.0.1:2012'}", "charging: listen_tcp cannot be used with auth: raw TCP "
                                                   "JSON-RPC carries no bearer token"),
])
def test_remote_listener_needs_auth_or_allow_remote(tmp_path: Path, charging: str, said: str) -> None:
    """`sigcore config check` says so (it said "ok" and only `sigcore run` refused), and so does `run`."""
    config = tmp_path / "sigcore.yaml"
    config.write_text(f"database: {{url: 'sqlite:///{tmp_path / 'x.sqlite'}'}}\ncharging: {charging}\n")
    for command, status in ((["config", "check", str(config)], 1), (["run", "--config", str(config)], 2)):
        done = subprocess.run([sys.executable, "-m", "sigcore.cli", *command], capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == status and said in done.stderr and "Traceback" not in done.stderr, done.stderr
    with pytest.raises(ConfigError, match="not a loopback address"):
        parse_config({"charging": {"listen": "0.0.0.0:2080"}})
    assert parse_config({"charging": {"listen": "0.0.0.0:2080", "allow_remote": True}}).charging is not None


def test_bearer_tokens_when_auth_is_on(tmp_path: Path, clock: Clock) -> None:
    url = f"sqlite:///{tmp_path / 'auth.sqlite'}"
    migrate(url)
    engine = Engine(url, ChargingConfig(listen="127.0.0.1:0", auth=True), clock)
    try:
        tokens = TokenRepository(engine.store)
        reader, writer = tokens.create("read").secret, tokens.create("provision").secret
        set_account = {"method": "APIerSv1.SetAccount", "params": [{"Account": "a"}], "id": 1}
        status, answer = engine.post(set_account)
        assert status == 401 and "bearer token" in answer["error"]
        # a read-only token is valid, its role too low: as the REST API, 403 naming the role (it was 401 "a valid
        # bearer token is required")
        assert engine.post(set_account, {"Authorization": f"Bearer {reader}"}) == \
            (403, {"error": "this needs a token with role provision (yours: read)"})
        status, answer = engine.post(set_account, {"Authorization": "Bearer sgc_not-a-token"})
        assert status == 401 and "bearer token" in answer["error"]
        status, answer = engine.post(set_account, {"Authorization": f"Bearer {writer}"})
        assert (status, answer["result"]) == (200, "OK")
        get = {"method": "APIerSv2.GetAccount", "params": [{"Account": "a"}], "id": 2}
        assert engine.post(get, {"Authorization": f"Bearer {reader}"})[1]["result"]["ID"] == "cgrates.org:a"
    finally:
        engine.close()


def test_http_post_failure_fails_the_set_and_async_never_blocks(engine: Engine,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    dead = f"http://127.0.0.1:{free_tcp_port()}/down"
    engine.charging.engine.poster.backoff = 0.05
    engine.ok("APIerSv1.SetActions", {"ActionsId": "SYNC", "Actions": [
        {"Identifier": "*topup", "BalanceType": "*monetary", "Units": 5, "Weight": 20},
        {"Identifier": "*http_post", "ExtraParameters": dead, "Weight": 10}]})
    engine.ok("APIerSv1.SetActions", {"ActionsId": "ASYNC", "Actions": [
        {"Identifier": "*topup", "BalanceType": "*monetary", "Units": 5, "Weight": 20},
        {"Identifier": "*http_post_async", "ExtraParameters": dead, "Weight": 10}]})
    engine.ok("APIerSv1.SetAccount", {"Account": "poster"})
    assert engine.call("APIerSv1.ExecuteAction", {"Account": "poster", "ActionsId": "SYNC"})["error"] == \
        "PARTIALLY_EXECUTED"
    assert engine.ok("APIerSv2.GetAccount", {"Account": "poster"})["BalanceMap"] == {}  # nothing kept
    poster = engine.charging.engine.poster
    poster.backoff = 1.0  # retries of the async post take 3 s: the call must not wait for them
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="sigcore.charging.posts"):
        assert engine.ok("APIerSv1.ExecuteAction", {"Account": "poster", "ActionsId": "ASYNC"}) == "OK"
        assert time.monotonic() - started < 1.5
        assert engine.ok("APIerSv2.GetAccount", {"Account": "poster"})["BalanceMap"]["*monetary"][0]["Value"] == 5
        poster._pool.shutdown(wait=True)  # the async post's retries end, and its failure is said once
    said = [r.getMessage() for r in caplog.records if r.name == "sigcore.charging.posts"]
    failed = f"HTTP POST to {dead} failed after 3 attempts: <urlopen error [Errno 111] Connection refused>"
    assert said == [failed, failed]  # the *http_post's (which also failed its set) and the async one's


@pytest.mark.parametrize("url", ["not a url", "http://127.0.0.1:port/x", "/a/path"])
def test_an_async_post_to_an_unusable_url_is_logged_not_lost(url: str, caplog: pytest.LogCaptureFixture) -> None:
    poster = Poster(attempts=3, backoff=0.01)
    try:
        with caplog.at_level(logging.WARNING, logger="sigcore.charging.posts"):
            assert poster.submit(Post(url, b"{}", False)).result(timeout=10) is None  # nothing raised into a Future
        said = [r.getMessage() for r in caplog.records]
        assert len(said) == 1 and said[0].startswith(f"HTTP POST to {url!r} failed: not a usable URL ("), said
        with pytest.raises(PostFailed, match="not a usable URL"):
            poster.post(Post(url, b"{}", True))
    finally:
        poster.close()
