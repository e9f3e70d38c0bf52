"""`sigcore dra routes`: the configured route table, and each peer's state and counters as the running
node's /metrics reports them."""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict

import typer

from sigcore.cli_groups import ConfigOption, fail
from sigcore.config import Config, ConfigError, load_config, split_host_port
from sigcore.dra.routes import RouteTable

dra_app = typer.Typer(help="Diameter Routing Agent.", no_args_is_help=True)
_SAMPLE = re.compile(r'^(sigcore_[a-z_]+)\{([^}]*)\} ([0-9.eE+-]+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
STATE_NAMES = {1: "closed", 2: "wait-conn-ack", 3: "wait-cea", 4: "wait-conn-ack-elect", 5: "wait-returns",
               6: "open (responder)", 7: "open (initiator)", 8: "closing"}


def fetch_metrics(url: str, timeout: float = 2.0) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The samples of a Prometheus text page by metric name; raises OSError if unreachable."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        text = resp.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m:
            out[m.group(1)].append((dict(_LABEL.findall(m.group(2))), float(m.group(3))))
    return out


def routes_text(cfg: Config) -> list[str]:
    if cfg.dra is None:
        return ["no 'dra' section in this configuration: the node runs no routing agent"]
    table = RouteTable.from_config(cfg.dra.routes)
    lines = [f"routes (mode {cfg.dra.mode}; most specific match wins, then priority, then weight):",
             f"  {'name':14} {'prio':>4} {'weight':>6}  {'peers':24} match"]
    for r in sorted(table.routes, key=lambda r: (tuple(-x for x in r.specificity), r.priority)):
        lines.append(f"  {r.name:14} {r.priority:4d} {r.weight:6d}  {','.join(r.peers):24} {r.describe()}")
    if not table.routes:
        lines.append("  (none: requests are forwarded only by Destination-Host or answered 3002/3003)")
    return lines


def peers_text(cfg: Config, samples: dict[str, list[tuple[dict[str, str], float]]] | None) -> list[str]:
    states = {lab.get("peer", "").lower(): int(v) for lab, v in (samples or {}).get("sigcore_peer_state", [])}
    per_peer: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for name, column in (("sigcore_dra_relayed_total", "relayed"), ("sigcore_dra_failovers_total", "failed over"),
                         ("sigcore_dra_timeouts_total", "timed out")):
        for lab, v in (samples or {}).get(name, []):
            per_peer[lab.get("peer", "").lower()][column] += v
    for lab, v in (samples or {}).get("sigcore_dra_answers_total", []):
        per_peer[lab.get("peer", "").lower()][lab.get("result_class", "none")] += v
    lines = ["peers:", f"  {'name':24} {'address':22} {'state':18} counters"]
    for p in cfg.diameter.peers:
        state = "unknown" if samples is None else STATE_NAMES.get(states.get(p.name.lower(), 1), "closed")
        counts = per_peer.get(p.name.lower(), {})
        text = ", ".join(f"{k} {int(v)}" for k, v in sorted(counts.items())) or "-"
        lines.append(f"  {p.name:24} {p.address + ':' + str(p.port):22} {state:18} {text}")
    return lines


def _url_problem(url: str) -> str | None:
    """Why `url` cannot be the node's /metrics, or None. urllib's own words were about the connection
    ('connection refused' for port 99999, 'name or service not known' for no host), not the URL."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as err:  # an unclosed IPv6 bracket; a port that is no number or past 65535
        return "the port is not a number from 1 to 65535" if "port" in str(err).lower() else "not a URL"
    if parts.scheme not in ("http", "https"):
        return "expected an http:// or https:// URL"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "spaces or control characters"
    if not parts.hostname:
        return "no host"
    if port == 0:
        return "the port is not a number from 1 to 65535"
    return None


def _default_metrics_url(cfg: Config) -> str:
    host, port = split_host_port(cfg.api.listen, 8080)
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/metrics"


@dra_app.command("routes")
def routes(config: str | None = ConfigOption,
           metrics_url: str | None = typer.Option(None, help="the node's /metrics (default: from api.listen)"),
           offline: bool = typer.Option(False, help="print the configured table only")) -> None:
    """Print the route table and each peer's state and relay counters."""
    try:
        cfg = load_config(config)
    except ConfigError as err:
        typer.echo(f"invalid configuration: {err}", err=True)
        raise typer.Exit(2) from None
    # an empty --metrics-url is refused below, not quietly replaced by the default
    url = None if offline else _default_metrics_url(cfg) if metrics_url is None else metrics_url
    problem = None if url is None else _url_problem(url)
    if problem is not None:
        raise fail(f"--metrics-url: {problem}, got {url!r}", 2)
    for line in routes_text(cfg):
        typer.echo(line)
    samples = None
    if url is not None:
        try:
            samples = fetch_metrics(url)
        except (ValueError, http.client.HTTPException) as err:  # a bad port, or not an HTTP server
            typer.echo(f"(node not reachable at {url!r}: {err or type(err).__name__}; peer states unknown)")
        except (OSError, urllib.error.URLError) as err:
            reason = getattr(err, "reason", err)
            why = reason.strerror.lower() if isinstance(reason, OSError) and reason.strerror else reason
            typer.echo(f"(node not reachable at {url}: {why}; peer states unknown)")
    for line in peers_text(cfg, samples):
        typer.echo(line)


SUMMARY = "Diameter Routing Agent (routes, rt_pyform transforms)"


def register(app: typer.Typer) -> None:
    app.add_typer(dra_app, name="dra")
