"""``sigcore account list/show/map`` and ``sigcore cdr export --csv``: the charging store from the command line.

They open the store of ``--config`` directly (migrating it first), like the other provisioning commands.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from typing import Any

import typer

from sigcore.api.cli import open_store
from sigcore.charging.cdrs import CDR_FIELDS
from sigcore.charging.model import Account
from sigcore.charging.repo import ChargingStore, NameTooLong
from sigcore.charging.times import rfc3339
from sigcore.charging.values import as_json_number
from sigcore.cli_groups import ConfigOption, fail
from sigcore.store import validate
from sigcore.store.errors import InvalidValue

account_app = typer.Typer(help="Charging accounts and their balances (CGrateS-compatible).", no_args_is_help=True)
cdr_app = typer.Typer(help="Charging CDRs.", no_args_is_help=True)
TenantOption = typer.Option("cgrates.org", "--tenant", help="the account's tenant")
SUBSCRIPTION_TYPES = {"msisdn": 0, "imsi": 1, "sip": 2, "nai": 3, "private": 4}


def _summary(acc: Account) -> str:
    totals: dict[str, Any] = {}
    for bal in acc.balances:
        totals[bal.type] = totals.get(bal.type, 0) + bal.value
    parts = [f"{t}={as_json_number(v)}" for t, v in sorted(totals.items())] or ["no balances"]
    flags = [f for f, on in (("disabled", acc.disabled), ("allow-negative", acc.allow_negative)) if on]
    return f"{acc.key}  {' '.join(parts)}{'  [' + ', '.join(flags) + ']' if flags else ''}"


@account_app.command("list")
def account_list(tenant: str | None = typer.Option(None, "--tenant", help="only this tenant"),
                 config: str | None = ConfigOption) -> None:
    """One line per account: tenant:account and the total of each balance type."""
    if tenant is not None and not tenant.strip():  # listed every tenant's accounts, as if --tenant were absent
        raise fail("--tenant: an empty name", 2)
    with open_store(config) as store:
        accounts = ChargingStore(store).list_accounts(tenant)
    for acc in accounts:
        typer.echo(_summary(acc))
    if not accounts:
        typer.echo(f"no accounts{f' in tenant {tenant}' if tenant else ''}", err=True)


@account_app.command("show")
def account_show(account: str = typer.Argument(..., help="the account name"), tenant: str = TenantOption,
                 as_json: bool = typer.Option(False, "--json", help="GetAccount's JSON (APIerSv2 shape)"),
                 config: str | None = ConfigOption) -> None:
    """An account's balances, triggers and flags."""
    with open_store(config) as store:
        acc = ChargingStore(store).get_account(tenant, account)
    if acc is None:
        raise fail(f"no account {tenant}:{account}", 1)
    if as_json:
        typer.echo(json.dumps(acc.to_api(), indent=2))
        return
    typer.echo(_summary(acc))
    for bal in sorted(acc.balances, key=lambda b: (b.type, -b.weight)):
        expiry = "never" if bal.expiration is None else rfc3339(bal.expiration)
        extra = " disabled" if bal.disabled else ""
        typer.echo(f"  {bal.type:10} {bal.id or '-':24} {as_json_number(bal.value):>16}  weight {bal.weight:g}"
                   f"  expires {expiry}{extra}  uuid {bal.uuid}")
    for trig in acc.triggers:
        typer.echo(f"  trigger {trig.group_id} {trig.threshold_type} {as_json_number(trig.threshold)} -> "
                   f"{trig.actions_id}{' (executed)' if trig.executed else ''}")


@account_app.command("map")
def account_map(account: str = typer.Argument(..., help="the account Gy charges"),
                imsi: str | None = typer.Option(None, "--imsi"), msisdn: str | None = typer.Option(None, "--msisdn"),
                tenant: str = TenantOption, config: str | None = ConfigOption) -> None:
    """Map a Subscription-Id (IMSI and/or E.164 MSISDN) to an account for Gy/Ro."""
    if imsi is None and msisdn is None:
        raise fail("give --imsi and/or --msisdn", 2)
    # A CCR's Subscription-Id-Data is matched as sent, digits only (E.164 without '+'): another form, or an
    # empty value (which mapped nothing and exited 0), or an empty name could never charge anything.
    for option, value, low in (("--imsi", imsi, 6), ("--msisdn", msisdn, 1)):
        try:
            if value is not None:
                validate.digits(option, value, low, 15)
        except InvalidValue as err:
            raise fail(f"{err}, got {value!r}", 2) from None
    for what, name in (("ACCOUNT", account), ("--tenant", tenant)):
        if not name.strip():
            raise fail(f"{what}: an empty name", 2)
        # a newline was stored and split `account list`; ' x' was another account than 'x', unseen
        if not name.isprintable() or name != name.strip():
            raise fail(f"{what}: printable characters without leading or trailing spaces, got {name!r}", 2)
    with open_store(config) as store:
        charging = ChargingStore(store)
        for kind, value in (("imsi", imsi), ("msisdn", msisdn)):
            if value is not None:
                try:
                    charging.map_subscription(SUBSCRIPTION_TYPES[kind], value, tenant, account)
                except NameTooLong as err:
                    raise fail(str(err), 2) from None
                typer.echo(f"{kind} {value} -> {tenant}:{account}")


@cdr_app.command("export")
def cdr_export(as_csv: bool = typer.Option(False, "--csv", help="CSV with a header line (the only format)"),
               output: str | None = typer.Option(None, "--output", "-o", help="file to write (default: stdout)"),
               account: list[str] = typer.Option([], "--account", help="only these accounts (repeatable)"),
               source: list[str] = typer.Option([], "--source", help="only these sources, e.g. *cdrlog"),
               config: str | None = ConfigOption) -> None:
    """Every CDR (oldest first) with CGrateS's fields; ExtraFields as one JSON column."""
    if not as_csv:
        raise fail("only --csv is supported", 2)
    # '' was taken for "no --output" (stdout), an empty --account or --source for a filter nothing matches
    for option, values in (("--output", [output] if output is not None else []), ("--account", account),
                           ("--source", source)):
        if any(not value.strip() for value in values):
            raise fail(f"{option}: an empty value", 2)
    with contextlib.ExitStack() as opened:
        try:  # before the database: an unwritable path was a traceback
            handle = opened.enter_context(open(output, "w", newline="")) if output else sys.stdout
        except OSError as err:
            raise fail(f"--output {output}: {err.strerror}", 2) from None
        with open_store(config) as store:
            records = ChargingStore(store).get_cdrs(accounts=account or None, sources=source or None)
        columns = ["OrderID", *CDR_FIELDS, "ExtraFields"]
        writer = csv.writer(handle)
        writer.writerow(columns)
        for rec in records:
            row = [rec.get(c, "") for c in columns[:-1]] + [json.dumps(rec.get("ExtraFields") or {}, sort_keys=True)]
            writer.writerow(row)
    if output:
        typer.echo(f"{len(records)} CDRs written to {output}", err=True)


SUMMARY = "online charging (CGrateS-compatible JSON-RPC, Gy/Ro)"


def register(app: typer.Typer) -> None:
    app.add_typer(account_app, name="account")
    app.add_typer(cdr_app, name="cdr")
