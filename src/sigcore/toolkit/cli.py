"""`sigcore` sub-commands of the toolkit: tbcd, plmn, fteid, sim, capture. Attached by :func:`register`."""

from __future__ import annotations

import ipaddress
import json
import re
import string
import sys
import time
from typing import Any

import typer

from sigcore.cli_groups import fail
from sigcore.secret_input import SECRET_HELP, SecretInputError, read_secret
from sigcore.toolkit import capture as capture_mod
from sigcore.toolkit import gtpv2, plmn, tbcd

tbcd_app = typer.Typer(help="TBCD (TS 29.002) digit strings: MSISDN, IMSI AVPs.", no_args_is_help=True)
plmn_app = typer.Typer(help="PLMN identities (MCC+MNC in 3 octets).", no_args_is_help=True)
fteid_app = typer.Typer(help="GTPv2 F-TEID information elements (TS 29.274 §8.22).", no_args_is_help=True)
sim_app = typer.Typer(help="SIM/USIM cards over PC/SC.", no_args_is_help=True)


def _hex(value: str) -> bytes:
    try:
        data = bytes.fromhex(value.replace(" ", "").replace(":", ""))
    except ValueError:
        raise fail(f"not hexadecimal: {value!r}", 2) from None
    if not data:  # '' decoded to an empty line and exit 0
        raise fail(f"no octets in {value!r}", 2)
    return data


@tbcd_app.command("encode")
def tbcd_encode(digits: str = typer.Argument(..., help="digits 0-9 * # a b c")) -> None:
    """Print the TBCD encoding as hex, e.g. 123456 -> 214365."""
    if not digits:  # printed an empty line with exit 0
        raise fail("no digits to encode", 2)
    try:
        typer.echo(tbcd.encode(digits).hex())
    except ValueError as err:
        raise fail(str(err), 2) from None


@tbcd_app.command("decode")
def tbcd_decode(data: str = typer.Argument(..., help="hex octets, e.g. 21f3")) -> None:
    """Print the digits of TBCD hex, e.g. 21f3 -> 123."""
    try:
        typer.echo(tbcd.decode(_hex(data)))
    except ValueError as err:
        raise fail(str(err), 2) from None


@plmn_app.command("encode")
def plmn_encode(mcc: str, mnc: str) -> None:
    """Print the 3-octet PLMN identity as hex, e.g. 001 01 -> 00f110."""
    try:
        typer.echo(plmn.encode(mcc, mnc).hex())
    except ValueError as err:
        raise fail(str(err), 2) from None


@plmn_app.command("decode")
def plmn_decode(data: str) -> None:
    """Print MCC and MNC of a PLMN identity in hex."""
    try:
        mcc, mnc = plmn.decode(_hex(data))
    except ValueError as err:
        raise fail(str(err), 2) from None
    typer.echo(f"MCC {mcc} MNC {mnc}")


@fteid_app.command("decode")
def fteid_decode(data: str = typer.Argument(..., help="the whole IE in hex, starting with 57")) -> None:
    """Explain an F-TEID IE: interface type, TEID, addresses."""
    try:
        fteid = gtpv2.FTEID.decode(_hex(data))
    except ValueError as err:
        raise fail(str(err), 2) from None
    kind = fteid.interface_type
    name = kind.description if isinstance(kind, gtpv2.InterfaceType) else "spare/unknown"
    typer.echo(f"interface type {int(kind)} ({name})\nTEID/GRE key 0x{fteid.teid:08x}")
    for address in (fteid.ipv4, fteid.ipv6):
        if address is not None:
            typer.echo(f"IPv{address.version} {address}")


