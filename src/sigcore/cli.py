"""The one `sigcore` command. Each area contributes its sub-commands through a ``register(app)`` hook;
shared command groups (``subscriber``, ``apn``, ``ims``...) live in ``sigcore.cli_groups`` so that two
areas can add commands to the same group."""

from __future__ import annotations

import asyncio
import importlib

import typer

from sigcore.cli_groups import ConfigOption, app, config_app
from sigcore.config import ConfigError, load_config

#: Modules exposing ``register(app: typer.Typer)``; a missing optional area is skipped. An area's ``SUMMARY``
#: (if it has one) goes into ``sigcore --help``, so the help names only what is installed.
AREAS = (
    "sigcore.toolkit.cli",
    "sigcore.hss.s6a.cli",
    "sigcore.api.cli",
    "sigcore.metrics.cli",
    "sigcore.hss.ims.cli",
    "sigcore.hss.s13.cli",
    "sigcore.key_cli",
    "sigcore.loadgen.cli",
    "sigcore.dra.cli",
    "sigcore.charging.cli",
)


@config_app.command("check")
def config_check(path: str = typer.Argument(..., help="the YAML file to validate")) -> None:
    """Validate a configuration file and name the first bad key."""
    try:
        cfg = load_config(path)
    except ConfigError as err:
        typer.echo(f"invalid: {err}", err=True)
        raise typer.Exit(1) from None
    listening = ", ".join(cfg.diameter.listen) or "no address (it only dials its connect peers)"
    typer.echo(f"ok: {cfg.diameter.origin_host} ({cfg.diameter.origin_realm}), diameter on {listening}")


def load_or_exit(path: str | None, *, check_files: bool = False):  # type: ignore[no-untyped-def]
    """The configuration, or exit 2 with one line naming the bad key; `check_files`: also the files it names."""
    from sigcore import preflight

    try:
        cfg = load_config(path)
        if check_files:
            preflight.check_files(cfg)
        return cfg
    except ConfigError as err:
        typer.echo(f"invalid configuration: {err}", err=True)
        raise typer.Exit(2) from None


@app.command("run")
def run(config: str | None = ConfigOption,
        workers: int | None = typer.Option(None, "--workers", min=1, max=64,
                                           help="processes sharing the listeners (default: run.workers)")) -> None:
    """Start the configured services: the Diameter node (HSS; DRA, Gy/Ro when configured), API, metrics, charging."""
    from sigcore.logging_setup import configure, install_signal_handlers, label_records
    from sigcore.service import installers, serve
    from sigcore.store import StoreError
    from sigcore.workers import Worker

    cfg = load_or_exit(config, check_files=True)
    configure(cfg.logging)
    install_signal_handlers()  # SIGUSR1/SIGUSR2: more/less verbose at run time
    worker = Worker.from_environment()
    count = workers or cfg.run.workers
    try:
        if worker is None and count > 1:
            from sigcore.workers.supervisor import supervise

            raise typer.Exit(supervise(cfg, config, count))
        if worker is not None:
            label_records(f"worker {worker.index}")
        asyncio.run(serve(cfg, installers()))
    except StoreError as err:  # a missing or wrong key, a database at another schema: one line, no traceback
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    except ConfigError as err:  # a listen address taken or not ours
        typer.echo(f"invalid configuration: {err}", err=True)
        raise typer.Exit(2) from None


def _register_areas() -> None:
    summaries: list[str] = []
    for name in AREAS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name and name.startswith(err.name):
                continue  # area not installed (yet)
            raise
        module.register(app)
        summary = getattr(module, "SUMMARY", None)
        if summary:
            summaries.append(summary)
    if summaries:
        app.info.help = f"{app.info.help} Installed: {'; '.join(summaries)}."


_register_areas()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
