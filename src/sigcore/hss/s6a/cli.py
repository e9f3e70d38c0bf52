"""``sigcore subscriber add/show/list/delete`` and ``sigcore demo``: provisioning for the tour and for tests.

Every command opens the store named by ``--config`` (migrating it to the current schema, as on a fresh
install). Keys go in as hex and never come out: `show` and `list` print the profile only. SQN is decimal.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sigcore.cli_groups import ConfigOption, app, fail, refused, subscriber_app
from sigcore.config import ConfigError, load_config
from sigcore.secret_input import SECRET_HELP, SecretInputError, read_secret
from sigcore.store import NotFound, Store, StoreError, Subscriber, SubscriberFilter, create_key_file, validate
from sigcore.store.store import KeyNeed

DEMO_IMSI = "001010000000001"
# TS 35.207 test set 1: public test values, fine for a demo, never for a real SIM.
DEMO_KI = "465b5ce8b199b49faa5f0a2ee238a6bc"
DEMO_OPC = "cd63cb71954a9f4e48a5994e37a02baf"
DEMO_MSISDN = "15550100001"
DEMO_APN = "internet"


def _open(config: str | None, key: KeyNeed = "optional") -> Store:
    try:
        return Store.from_config(load_config(config).database, auto_migrate=True, key=key)
    except (ConfigError, StoreError) as err:
        raise fail(str(err), 2) from None


def _hex_int(text: str, name: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise fail(f"{name} must be hexadecimal, got {text!r}", 2) from None


def _checked(name: str, value: str, shortest: int) -> None:
    """An IMSI (or prefix) that cannot match is bad input, said before the store is opened (or made)."""
    try:
        validate.digits(name, value, shortest, 15)
    except StoreError as err:
        raise fail(f"{err}, got {value!r}", 2) from None


def describe(sub: Subscriber) -> list[str]:
    """The profile as ``key: value`` lines; by construction there is no key material to print."""
    lines = [
        f"imsi: {sub.imsi}",
        f"msisdn: {sub.msisdn or '-'}",
        f"enabled: {'yes' if sub.enabled else 'no'}",
        f"status: {sub.status.value}",
        f"network access mode: {sub.nam.value}",
        f"ue-ambr ul/dl: {sub.ue_ambr_ul}/{sub.ue_ambr_dl} bit/s",
        f"roaming policy: {sub.roaming_policy.value}",
        f"default apn: {sub.default_apn or '-'}",
    ]
    for a in sub.apns:
        p = a.profile
        static = ", ".join(x for x in (a.static_ipv4, a.static_ipv6) if x) or "dynamic"
        lines.append(f"apn {a.name}: context {a.context_id}, qci {p.qci}, arp {p.arp_priority}, "
                     f"{p.pdn_type.value}, {static}")
    return lines


def _check_before_opening(imsi: str, keys: dict[str, str | None], amf: int, sqn: int, msisdn: str | None,
                          apns: list[str]) -> None:
    """Refuse what needs no store before opening one: opening for `add` creates the key file and database."""
    try:
        validate.imsi(imsi)
        for name, value in keys.items():
            if value is not None:
                validate.key(name, value)
        validate.amf(amf)
        validate.sqn(sqn)
        validate.optional_digits("msisdn", msisdn, 1, 15)
        validate.apn_names(apns)
    except StoreError as err:
        raise refused(err) from None


@subscriber_app.command("add")
def add(
    imsi: str = typer.Option(..., "--imsi", help="15 digits (or 6 to 15)"),
    ki: str = typer.Option(..., "--ki", help=f"K, {SECRET_HELP}"),
    opc: str | None = typer.Option(None, "--opc", help=f"OPc (or give --op), {SECRET_HELP}"),
    op: str | None = typer.Option(None, "--op", help=f"OP, OPc is derived from it; {SECRET_HELP}"),
    amf: str = typer.Option("8000", "--amf", help="AMF, 4 hex digits"),
    sqn: int = typer.Option(0, "--sqn", help="the last SQN used, decimal"),
    msisdn: str | None = typer.Option(None, "--msisdn"),
    apn: list[str] = typer.Option([], "--apn", help="APN name (repeatable); the first is the default"),
    config: str | None = ConfigOption,
) -> None:
    """Provision a subscriber. An APN with no profile yet gets the default one (QCI 9, ARP 8)."""
    if (opc is None) == (op is None):
        raise fail("give exactly one of --opc and --op", 2)
    try:
        ki, opc, op = read_secret(ki, "--ki") or "", read_secret(opc, "--opc"), read_secret(op, "--op")
    except SecretInputError as err:
        raise fail(str(err), 2) from None
    amf_value = _hex_int(amf, "--amf")
    _check_before_opening(imsi, {"ki": ki, "opc": opc, "op": op}, amf_value, sqn, msisdn, apn)
    store = _open(config, "create")
    try:
        added = store.add_subscriber(imsi, ki=ki, opc=opc, op=op, amf=amf_value, sqn=sqn,
                                     msisdn=msisdn, apns=apn)
    except StoreError as err:
        raise refused(err) from None
    finally:
        store.close()
    for name in added.created_apns:
        typer.echo(f"created APN profile {name!r} with the default QoS (QCI 9, ARP priority 8, no pre-emption)")
    typer.echo(f"added subscriber {added.subscriber.imsi}")


@subscriber_app.command("show")
def show(imsi: str = typer.Argument(...), config: str | None = ConfigOption) -> None:
    """A subscriber's profile, APNs and serving MME (no keys)."""
    _checked("IMSI", imsi, 6)
    store = _open(config)
    try:
        sub = store.get_subscriber(imsi)
        serving = store.get_serving(imsi)
    except NotFound as err:
        raise fail(str(err)) from None
    finally:
        store.close()
    for line in describe(sub):
        typer.echo(line)
    mme = serving.mme
    typer.echo(f"serving mme: {mme.host + (' (purged)' if mme.purged else '') if mme else '-'}")


