"""CLI of the provisioning area: ``sigcore token …``, ``sigcore subscriber import``, ``sigcore apn …``.

These commands open the store of ``--config`` directly (the API need not be running) and migrate it to
the current schema first, as they are also what an operator runs on a fresh install. Writes are audited
as ``cli:<login>``. No command prints a key.
"""

from __future__ import annotations

import getpass
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from sigcore.cli_groups import ConfigOption, apn_app, fail, refused, subscriber_app
from sigcore.store import PdnType, Store, StoreError
from sigcore.store.bulk import BulkImporter, NewSubscriber, Rejected
from sigcore.store.store import KeyNeed
from sigcore.store.tokens import Role, TokenRepository

token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
console = Console(highlight=False)
SHOWN_REJECTS = 50


@contextmanager
def open_store(config: str | None, key: KeyNeed = "optional") -> Iterator[Store]:
    """The store of `config`, migrated to the current schema; closed on exit."""
    from sigcore.config import ConfigError, load_config

    try:
        store = Store.from_config(load_config(config).database, auto_migrate=True, key=key)
    except (ConfigError, StoreError) as err:
        raise fail(str(err), 2) from None
    try:
        yield store
    finally:
        store.close()


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name (containers without passwd entries)
        return "cli:unknown"


def audit(store: Store, action: str, target: str, detail: str) -> None:
    TokenRepository(store).audit(actor(), action, target, 0, detail)


# -- tokens -----------------------------------------------------------------------------------------------


@token_app.command("create")
def token_create(role: Role = typer.Option(..., "--role", help="read, provision or admin"),
                 name: str = typer.Option("", "--name", help="a label for listings and the audit log"),
                 config: str | None = ConfigOption) -> None:
    """Create an API token; the token itself is printed alone on the last line, once."""
    with open_store(config) as store:
        try:
            issued = TokenRepository(store).create(role, name)
        except StoreError as err:  # a --name too long or with control characters
            raise fail(f"--{err}", 2) from None
        audit(store, "TOKEN", f"token #{issued.token.id}", f"created {issued.token.name} role {role.value}")
    typer.echo(f"created token #{issued.token.id} {issued.token.name!r} with role {role.value}; "
               "store it now, it cannot be shown again:", err=True)
    typer.echo(issued.secret)


@token_app.command("list")
def token_list(config: str | None = ConfigOption,
               all_tokens: bool = typer.Option(False, "--all", help="include revoked tokens")) -> None:
    """List tokens (id, name, role, prefix): never the tokens themselves."""
    with open_store(config) as store:
        tokens = TokenRepository(store).list(include_revoked=all_tokens)
    table = Table("id", "name", "role", "prefix", "created", "revoked")
    for t in tokens:
        table.add_row(str(t.id), t.name, t.role.value, t.prefix + "…", f"{t.created_at:%Y-%m-%d %H:%M}",
                      f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "")
    console.print(table)


@token_app.command("revoke")
def token_revoke(token_id: int = typer.Argument(..., min=1, max=2**63 - 1),  # past int64: a traceback from SQL
                 config: str | None = ConfigOption) -> None:
    """Revoke a token by id; requests with it get 401 from now on."""
    with open_store(config) as store:
        try:
            TokenRepository(store).revoke(token_id)
        except StoreError as err:
            raise refused(err) from None
        audit(store, "TOKEN", f"token #{token_id}", "revoked")
    typer.echo(f"revoked token #{token_id}")


# -- subscriber import ----------------------------------------------------------------------------------


def _print_summary(importer: BulkImporter, ignored: list[str], dry_run: bool, elapsed: float) -> None:
    result = importer.result
    verb = "would import" if dry_run else "imported"
    console.print(f"{verb} {result.imported} subscriber(s), rejected {len(result.rejected)} row(s) "
                  f"in {elapsed:.1f} s" + (" (dry run: nothing written)" if dry_run else ""))
    if ignored:
        console.print(f"ignored columns: {', '.join(ignored)}")
    if result.created_apns:
        verb = "would create" if dry_run else "created"
        console.print(f"{verb} APN profile(s) with the default QoS: {', '.join(result.created_apns)}")
    if not result.rejected:
        return
    reasons = Counter(r.reason for r in result.rejected)
    table = Table("rows", "reason", title="rejected rows by reason")
    for reason, count in reasons.most_common():
        table.add_row(str(count), reason)
    console.print(table)
    table = Table("line", "IMSI", "reason", title=f"first {min(SHOWN_REJECTS, len(result.rejected))} rejected rows")
    for r in result.rejected[:SHOWN_REJECTS]:
        table.add_row(str(r.line), r.imsi or "?", r.reason)
    console.print(table)


def _write_rejects(path: Path, rejected: list[Rejected]) -> None:
    import csv

    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["line", "imsi", "reason"])
        writer.writerows([r.line, r.imsi or "", r.reason] for r in rejected)


