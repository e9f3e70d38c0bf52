"""Representative S6a messages for benchmarks: an AIR and a ~40-AVP ULA, built from values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.message import Message

S6A = 16777251
VENDOR_3GPP = 10415

Spec = list[tuple[str, object]]  # a message's AVPs as (name, value) pairs


def air_spec() -> list[tuple[str, object]]:
    return [
        ("Session-Id", "mme.epc.mnc001.mcc001.3gppnetwork.org;1234567;1;air"),
        ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR_3GPP), ("Auth-Application-Id", S6A)]),
        ("Auth-Session-State", 1),
        ("Origin-Host", "mme.epc.mnc001.mcc001.3gppnetwork.org"),
        ("Origin-Realm", "epc.mnc001.mcc001.3gppnetwork.org"),
        ("Destination-Realm", "localdomain"),
        ("User-Name", "001010000000001"),
        ("Requested-EUTRAN-Authentication-Info", [("Number-Of-Requested-Vectors", 1),
                                                  ("Immediate-Response-Preferred", 1)]),
        ("Visited-PLMN-Id", bytes.fromhex("00f110")),
    ]


def build_air(spec: Spec | None = None) -> Message:
    return D.message(318, S6A, 0xC0, air_spec() if spec is None else spec, 0x1234, 0x5678)


def _apn(ctx: int, name: str) -> list[tuple[str, object]]:
    return [
        ("Context-Identifier", ctx),
        ("PDN-Type", 0),
        ("Service-Selection", name),
        ("EPS-Subscribed-QoS-Profile", [
            ("QoS-Class-Identifier", 9),
            ("Allocation-Retention-Priority", [("Priority-Level", 8), ("Pre-emption-Capability", 1),
                                              ("Pre-emption-Vulnerability", 0)]),
        ]),
        ("AMBR", [("Max-Requested-Bandwidth-UL", 50_000_000), ("Max-Requested-Bandwidth-DL", 100_000_000)]),
    ]


def ula_spec() -> list[tuple[str, object]]:
    sub = [
        ("MSISDN", bytes.fromhex("5155214365f7")),
        ("Subscriber-Status", 0),
        ("Network-Access-Mode", 2),
        ("Access-Restriction-Data", 0),
        ("AMBR", [("Max-Requested-Bandwidth-UL", 100_000_000), ("Max-Requested-Bandwidth-DL", 200_000_000)]),
        ("APN-Configuration-Profile", [
            ("Context-Identifier", 1),
            ("All-APN-Configurations-Included-Indicator", 0),
            ("APN-Configuration", _apn(1, "internet")),
            ("APN-Configuration", _apn(2, "ims")),
        ]),
        ("Subscribed-Periodic-RAU-TAU-Timer", 600),
    ]
    return [
        ("Session-Id", "mme.epc.mnc001.mcc001.3gppnetwork.org;1234567;1;ulr"),
        ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR_3GPP), ("Auth-Application-Id", S6A)]),
        ("Result-Code", 2001),
        ("Auth-Session-State", 1),
        ("Origin-Host", "hss.localdomain"),
        ("Origin-Realm", "localdomain"),
        ("ULA-Flags", 1),
        ("Subscription-Data", sub),
    ]


def build_ula(spec: Spec | None = None) -> Message:
    return D.message(316, S6A, 0x40, ula_spec() if spec is None else spec, 0x1234, 0x5678)


@dataclass(frozen=True)
class Sample:
    label: str
    code: int
    build: Callable[[Spec | None], Message]


AIR = Sample("AIR", 318, build_air)
ULA = Sample("ULA", 316, build_ula)


def python_diameter_builder(spec: list[tuple[str, object]], code: int, request: bool):  # type: ignore[no-untyped-def]
    """A function building the same message with python-diameter's generic API (Avp.new from values);
    AVP codes are resolved once up front, which favours python-diameter."""
    from diameter.message import Message as PdMessage
    from diameter.message.avp import Avp as PdAvp

    def resolve(items: list[tuple[str, object]]) -> list[tuple[int, int, object]]:
        out = []
        for name, value in items:
            d = D.avp(name)
            if d.type == "Grouped":
                value = resolve(value)  # type: ignore[arg-type]
            elif d.type in ("DiameterIdentity", "DiameterURI") and isinstance(value, str):
                value = value.encode()  # python-diameter takes identities as bytes
            out.append((d.code, d.vendor, value))
        return out

    resolved = resolve(spec)

    def make(items: list[tuple[int, int, object]]) -> list[PdAvp]:
        return [PdAvp.new(c, v, value=make(val) if isinstance(val, list) else val) for c, v, val in items]

    def build() -> bytes:
        msg = PdMessage()
        msg.header.command_code = code
        msg.header.application_id = S6A
        msg.header.is_request = request
        msg.avps = make(resolved)
        return msg.as_bytes()

    return build


def count_avps(msg: Message) -> int:
    def walk(avps: list) -> int:  # type: ignore[type-arg]
        n = 0
        for a in avps:
            n += 1
            d = D.avps.get((a.code, a.vendor))
            if d is not None and d.type == "Grouped":
                n += walk(a.children())
        return n

    return walk(msg.avps)
