"""Typer apps shared by several areas: the root ``app`` and the command groups areas add to."""

from __future__ import annotations

import typer

from sigcore.store.errors import InvalidValue, StoreError

app = typer.Typer(help="sigcore: a 4G/IMS signalling core on one Diameter stack.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
config_app = typer.Typer(help="Configuration files.", no_args_is_help=True)
subscriber_app = typer.Typer(help="Subscribers (IMSI, keys, APNs).", no_args_is_help=True)
apn_app = typer.Typer(help="APN profiles.", no_args_is_help=True)
ims_app = typer.Typer(help="IMS identities (IMPI/IMPU).", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(subscriber_app, name="subscriber")
app.add_typer(apn_app, name="apn")
app.add_typer(ims_app, name="ims")

ConfigOption = typer.Option(None, "--config", "-c", help="YAML config file (default: $SIGCORE_CONFIG)")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; raise the returned Exit (2: bad input, 1: the store said no)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def refused(err: StoreError) -> typer.Exit:
    """`fail` for what the store refused: exit 2 when it was the value given (`InvalidValue`), as for every
    other bad argument; 1 when the store's state said no (unknown, already there, no key...)."""
    return fail(str(err), 2 if isinstance(err, InvalidValue) else 1)
