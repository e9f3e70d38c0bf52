"""`sigcore bench`: load a Diameter node (an HSS, a DRA, anyone's) with S6a/Cx requests and report the rate
and latency percentiles, as text or JSON."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from sigcore.config_checks import diameter_identity
from sigcore.loadgen.requests import Target, parse_mix
from sigcore.loadgen.run import TEMPLATES, LoadError, LoadReport, LoadSpec, run_load

USER_UNKNOWN = 5001  # the 3GPP Experimental-Result-Code of S6a (TS 29.272) and Cx (TS 29.229)
LAST_IMSI = 10**15 - 1


def bench(
    target: str = typer.Option("127.0.0.1:3868", "--target", "-t", help="HOST:PORT of the node under load"),
    mix: str = typer.Option("air", "--mix", "-m", help="request kinds and shares: air, ulr, mar, sar, e.g. "
                                                       "'air=3,ulr=1'"),
    connections: int = typer.Option(4, "--connections", "-n", min=1, help="Diameter connections"),
    window: int = typer.Option(32, "--window", "-w", min=1, help="requests in flight per connection"),
    rate: float = typer.Option(0.0, "--rate", "-r", min=0, help="target requests/s in total (0: as fast as "
                                                                "answered)"),
    duration: float = typer.Option(10.0, "--duration", "-d", min=0.1, help="seconds of load"),
    users: int = typer.Option(1000, "--users", min=1, help="distinct IMSIs / IMS users, split over connections"),
    imsi_first: str = typer.Option("001010000000000", "--imsi-first", help="first IMSI (15 digits)"),
    origin_realm: str = typer.Option("localdomain", "--origin-realm"),
    destination_realm: str = typer.Option("localdomain", "--destination-realm"),
    destination_host: str | None = typer.Option(None, "--destination-host"),
    processes: int = typer.Option(0, "--processes", "-p", min=0, help="client processes (0: one per CPU, at "
                                                                      "most one per connection)"),
    json_out: str | None = typer.Option(None, "--json", help="also write the report as JSON to this file "
                                                             "('-': stdout, instead of the text)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress lines"),
) -> None:
    """Load a Diameter node with S6a AIR/ULR and Cx MAR/SAR and report the answered rate and latency."""
    host, _, port_text = target.rpartition(":")
    # port 99999 was an "internal error in the load generator", port 0 a "connection refused"
    if not host or not (port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise typer.BadParameter(f"expected HOST:PORT with a port from 1 to 65535, got {target!r}",
                                 param_hint="--target")
    if not (imsi_first.isascii() and imsi_first.isdigit() and len(imsi_first) == 15):
        raise typer.BadParameter("an IMSI is 15 digits", param_hint="--imsi-first")
    try:
        kinds = parse_mix(mix)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--mix") from None
    if users > TEMPLATES * connections:  # the others were never asked for, yet named in the report
        raise typer.BadParameter(f"at most {TEMPLATES} per connection ({TEMPLATES * connections} with "
                                 f"--connections {connections}), got {users}", param_hint="--users")
    if {"air", "ulr"} & {kind for kind, _ in kinds} and int(imsi_first) + users - 1 > LAST_IMSI:
        # the IMSIs past the last one had 16 digits and more, sent as they were
        raise typer.BadParameter(f"{users} IMSIs from {imsi_first} go past {LAST_IMSI}", param_hint="--users")
    for option, name in (("--origin-realm", origin_realm), ("--destination-realm", destination_realm),
                         ("--destination-host", destination_host)):
        try:  # an empty or multi-line realm went into every request, which the node could only refuse
            if name is not None:
                diameter_identity(name)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint=option) from None
    if json_out is not None and json_out != "-" and (problem := _unwritable(json_out)):
        # found only after the whole run (a traceback), or '' silently wrote nothing
        raise typer.BadParameter(f"{problem}: {json_out!r}", param_hint="--json")
    spec = LoadSpec(port=int(port_text), host=host.strip("[]"), mix=kinds, connections=connections, window=window,
                    rate=rate or None, duration=duration, users=users,
                    target=Target(origin_realm, destination_realm, destination_host, int(imsi_first)),
                    processes=processes or min(connections, os.cpu_count() or 1))

    def progress(elapsed: float, answered: int) -> None:
        if not quiet:
            typer.echo(f"{elapsed:6.1f} s  {answered:9d} answered", err=True)

    try:
        report = run_load(spec, progress)
    except LoadError as err:
        typer.echo(f"bench failed: {err}", err=True)
        raise typer.Exit(1) from None
    if json_out == "-":
        sys.stdout.write(report.to_json() + "\n")
    else:
        typer.echo(report.text())
        _explain(report, spec)
        if json_out:
            Path(json_out).write_text(report.to_json() + "\n")
    if report.lost_connections:
        dpr = f" ({report.dpr_connections} with DPR: the node is stopping)" if report.dpr_connections else ""
        typer.echo(f"bench failed: {spec.host}:{spec.port} closed {report.lost_connections} of {spec.connections} "
                   f"connections before the end of the run{dpr}", err=True)
        raise typer.Exit(1)
    if report.unanswered:  # a node that froze: the figures above are not a rate a script may rely on
        typer.echo(f"bench failed: {spec.host}:{spec.port} left {report.unanswered} of {report.sent} requests "
                   f"unanswered", err=True)
        raise typer.Exit(1)


def _unwritable(path: str) -> str | None:
    """Why the report could not be written to `path` after the run, or None."""
    if not path.strip():
        return "an empty path"
    where = Path(path)
    if where.is_dir():
        return "a directory"
    if not where.parent.is_dir():
        return "no such directory"
    if not os.access(where if where.exists() else where.parent, os.W_OK):
        return "not writable"
    return None


def _explain(report: LoadReport, spec: LoadSpec) -> None:
    """What the figures alone do not say: unknown users, answers that never came."""
    if unknown := report.results.get(str(USER_UNKNOWN)):
        typer.echo(f"{unknown} answers were {USER_UNKNOWN} (DIAMETER_ERROR_USER_UNKNOWN): the node does not know "
                   f"{_users(spec)}; provision them there, or choose others with --imsi-first and --users", err=True)
    if report.unanswered:
        typer.echo(f"{report.unanswered} requests got no answer (the node stopped answering, or answered too late)",
                   err=True)


def _users(spec: LoadSpec) -> str:
    """The users a run asked about, as the operator would provision them."""
    kinds = {kind for kind, _ in spec.mix}
    last = spec.users - 1
    named = []
    if kinds & {"air", "ulr"}:
        named.append(f"the IMSIs {spec.target.imsi(0)} to {spec.target.imsi(last)}")
    if kinds & {"mar", "sar"}:
        named.append(f"the IMS users u0@{spec.target.ims_domain} to u{last}@{spec.target.ims_domain}")
    return " and ".join(named)


SUMMARY = "Diameter load generator (bench)"


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