@subscriber_app.command("list")
def list_(
    prefix: str | None = typer.Option(None, "--prefix", help="IMSI prefix"),
    # the store serves at most 10,000 a page and SQLite takes a signed 64-bit offset: refused, not clipped
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    offset: int = typer.Option(0, "--offset", min=0, max=2**63 - 1),
    config: str | None = ConfigOption,
) -> None:
    """IMSI, MSISDN, state and APNs, one subscriber a line, ordered by IMSI."""
    if prefix is not None:
        _checked("--prefix", prefix, 1)
    store = _open(config)
    try:
        subs = store.list_subscribers(offset, limit, SubscriberFilter(imsi_prefix=prefix))
    finally:
        store.close()
    for s in subs:
        apns = ",".join(a.name for a in s.apns) or "-"
        typer.echo(f"{s.imsi}  {s.msisdn or '-':15}  {'enabled ' if s.enabled else 'disabled'}  {apns}")
    if not subs:
        where = f" with IMSI prefix {prefix}" if prefix else ""
        typer.echo(f"no subscribers{where}{f' after the first {offset}' if offset else ''}", err=True)


@subscriber_app.command("delete")
def delete(imsi: str = typer.Argument(...), config: str | None = ConfigOption) -> None:
    """Remove a subscriber and everything stored about it."""
    _checked("IMSI", imsi, 6)
    store = _open(config)
    try:
        store.delete_subscriber(imsi)
    except NotFound as err:
        raise fail(str(err)) from None
    finally:
        store.close()
    typer.echo(f"deleted subscriber {imsi}")


@app.command("demo")
def demo(config: str | None = ConfigOption) -> None:
    """Make the demo ready: key-encryption key file, database, demo subscriber (idempotent)."""
    try:
        cfg = load_config(config)
    except ConfigError as err:
        raise fail(str(err), 2) from None
    key_file = cfg.database.key_file
    if key_file:
        existed = Path(key_file).exists()
        create_key_file(key_file)
        if not existed:
            typer.echo(f"created key-encryption key {key_file} (mode 0600; back it up)")
    store = _open(config, "create")
    try:
        store.get_subscriber(DEMO_IMSI)
        typer.echo(f"demo subscriber {DEMO_IMSI} already provisioned")
    except NotFound:
        try:
            added = store.add_subscriber(DEMO_IMSI, ki=DEMO_KI, opc=DEMO_OPC, msisdn=DEMO_MSISDN, apns=[DEMO_APN])
        except StoreError as err:
            raise refused(err) from None
        for name in added.created_apns:
            typer.echo(f"created APN profile {name!r} with the default QoS (QCI 9, ARP priority 8)")
        typer.echo(f"provisioned demo subscriber {DEMO_IMSI} (TS 35.207 test set 1 keys), MSISDN {DEMO_MSISDN}")
    finally:
        store.close()


SUMMARY = "HSS (S6a/S6d and SLh; subscribers and APNs)"


def register(_app: typer.Typer) -> None:
    """Commands are attached to the shared groups at import; nothing else to add."""
