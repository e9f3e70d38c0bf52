"""The requests `sigcore bench` sends: S6a AIR/ULR and Cx MAR/SAR, built once per user and then only their
hop-by-hop/end-to-end ids patched, so the generator costs little next to the node it measures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sigcore.diameter.dictionary import DICTIONARY as D
from sigcore.diameter.message import Message

S6A, CX, VENDOR_3GPP = 16777251, 16777216, 10415
AIR, ULR, MAR, SAR, CER = 318, 316, 303, 301, 257
VISITED_PLMN = bytes.fromhex("00f110")  # MCC 001, MNC 01


@dataclass(slots=True)
class Target:
    """Who the requests come from and where they are addressed."""

    origin_realm: str = "localdomain"
    destination_realm: str = "localdomain"
    destination_host: str | None = None
    imsi_first: int = 1010000000000  # 001010000000000: MCC 001 MNC 01, as bench/s6a.py provisions
    ims_domain: str = "localdomain"
    server_name: str = "sip:scscf.localdomain:6060"

    def imsi(self, n: int) -> str:
        return f"{self.imsi_first + n:015d}"


def _head(t: Target, app: int, origin: str, n: int, user: str) -> list[tuple[str, Any]]:
    avps: list[tuple[str, Any]] = [
        ("Session-Id", f"{origin};bench;{n}"),
        ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR_3GPP), ("Auth-Application-Id", app)]),
        ("Auth-Session-State", 1), ("Origin-Host", origin), ("Origin-Realm", t.origin_realm)]
    if t.destination_host:
        avps.append(("Destination-Host", t.destination_host))
    return [*avps, ("Destination-Realm", t.destination_realm), ("User-Name", user)]


def air(t: Target, origin: str, n: int) -> bytes:
    avps = [*_head(t, S6A, origin, n, t.imsi(n)),
            ("Requested-EUTRAN-Authentication-Info", [("Number-Of-Requested-Vectors", 1),
                                                      ("Immediate-Response-Preferred", 0)]),
            ("Visited-PLMN-Id", VISITED_PLMN)]
    return Message(AIR, S6A, 0xC0, 0, 0, D.build_many(avps)).encode()


def ulr(t: Target, origin: str, n: int) -> bytes:
    avps = [*_head(t, S6A, origin, n, t.imsi(n)), ("RAT-Type", 1004), ("ULR-Flags", 0b10),
            ("Visited-PLMN-Id", VISITED_PLMN)]
    return Message(ULR, S6A, 0xC0, 0, 0, D.build_many(avps)).encode()


def mar(t: Target, origin: str, n: int) -> bytes:
    avps = [*_head(t, CX, origin, n, f"u{n}@{t.ims_domain}"), ("Public-Identity", f"sip:u{n}@{t.ims_domain}"),
            ("SIP-Auth-Data-Item", [("SIP-Authentication-Scheme", "Digest-AKAv1-MD5")]),
            ("SIP-Number-Auth-Items", 1), ("Server-Name", t.server_name)]
    return Message(MAR, CX, 0xC0, 0, 0, D.build_many(avps)).encode()


def sar(t: Target, origin: str, n: int) -> bytes:
    avps = [*_head(t, CX, origin, n, f"u{n}@{t.ims_domain}"), ("Public-Identity", f"sip:u{n}@{t.ims_domain}"),
            ("Server-Name", t.server_name), ("Server-Assignment-Type", 2),  # RE_REGISTRATION
            ("User-Data-Already-Available", 0)]
    return Message(SAR, CX, 0xC0, 0, 0, D.build_many(avps)).encode()


KINDS: dict[str, tuple[int, Callable[[Target, str, int], bytes]]] = {
    "air": (S6A, air), "ulr": (S6A, ulr), "mar": (CX, mar), "sar": (CX, sar)}


def cer(t: Target, origin: str, apps: set[int]) -> bytes:
    avps: list[tuple[str, Any]] = [
        ("Origin-Host", origin), ("Origin-Realm", t.origin_realm), ("Host-IP-Address", "127.0.0.1"),
        ("Vendor-Id", 0), ("Product-Name", "sigcore-bench"), ("Supported-Vendor-Id", VENDOR_3GPP)]
    avps += [("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR_3GPP), ("Auth-Application-Id", app)])
             for app in sorted(apps)]
    return Message(CER, 0, 0x80, 1, 1, D.build_many(avps)).encode()


def parse_mix(text: str) -> list[tuple[str, int]]:
    """``air=3,ulr=1`` (or ``air``) -> [("air", 3), ("ulr", 1)]; ValueError with a message otherwise."""
    mix: list[tuple[str, int]] = []
    for part in text.split(","):
        kind, _, share = part.strip().partition("=")
        kind = kind.strip().lower()
        if kind not in KINDS:
            raise ValueError(f"unknown request kind {kind!r} (known: {', '.join(KINDS)})")
        try:
            weight = int(share) if share else 1
        except ValueError:
            raise ValueError(f"{part!r}: the share after '=' must be a whole number") from None
        if weight < 1:
            raise ValueError(f"{part!r}: the share must be at least 1")
        mix.append((kind, weight))
    return mix


def interleave(mix: list[tuple[str, int]], count: int) -> list[str]:
    """``count`` kinds in proportion to the mix, spread out (smooth weighted round robin)."""
    total = sum(w for _, w in mix)
    current = [0] * len(mix)
    out = []
    for _ in range(count):
        for i, (_, w) in enumerate(mix):
            current[i] += w
        best = max(range(len(mix)), key=lambda i: current[i])
        current[best] -= total
        out.append(mix[best][0])
    return out