@subscriber_app.command("import")
def subscriber_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with IMSI, Ki, OPc (or OP) columns"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check every row, write nothing"),
    apn: list[str] = typer.Option([], "--apn", help="APN for rows without an apns column value; repeatable"),
    chunk: int = typer.Option(1000, "--chunk", min=1, max=10000, help="rows per transaction"),
    rejects: Path | None = typer.Option(None, "--rejects", help="write every rejected row (line, IMSI, reason)"),
    config: str | None = ConfigOption,
) -> None:
    """Import a SIM vendor batch: one transaction per chunk, a progress bar, rejected rows with the reason.

    Exit status 0 when every row was imported, 3 when some were rejected.
    """
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from sigcore.api.csv_import import count_utf8_rows, read_batch
    from sigcore.store.errors import InvalidValue

    started = time.monotonic()
    if rejects is not None:  # found unwritable after the import, it was a traceback with the rows already in
        try:
            rejects.open("a").close()
        except OSError as err:
            raise fail(f"--rejects {rejects}: {err.strerror}", 2) from None
    need: KeyNeed = "optional" if dry_run else "create"
    with open_store(config, need) as store, file.open(newline="", encoding="utf-8-sig") as f:
        try:
            total = count_utf8_rows(file)
            batch = read_batch(f, apn)
        except InvalidValue as err:
            raise fail(f"{file}: {err}", 2) from None
        importer = BulkImporter(store, dry_run=dry_run)
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=console, transient=False)
        with progress:
            task = progress.add_task("checking" if dry_run else "importing", total=total)
            pending: list[NewSubscriber] = []
            for row in batch.rows:
                if isinstance(row, Rejected):
                    importer.result.rejected.append(row)
                    progress.advance(task)
                    continue
                pending.append(row)
                if len(pending) >= chunk:
                    importer.add(pending)
                    progress.advance(task, len(pending))
                    pending = []
            if pending:
                importer.add(pending)
                progress.advance(task, len(pending))
        importer.result.rejected.sort(key=lambda r: r.line)
        if not dry_run:
            audit(store, "IMPORT", str(file)[:255],
                  f"{importer.result.imported} imported, {len(importer.result.rejected)} rejected")
    _print_summary(importer, batch.ignored, dry_run, time.monotonic() - started)
    if rejects is not None:
        _write_rejects(rejects, importer.result.rejected)
    if importer.result.rejected:
        raise typer.Exit(3)


# -- APN profiles ---------------------------------------------------------------------------------------


def _apn_fields(**given: Any) -> dict[str, Any]:
    return {k: (v.value if isinstance(v, PdnType) else v) for k, v in given.items() if v is not None}


@apn_app.command("add")
def apn_add(name: str = typer.Argument(...),
            qci: int | None = typer.Option(None, "--qci", min=1, max=255),
            arp: int | None = typer.Option(None, "--arp", min=1, max=15, help="ARP priority level"),
            ambr_ul: int | None = typer.Option(None, "--ambr-ul", min=0, help="APN-AMBR uplink, bit/s"),
            ambr_dl: int | None = typer.Option(None, "--ambr-dl", min=0, help="APN-AMBR downlink, bit/s"),
            pdn_type: PdnType | None = typer.Option(None, "--pdn-type"),
            pgw_address: str | None = typer.Option(None, "--pgw-address"),
            config: str | None = ConfigOption) -> None:
    """Create an APN profile (unspecified fields: QCI 9, ARP 8, IPv4, no AMBR limit)."""
    fields = _apn_fields(qci=qci, arp_priority=arp, ambr_ul=ambr_ul, ambr_dl=ambr_dl, pdn_type=pdn_type,
                         pgw_address=pgw_address)
    with open_store(config) as store:
        try:
            profile = store.add_apn(name, **fields)
        except StoreError as err:
            raise refused(err) from None
        audit(store, "APN", f"apn {profile.name}", "created; fields: " + ", ".join(sorted(fields)))
    typer.echo(f"created APN profile {profile.name} (QCI {profile.qci}, ARP {profile.arp_priority})")


def _apn_table(profiles: list[Any]) -> Table:
    table = Table("name", "QCI", "ARP", "AMBR UL", "AMBR DL", "PDN type", "PGW")
    for p in profiles:
        table.add_row(p.name, str(p.qci), str(p.arp_priority), str(p.ambr_ul), str(p.ambr_dl), p.pdn_type.value,
                      p.pgw_address or p.pgw_host or "")
    return table


def _warn_case_variants(store: Store) -> int:
    """Name the profiles whose names differ only in case (a database from before lookups ignored case); not
    merged here: their QoS may differ. Returns how many groups there are."""
    groups = store.apn_case_variants()
    for group in groups:
        typer.echo(f"warning: APN profiles {' and '.join(map(repr, group))} differ only in case and are one APN "
                   "(TS 23.003 §9.1): move their subscribers to one of them and delete the others", err=True)
    return len(groups)


@apn_app.command("list")
def apn_list(config: str | None = ConfigOption) -> None:
    """List APN profiles (and warn of names that differ only in case)."""
    with open_store(config) as store:
        console.print(_apn_table(store.list_apns()))
        _warn_case_variants(store)


@apn_app.command("check")
def apn_check(config: str | None = ConfigOption) -> None:
    """Exit 1 naming the APN profiles whose names differ only in case, 0 if there are none."""
    with open_store(config) as store:
        if _warn_case_variants(store):
            raise typer.Exit(1)
        typer.echo(f"ok: {len(store.list_apns())} APN profile(s), no two names differ only in case")


@apn_app.command("show")
def apn_show(name: str = typer.Argument(...), config: str | None = ConfigOption) -> None:
    """Every field of one APN profile."""
    with open_store(config) as store:
        try:
            profile = store.get_apn(name)
        except StoreError as err:
            raise refused(err) from None
    for field in profile.__dataclass_fields__:
        value = getattr(profile, field)
        typer.echo(f"{field:<30} {value.value if isinstance(value, PdnType) else value}")


@apn_app.command("delete")
def apn_delete(name: str = typer.Argument(...), config: str | None = ConfigOption) -> None:
    """Delete an APN profile no subscriber uses."""
    with open_store(config) as store:
        try:
            store.delete_apn(name)
        except StoreError as err:
            raise refused(err) from None
        audit(store, "APN", f"apn {name}", "deleted")
    typer.echo(f"deleted APN profile {name}")


SUMMARY = "provisioning REST API"


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