@fteid_app.command("encode")
def fteid_encode(interface_type: int, teid: str = typer.Argument(..., help="decimal or 0x-hex"),
                 ipv4: str | None = typer.Option(None), ipv6: str | None = typer.Option(None),
                 instance: int = typer.Option(0, min=0, max=15, help="IE instance (4 bits)")) -> None:
    """Print an F-TEID IE as hex."""
    # int(teid, 0) refused a decimal with a leading zero ('010') and took '1_0', '0o7' and non-ASCII digits
    number = re.fullmatch(r"0[xX]([0-9A-Fa-f]+)|([0-9]+)", teid)
    if number is None:
        raise fail(f"TEID must be decimal or 0x-hex, got {teid!r}", 2)
    try:
        teid_value = int(number[1], 16) if number[1] else int(number[2])
    except ValueError:  # past Python's 4300 decimal digits
        raise fail(f"TEID must fit 32 bits, got {len(teid)} digits", 2) from None
    for option, value, kind in (("--ipv4", ipv4, ipaddress.IPv4Address), ("--ipv6", ipv6, ipaddress.IPv6Address)):
        try:
            if value is not None:
                kind(value)
        except ValueError:  # ipaddress's own words did not say which option ("Address cannot be empty")
            raise fail(f"{option}: not an {kind.__name__[:4]} address: {value!r}", 2) from None
    try:
        fteid = gtpv2.FTEID(interface_type, teid_value, ipv4, ipv6, instance)  # type: ignore[arg-type]
    except ValueError as err:
        raise fail(str(err), 2) from None
    typer.echo(fteid.encode().hex())


@fteid_app.command("types")
def fteid_types() -> None:
    """List the interface types of TS 29.274 Table 8.22-1."""
    for kind in gtpv2.InterfaceType:
        typer.echo(f"{kind.value:2d}  {kind.description}")


def _parse_path(value: str) -> list[int]:
    parts = value.replace("/", " ").split()
    # an empty path, a FID past 2 octets or a negative one reached the card and ended in a traceback
    if not parts or not all(len(part) == 4 and all(c in string.hexdigits for c in part) for part in parts):
        raise fail(f"--file: a file path is 4-hex-digit FIDs separated by '/', e.g. 3F00/2FE2; got {value!r}", 2)
    return [int(part, 16) for part in parts]


