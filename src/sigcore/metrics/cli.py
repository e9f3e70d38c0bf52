"""``sigcore snmp-agent``: the SNMP view of the counters every sigcore process flushes to Redis."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import typer

from sigcore import config_checks as checks
from sigcore import logging_setup
from sigcore.cli_groups import ConfigOption
from sigcore.config import ConfigError, load_config, split_host_port
from sigcore.preflight import bind_failure
from sigcore.signals import handle_stop_and_reload

if TYPE_CHECKING:  # imported when the agent runs: every `sigcore` command imports this module
    from sigcore.metrics.snmp.agent import AgentSettings

log = logging.getLogger("sigcore.metrics.cli")


async def run_agent(settings: AgentSettings, redis_url: str | None, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM)."""
    from sigcore.metrics.redis_store import connect, read_snapshot
    from sigcore.metrics.snapshot import Snapshot
    from sigcore.metrics.snmp.agent import SnmpAgent

    client = connect(redis_url) if redis_url else None

    async def source() -> Snapshot:
        if client is None:
            return Snapshot(source="local")
        return await read_snapshot(client)

    stop = stop or asyncio.Event()

    def reload() -> None:  # its settings are read at start
        log.info("SIGHUP: nothing to reload in snmp-agent (restart it for new settings)")

    handle_stop_and_reload(stop, reload)
    agent = SnmpAgent(settings, source)
    await agent.start()
    log.info("snmp-agent listening on udp %s:%s", settings.host, settings.port)
    try:
        await stop.wait()
    finally:
        await agent.stop()
        if client is not None:
            await client.aclose()


def snmp_agent(
    config: str | None = ConfigOption,
    listen: str | None = typer.Option(None, help="UDP host:port (default: metrics.snmp.listen)"),
    refresh: float = typer.Option(1.0, min=0.05, max=3600, help="seconds between re-reads of the Redis counters"),
) -> None:
    """Serve the metrics over SNMP (v2c community and/or v3 USM authPriv) under the SIGCORE-MIB tree."""
    from sigcore.metrics.snmp.agent import AgentSettings

    try:
        cfg = load_config(config)
    except ConfigError as err:
        typer.echo(f"invalid configuration: {err}", err=True)
        raise typer.Exit(2) from None
    snmp = cfg.metrics.snmp
    if listen is not None:
        try:
            checks.host_port(listen, port_required=True)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--listen") from None
    host, port = split_host_port(listen or snmp.listen, 1161)
    settings = AgentSettings(host, port, snmp.community, snmp.v3_user, snmp.v3_auth_key, snmp.v3_priv_key, refresh)
    if not cfg.metrics.redis.url:
        typer.echo("warning: metrics.redis.url is not set: the agent has no counters to serve", err=True)
    logging_setup.configure(cfg.logging)  # the format, level and redaction of `sigcore run`
    logging_setup.install_signal_handlers()
    try:
        asyncio.run(run_agent(settings, cfg.metrics.redis.url))
    except OSError as err:  # the UDP port (the agent binds it before anything else)
        key = "--listen" if listen else "metrics.snmp.listen"
        typer.echo(f"{key}: {bind_failure(err, f'{host}:{port}')}", err=True)
        raise typer.Exit(2) from None
    except ValueError as err:
        typer.echo(f"invalid SNMP settings: {err}", err=True)
        raise typer.Exit(2) from None


SUMMARY = "metrics (Prometheus, SNMP)"


def register(app: typer.Typer) -> None:
    app.command("snmp-agent")(snmp_agent)
