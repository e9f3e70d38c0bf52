"""``sigcore eir add/list/delete/check/history``: the EIR's equipment rules from the command line.

Like the other provisioning commands, these open the store of ``--config`` directly (migrating it first)
and audit writes as ``cli:<login>``. `check` shows what an S13 ME-Identity-Check would answer, using the
same decision code as the Diameter handler; it records nothing unless ``--record`` is given.
"""

from __future__ import annotations

import typer

from sigcore.api.cli import audit, open_store
from sigcore.cli_groups import ConfigOption, fail, refused
from sigcore.hss.s13.eir import Eir, InvalidImei, normalise_imei
from sigcore.store import StoreError, validate
from sigcore.store.eir import EirRepository, EirRule, EquipmentStatus

eir_app = typer.Typer(help="EIR equipment rules (IMEI, TAC/prefix, IMSI binding) and check history.",
                      no_args_is_help=True)


def _imei(text: str) -> str:
    try:
        return normalise_imei(text)[0]
    except InvalidImei as err:
        raise fail(f"imei: {err}", 2) from None


def describe(rule: EirRule) -> str:
    what = f"imei {rule.pattern}" if rule.exact else f"prefix {rule.pattern}*"
    bound = f" with imsi {rule.imsi}" if rule.imsi else ""
    comment = f"  # {rule.comment}" if rule.comment else ""
    return f"{rule.id}: {what}{bound} -> {rule.status.value}{comment}"


@eir_app.command("add")
def eir_add(status: EquipmentStatus = typer.Option(..., "--status", help="whitelisted, greylisted or blacklisted"),
            imei: str | None = typer.Option(None, "--imei", help="one IMEI: 14 digits, or 15 with check digit"),
            prefix: str | None = typer.Option(None, "--prefix", help="IMEI prefix, e.g. the 8-digit TAC"),
            imsi: str | None = typer.Option(None, "--imsi", help="apply only when this IMSI uses the device"),
            comment: str | None = typer.Option(None, "--comment"),
            config: str | None = ConfigOption) -> None:
    """Add a rule for one IMEI (--imei) or every IMEI starting with --prefix."""
    if (imei is None) == (prefix is None):
        raise fail("give exactly one of --imei or --prefix", 2)
    pattern = _imei(imei) if imei is not None else str(prefix)
    with open_store(config) as store:
        try:
            rule = EirRepository(store).add_rule(pattern, status, exact=imei is not None, imsi=imsi,
                                                 comment=comment)
        except StoreError as err:
            raise refused(err) from None
        audit(store, "EIR", f"eir rule #{rule.id}", f"added {describe(rule)}")
    typer.echo(describe(rule))


@eir_app.command("list")
def eir_list(config: str | None = ConfigOption) -> None:
    """List the rules, ordered by pattern."""
    with open_store(config) as store:
        rules = EirRepository(store).list_rules()
    for rule in rules:
        typer.echo(describe(rule))
    if not rules:
        typer.echo("no EIR rules", err=True)


@eir_app.command("delete")
def eir_delete(rule_id: int = typer.Argument(..., min=1, max=2**63 - 1,  # past int64: a traceback from SQL
                                            help="the rule's id (see `sigcore eir list`)"),
               config: str | None = ConfigOption) -> None:
    """Delete a rule; its past checks stay in the history."""
    with open_store(config) as store:
        try:
            EirRepository(store).delete_rule(rule_id)
        except StoreError as err:
            raise refused(err) from None
        audit(store, "EIR", f"eir rule #{rule_id}", "deleted")
    typer.echo(f"deleted rule {rule_id}")


@eir_app.command("check")
def eir_check(imei: str = typer.Argument(..., help="14 digits, 15 with check digit, or a 16-digit IMEISV"),
              imsi: str | None = typer.Option(None, "--imsi"),
              unknown: EquipmentStatus | None = typer.Option(
                  None, "--unknown-status", help="status for equipment no rule matches (default: unknown)"),
              record: bool = typer.Option(False, "--record", help="add the check to the history"),
              config: str | None = ConfigOption) -> None:
    """What the EIR answers for IMEI (and IMSI): the status and the rule that decided. Exit 3 if unknown."""
    value = _imei(imei)
    if imsi is not None:  # any text was taken: no IMSI-bound rule matched it, and --record stored it
        try:
            validate.imsi(imsi)
        except StoreError as err:
            raise fail(str(err), 2) from None
    with open_store(config) as store:
        decision = Eir(EirRepository(store), unknown, record_history=record).check(
            value, imsi=imsi, origin_host="cli" if record else None)
    rule = describe(decision.rule) if decision.rule else "no rule (default)"
    if decision.status is None:
        typer.echo(f"{value}: unknown equipment (S13 answers 5422 DIAMETER_ERROR_EQUIPMENT_UNKNOWN)")
        raise typer.Exit(3)
    typer.echo(f"{value}: {decision.status.value} ({rule})")


@eir_app.command("history")
def eir_history(imei: str | None = typer.Option(None, "--imei"),
                limit: int = typer.Option(20, "--limit", min=1, max=1000),  # the store's page: not clipped
                config: str | None = ConfigOption) -> None:
    """The latest ME identity checks, newest first."""
    with open_store(config) as store:
        # `is not None`: --imei '' listed every IMEI's checks as if no --imei were given
        checks, total = EirRepository(store).history(_imei(imei) if imei is not None else None, limit=limit)
    for c in checks:
        when = f"{c.checked_at:%Y-%m-%d %H:%M:%S}" if c.checked_at else "-"
        status = c.status.value if c.status else "unknown"
        typer.echo(f"{when} {c.imei} sv={c.software_version or '-'} imsi={c.imsi or '-'} {status} "
                   f"rule={c.rule_id or '-'} from={c.origin_host or '-'}")
    typer.echo(f"{len(checks)} of {total} checks", err=True)


SUMMARY = "EIR (S13)"


def register(app: typer.Typer) -> None:
    app.add_typer(eir_app, name="eir")