@sim_app.command("read")
def sim_read(reader: int = typer.Option(0, "--reader", "-r", min=0, help="reader index (see --list)"),
             list_only: bool = typer.Option(False, "--list", help="only list the readers"),
             path: str | None = typer.Option(None, "--file", help="also dump an EF, e.g. 3F00/2FE2"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Read ICCID, IMSI and MNC length from a SIM card; explain any error status word."""
    from sigcore.toolkit.sim import ApduError, CardIOError, pcsc, read_path, read_sim

    fids = _parse_path(path) if path is not None else []  # before the card is touched
    try:
        if list_only:
            for index, name in enumerate(pcsc.list_readers()):
                typer.echo(f"{index}: {name}")
            return
        name, card = pcsc.connect(reader)
    except pcsc.ReaderError as err:
        raise fail(str(err), 2) from None
    report = read_sim(card)
    dump: str | None = None
    if path is not None:
        try:
            dump = read_path(card, fids).hex()
        except (ApduError, CardIOError) as err:
            report.errors[path] = str(err)
    result = _report_fields(name, report)
    if dump is not None:
        result[f"file {path}"] = dump
    if as_json:
        typer.echo(json.dumps({**result, "errors": report.errors}, indent=2))
    else:
        for key, value in result.items():
            typer.echo(f"{key:<12} {value}")
        for step, message in report.errors.items():
            typer.echo(f"{step:<12} unavailable: {message}")
    if report.iccid is None and report.imsi is None:
        raise typer.Exit(3)


@sim_app.command("provision")
def sim_provision(reader: int = typer.Option(0, "--reader", "-r", min=0, help="reader index (see sim read --list)"),
                  ki: str = typer.Option(..., "--ki", help=f"subscriber key K (never printed), {SECRET_HELP}"),
                  opc: str = typer.Option(..., "--opc", help=f"OPc (never printed), {SECRET_HELP}"),
                  apn: list[str] = typer.Option([], "--apn", help="APN to allow; repeatable"),
                  config: str | None = typer.Option(None, "--config", "-c", help="YAML config (database)"),
                  ) -> None:
    """Create the card's subscriber (IMSI and ICCID read from the card) in the HSS store."""
    from sigcore.config import ConfigError, load_config
    from sigcore.store import Store, StoreError, validate
    from sigcore.toolkit.sim import pcsc, read_sim

    try:  # every argument before the card: a typo must not cost a card read (or a card in the reader)
        ki, opc = read_secret(ki, "--ki") or "", read_secret(opc, "--opc") or ""
        validate.key("--ki", ki)
        validate.key("--opc", opc)
        for name in apn:
            validate.apn_name(name)
        database = load_config(config).database
    except (SecretInputError, StoreError) as err:
        raise fail(str(err), 2) from None
    except ConfigError as err:
        raise fail(f"invalid configuration: {err}", 2) from None
    try:
        _, card = pcsc.connect(reader)
    except pcsc.ReaderError as err:
        raise fail(str(err), 2) from None
    report = read_sim(card)
    if report.imsi is None:
        reason = report.errors.get("IMSI", "; ".join(report.errors.values()))
        raise fail(f"cannot provision without the IMSI: {reason}", 3)
    profile: dict[str, Any] = {"iccid": report.iccid.number} if report.iccid is not None else {}
    try:
        store = Store.from_config(database)
        store.add_subscriber(report.imsi, ki=ki, opc=opc, apns=apn, **profile)
    except (StoreError, ValueError) as err:
        raise fail(f"provisioning IMSI {report.imsi} failed: {err}") from None
    typer.echo(f"provisioned IMSI {report.imsi}" + (f" (ICCID {report.iccid.number})" if report.iccid else ""))


def _report_fields(reader_name: str, report: object) -> dict[str, str]:
    from sigcore.toolkit.sim import SimReport

    assert isinstance(report, SimReport)
    fields = {"reader": reader_name}
    if report.iccid is not None:
        check = "Luhn check digit ok" if report.iccid.luhn_ok else "Luhn check digit WRONG"
        fields["ICCID"] = f"{report.iccid.number} ({check})"
    if report.usim is not None:
        fields["USIM AID"] = report.usim.aid.hex().upper()
    if report.imsi is not None:
        fields["IMSI"] = report.imsi
    parts = report.imsi_parts
    if parts is not None:
        fields["MCC/MNC"] = f"{parts.mcc}/{parts.mnc} (MSIN {parts.msin})"
    return fields


def capture(dst: str = typer.Option(..., "--dst", help="collector HOST[:PORT], TZSP port 37008 by default"),
            interface: str = typer.Option("any", "--interface", "-i"),
            bpf: str = typer.Option("", "--filter", "-f", help="BPF capture filter, e.g. 'port 3868'"),
            count: int | None = typer.Option(None, "--count", "-c", min=1, help="stop after N packets")) -> None:
    """Stream captured packets as TZSP to a remote Wireshark (Scratch'n'Sniff); Ctrl-C stops."""
    try:
        collector = capture_mod.parse_destination(dst)
    except capture_mod.CaptureError as err:
        raise fail(str(err), 2) from None
    last_print = [0.0]

    def show(stats: capture_mod.CaptureStats) -> None:
        now = time.monotonic()
        if now - last_print[0] >= 0.5:
            last_print[0] = now
            sys.stderr.write(f"\r{stats.packets} packets, {stats.rate:.1f} pkt/s, {stats.octets} octets ")
            sys.stderr.flush()

    try:
        stats = capture_mod.stream(interface, bpf, collector, count,
                                   on_listening=lambda line: typer.echo(line, err=True), on_packet=show)
    except KeyboardInterrupt:
        typer.echo("\nstopped", err=True)
        return
    except (capture_mod.CaptureError, OSError) as err:
        raise fail(str(err), 2) from None
    typer.echo(f"\n{stats.packets} packets sent to {collector[0]}:{collector[1]} as TZSP "
               f"({stats.rate:.1f} pkt/s, {stats.skipped} skipped)", err=True)


SUMMARY = "telecom toolkit"


def register(app: typer.Typer) -> None:
    """Attach the toolkit's sub-commands to the main `sigcore` app."""
    app.add_typer(tbcd_app, name="tbcd")
    app.add_typer(plmn_app, name="plmn")
    app.add_typer(fteid_app, name="fteid")
    app.add_typer(sim_app, name="sim")
    app.command("capture")(capture)
