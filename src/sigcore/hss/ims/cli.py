"""`sigcore ims …`: provision IMS identities (the tour and the Kamailio tests use ``ims add``).

A SIP Digest password is turned into HA1 = MD5(impi:realm:password) before it reaches the store and is
never printed; ``--imsi`` links the IMPI to that subscriber's AKA keys (and S6a's SQN).
"""

from __future__ import annotations

import typer

from sigcore.cli_groups import ConfigOption, fail, ims_app, refused
from sigcore.config import ConfigError, load_config
from sigcore.hss.ims import identities
from sigcore.store import Store, StoreError, validate
from sigcore.store.ims import ImsStore
from sigcore.store.ims_models import PROFILE_NAME_LEN, URI_LEN

ImpuOption = typer.Option(..., "--impu", help="public identity (repeat for the implicit set; first is default)")
ImpiArgument = typer.Argument(..., help="private identity")


def _open(config: str | None) -> Store:
    try:
        return Store.from_config(load_config(config).database, auto_migrate=True)
    except (ConfigError, StoreError) as err:
        raise fail(str(err), 2) from None


@ims_app.command("add")
def add(
    impi: str = typer.Option(..., "--impi", help="private identity, e.g. alice@localdomain"),
    impu: list[str] = ImpuOption,
    password: str | None = typer.Option(None, "--password", help="SIP Digest password (stored as HA1 only)"),
    imsi: str | None = typer.Option(None, "--imsi", help="subscriber whose AKA credentials the IMPI uses"),
    scscf: str | None = typer.Option(None, "--scscf", help="preferred S-CSCF, e.g. sip:127.0.0.1:6060"),
    realm: str | None = typer.Option(None, "--realm", help="digest realm (default: the IMPI's domain)"),
    profile: str = typer.Option("default", "--profile", help="service profile name (created if missing)"),
    config: str | None = ConfigOption,
) -> None:
    """Add an IMPI with its IMPUs as one implicit registration set."""
    if (password is None) == (imsi is None):
        raise fail("give exactly one of --password (SIP Digest) or --imsi (AKA)", 2)
    try:  # before the store is opened (and created); as the API checks the same fields
        identities.private_identity(impi, "--impi")
        for uri in impu:
            identities.public_identity(uri, "--impu")
        if imsi is not None:  # '' made an IMPI with no credentials at all
            validate.digits("--imsi", imsi, 6, 15)
        if password is not None and not 1 <= len(password) <= identities.PASSWORD_LEN:  # '': HA1 of no password
            raise ValueError(f"--password: 1 to {identities.PASSWORD_LEN} characters")
        for option, value, longest in (("--realm", realm, URI_LEN), ("--scscf", scscf, URI_LEN)):
            if value is not None:  # a realm with a space or newline was stored; '' was the default realm
                identities.printable(option, value, longest)
        identities.printable("--profile", profile, PROFILE_NAME_LEN, path_segment=True)
    except (ValueError, StoreError) as err:
        raise fail(str(err), 2) from None
    store = _open(config)
    try:
        user = ImsStore(store).add_user(impi, impu, password=password, imsi=imsi, realm=realm, profile=profile,
                                        scscf=scscf)
    except StoreError as err:
        raise refused(err) from None
    finally:
        store.close()
    scheme = f"AKA (IMSI {user.imsi})" if user.imsi else f"SIP Digest (realm {user.digest_realm})"
    typer.echo(f"added {user.impi}: {', '.join(impu)}; {scheme}")


def _open_for(impi: str, config: str | None) -> Store:
    """The store, to find any stored IMPI; but a blank one (which was 'error: no IMPI ', exit 1) is refused."""
    if not impi.strip():
        raise fail(f"IMPI: an empty identity, got {impi!r}", 2)
    return _open(config)


@ims_app.command("show")
def show(impi: str = ImpiArgument, config: str | None = ConfigOption) -> None:
    """The IMPUs of an IMPI with their registration state and S-CSCF."""
    store = _open_for(impi, config)
    try:
        ims = ImsStore(store)
        user = ims.get_impi(impi)
        for i in ims.impus_of(user):
            barred = " (barred)" if i.barred else ""
            typer.echo(f"{i.impu}{barred}: {i.reg_state.value}" + (f" at {i.scscf_name}" if i.scscf_name else ""))
    except StoreError as err:
        raise refused(err) from None
    finally:
        store.close()


@ims_app.command("delete")
def delete(impi: str = ImpiArgument, config: str | None = ConfigOption) -> None:
    """Remove an IMPI and the IMPUs no other IMPI shares (no RTR is sent: deregister first)."""
    store = _open_for(impi, config)
    try:
        ImsStore(store).delete_user(impi)
    except StoreError as err:
        raise refused(err) from None
    finally:
        store.close()
    typer.echo(f"deleted {impi}")


SUMMARY = "IMS HSS (Cx/Dx, Sh)"


def register(_app: typer.Typer) -> None:
    """Commands are attached to the shared ``ims`` group at import; nothing else to add."""
