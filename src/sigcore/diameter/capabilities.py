"""Capabilities exchange (RFC 6733 §5.3): what we advertise in CER/CEA and what we share with a peer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import AppId, Cmd, DisconnectCause, ResultCode
from sigcore.diameter.dictionary import DICTIONARY
from sigcore.diameter.message import Message

_D = DICTIONARY
RELAY = int(AppId.RELAY)


@dataclass(slots=True)
class LocalCapabilities:
    """Our side of the capabilities exchange. Application ids may be vendor-specific."""

    identity: Identity
    auth_apps: dict[int, int] = field(default_factory=dict)  # application id -> vendor id (0 = none)
    acct_apps: dict[int, int] = field(default_factory=dict)
    supported_vendors: set[int] = field(default_factory=set)
    inband_security: list[int] = field(default_factory=list)

    @property
    def applications(self) -> frozenset[int]:
        return frozenset(self.auth_apps) | frozenset(self.acct_apps)

    def avps(self) -> list[Avp]:
        """The capability AVPs common to CER and CEA (after Origin-*)."""
        ident = self.identity
        out = [_D.build("Host-IP-Address", ip) for ip in ident.host_ip_addresses]
        out.append(_D.build("Vendor-Id", ident.vendor_id))
        out.append(_D.build("Product-Name", ident.product_name))
        out.append(_D.build("Origin-State-Id", ident.origin_state_id))
        vendors = set(self.supported_vendors) | {v for v in self.auth_apps.values() if v}
        vendors |= {v for v in self.acct_apps.values() if v}
        out.extend(_D.build("Supported-Vendor-Id", v) for v in sorted(vendors))
        for kind, apps in (("Auth-Application-Id", self.auth_apps), ("Acct-Application-Id", self.acct_apps)):
            for app, vendor in sorted(apps.items()):
                if vendor:
                    out.append(_D.build("Vendor-Specific-Application-Id", [("Vendor-Id", vendor), (kind, app)]))
                else:
                    out.append(_D.build(kind, app))
        out.extend(_D.build("Inband-Security-Id", s) for s in self.inband_security)
        out.append(_D.build("Firmware-Revision", ident.firmware_revision))
        return out


def remote_applications(msg: Message) -> frozenset[int]:
    """Every application id a CER/CEA advertises, plain or vendor-specific."""
    apps: set[int] = set()
    for name in ("Auth-Application-Id", "Acct-Application-Id"):
        apps.update(int(v) for v in msg_values(msg, name))
    for vsai in msg_values(msg, "Vendor-Specific-Application-Id"):
        for name in ("Auth-Application-Id", "Acct-Application-Id"):
            apps.update(int(v) for v in vsai.get_all(name))
    return frozenset(apps)


def msg_values(msg: Message, name: str) -> list[Any]:
    return _D.get_values(msg.avps, name)


def common_applications(local: frozenset[int], remote: frozenset[int]) -> frozenset[int]:
    """The intersection, where a Relay (0xffffffff) on either side stands for everything."""
    local = local - {0}
    remote = remote - {0}
    if RELAY in local and RELAY in remote:
        return frozenset({RELAY})
    if RELAY in local:
        return remote
    if RELAY in remote:
        return local
    return local & remote


def summarise(msg: Message) -> dict[str, Any]:
    """The peer's capabilities as plain data (for the API's peer listing and for logs)."""
    return {
        "origin_host": msg.get("Origin-Host"),
        "origin_realm": msg.get("Origin-Realm"),
        "host_ip_addresses": [str(a) for a in msg_values(msg, "Host-IP-Address")],
        "vendor_id": msg.get("Vendor-Id"),
        "product_name": msg.get("Product-Name"),
        "firmware_revision": msg.get("Firmware-Revision"),
        "origin_state_id": msg.get("Origin-State-Id"),
        "applications": sorted(remote_applications(msg)),
    }


def make_cer(local: LocalCapabilities) -> Message:
    return Message(Cmd.CAPABILITIES_EXCHANGE, 0, 0x80, 0, 0, local.identity.origin_avps + local.avps())


def make_cea(cer: Message, local: LocalCapabilities, result_code: int, error: str | None = None) -> Message:
    msg = answer(cer, local.identity, result_code, error_message=error)
    # CEA CCF: Result-Code, Origin-Host, Origin-Realm, then the capability AVPs.
    msg.avps.extend(local.avps())
    return msg


def make_dwr(identity: Identity) -> Message:
    return Message(Cmd.DEVICE_WATCHDOG, 0, 0x80, 0, 0,
                   [*identity.origin_avps, _D.build("Origin-State-Id", identity.origin_state_id)])


def make_dwa(dwr: Message, identity: Identity) -> Message:
    msg = answer(dwr, identity, ResultCode.SUCCESS)
    msg.avps.append(_D.build("Origin-State-Id", identity.origin_state_id))
    return msg


def make_dpr(identity: Identity, cause: DisconnectCause) -> Message:
    return Message(Cmd.DISCONNECT_PEER, 0, 0x80, 0, 0,
                   [*identity.origin_avps, _D.build("Disconnect-Cause", int(cause))])


def make_dpa(dpr: Message, identity: Identity) -> Message:
    return answer(dpr, identity, ResultCode.SUCCESS)
