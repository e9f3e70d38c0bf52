"""The one `sigcore` command. Each area contributes its sub-commands through a ``register`` hook."""

from __future__ import annotations

import typer

from sigcore.config import ConfigError, load_config

app = typer.Typer(help="sigcore: Diameter HSS, routing agent, charging and telecom toolkit.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration files.", no_args_is_help=True)
app.add_typer(config_app, name="config")

ConfigOption = typer.Option(None, "--config", "-c", help="YAML config file (default: $SIGCORE_CONFIG)")


@config_app.command("check")
def config_check(path: str = typer.Argument(..., help="the YAML file to validate")) -> None:
    """Validate a configuration file and name the first bad key."""
    try:
        cfg = load_config(path)
    except ConfigError as err:
        typer.echo(f"invalid: {err}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"ok: {cfg.diameter.origin_host} ({cfg.diameter.origin_realm}), "
               f"diameter on {', '.join(cfg.diameter.listen)}")


def _register_areas() -> None:
    """Attach every area's sub-commands. One line per area keeps merges trivial."""
    pass


def main() -> None:
    app()


if __name__ == "__main__":
    main()
