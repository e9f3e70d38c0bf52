"""Checks the Diameter dictionary data (src/sigcore/diameter/dictdata/*.json) on its own terms and
against Wireshark's independent dictionary.

Pure JSON and XML parsing: nothing here imports sigcore, so a broken loader cannot hide a broken
data file. The Wireshark reader at the top is also used by tools/gen_dictionary.py.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DICTDATA = Path(__file__).resolve().parents[2] / "src" / "sigcore" / "diameter" / "dictdata"
WIRESHARK_DIR = Path("/usr/share/wireshark/diameter")

RFC6733_TYPES = frozenset(
    {
        "OctetString",
        "Integer32",
        "Integer64",
        "Unsigned32",
        "Unsigned64",
        "Float32",
        "Float64",
        "Grouped",
        "Address",
        "Time",
        "UTF8String",
        "DiameterIdentity",
        "DiameterURI",
        "Enumerated",
        "IPFilterRule",
    }
)

# Wireshark type name -> the RFC 6733 types it may stand for. Wireshark adds display-only names:
# IPAddress is RFC 6733 Address; AppId and VendorId are Unsigned32 with a name lookup;
# QoSFilterRule (RFC 4005/TS 29.212) is carried in an OctetString, as in our data (docs/dictionary.md);
# OctetStringOrUTF8 is Wireshark's "show as text if printable" for 3GPP AVPs the specs type either way;
# MIPRegistrationRequest is an OctetString holding a Mobile IPv4 message.
WIRESHARK_TYPE_MAP: dict[str, frozenset[str]] = {
    "IPAddress": frozenset({"Address"}),
    "AppId": frozenset({"Unsigned32"}),
    "VendorId": frozenset({"Unsigned32"}),
    "QoSFilterRule": frozenset({"OctetString"}),
    "OctetStringOrUTF8": frozenset({"OctetString", "UTF8String"}),
    "MIPRegistrationRequest": frozenset({"OctetString"}),
}

# (code, vendor) -> (Wireshark's type, why ours differs). Each entry is a Wireshark error against the
# spec clause cited; our JSON keeps the spec's type. A stale entry (Wireshark fixed, or our data
# changed) fails test_wireshark_exceptions_are_all_needed.
WIRESHARK_TYPE_EXCEPTIONS: dict[tuple[int, int], tuple[str, str]] = {
    # Wireshark declares these Enumerated only to print value names; RFC 6733 types them Unsigned32
    # (the wire format is the same 32 bits, but the sign and the "unknown value" rule differ).
    (268, 0): ("Enumerated", "Result-Code: RFC 6733 §7.1 Unsigned32"),
    (298, 0): ("Enumerated", "Experimental-Result-Code: RFC 6733 §7.7 Unsigned32"),
    (299, 0): ("Enumerated", "Inband-Security-Id: RFC 6733 §6.10 Unsigned32"),
    (270, 0): ("Enumerated", "Session-Binding: RFC 6733 §8.17 Unsigned32 (a bit mask, not a choice)"),
    (719, 10415): ("Enumerated", "UDR-Flags: TS 29.329 §6.3.28 Unsigned32 bit mask"),
    # Wireshark has Integer32; RFC 6733 §8.9 says Unsigned32.
    (291, 0): ("Integer32", "Authorization-Lifetime: RFC 6733 §8.9 Unsigned32"),
}


# --------------------------------------------------------------------------------------------------
# Wireshark dictionary reader
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WiresharkAvp:
    """One <avp> of Wireshark's dictionary, its type already resolved to the Wireshark type name."""

    name: str
    code: int
    vendor: int
    type: str
    mandatory: str  # "must", "may", "mustnot" or "" when the file says nothing
    enum: dict[str, int]


_ENTITY_DECL = re.compile(r'<!ENTITY\s+(\w+)\s+SYSTEM\s+"([^"]+)"\s*>')
_XML_DECL = re.compile(r"<\?xml[^>]*\?>")
_DOCTYPE = re.compile(r"<!DOCTYPE.*?\]>", re.DOTALL)


def wireshark_xml(directory: Path) -> str:
    """dictionary.xml with its external entities (&TGPP; ...) replaced by the files they name.

    ElementTree does not load external entities, so the DOCTYPE's declarations are resolved here.
    """
    main = (directory / "dictionary.xml").read_text(encoding="utf-8")
    includes = {name: directory / file for name, file in _ENTITY_DECL.findall(main)}
    body = _DOCTYPE.sub("", _XML_DECL.sub("", main, count=1), count=1)
    for name, path in includes.items():
        included = _XML_DECL.sub("", path.read_text(encoding="utf-8"), count=1)
        body = body.replace(f"&{name};", included)
    return body


def read_wireshark(directory: Path) -> dict[tuple[int, int], list[WiresharkAvp]]:
    """Every AVP Wireshark defines, keyed by (code, vendor id); a key may carry several definitions."""
    root = ET.fromstring(wireshark_xml(directory))
    vendors = {v.get("vendor-id", ""): int(v.get("code", "0")) for v in root.iter("vendor")}
    vendors.setdefault("None", 0)
    avps: dict[tuple[int, int], list[WiresharkAvp]] = {}
    for element in root.iter("avp"):
        vendor = vendors[element.get("vendor-id", "None")]
        type_element = element.find("type")
        if element.find("grouped") is not None:
            type_name = "Grouped"
        elif type_element is not None:
            type_name = type_element.get("type-name", "")
        else:
            continue
        enum = {e.get("name", ""): int(e.get("code", "0")) for e in element.findall("enum")}
        avp = WiresharkAvp(
            name=element.get("name", ""),
            code=int(element.get("code", "0")),
            vendor=vendor,
            type=type_name,
            mandatory=element.get("mandatory", ""),
            enum=enum,
        )
        avps.setdefault((avp.code, avp.vendor), []).append(avp)
    return avps


def wireshark_type_matches(wireshark_type: str, our_type: str) -> bool:
    return our_type in WIRESHARK_TYPE_MAP.get(wireshark_type, frozenset({wireshark_type}))


# --------------------------------------------------------------------------------------------------
# Our data
# --------------------------------------------------------------------------------------------------

RULE = re.compile(r"^(?:(\d*)\*(\d*))?([<{\[]) (\S+) ([>}\]])$")
CLOSERS = {"<": ">", "{": "}", "[": "]"}


@dataclass(frozen=True)
class Rule:
    min: int
    max: int | None
    kind: str  # "fixed", "required", "optional"
    name: str


def parse_rule(text: str) -> Rule:
    """Parse one CCF line such as '*2[ Specific-APN-Info ]' (RFC 6733 §3.2 grammar, one AVP per line)."""
    match = RULE.match(text)
    if match is None or CLOSERS[match.group(3)] != match.group(5):
        raise ValueError(f"not a CCF rule: {text!r}")
    star = match.group(1) is not None
    low, high, opener, name = match.group(1), match.group(2), match.group(3), match.group(4)
    kind = {"<": "fixed", "{": "required", "[": "optional"}[opener]
    floor = 0 if kind == "optional" else 1
    if not star:
        minimum, maximum = floor, 1
    else:
        minimum = int(low) if low else floor
        maximum = int(high) if high else None
    if maximum is not None and maximum < max(minimum, 1):
        raise ValueError(f"impossible count in {text!r}")
    return Rule(minimum, maximum, kind, name)


def load_files() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DICTDATA.glob("*.json"))}


FILES = load_files()
ALL_AVPS = [(file, avp) for file, data in FILES.items() for avp in data["avps"]]
AVPS_BY_NAME = {avp["name"]: avp for _, avp in ALL_AVPS}
ALL_COMMANDS = [(file, cmd) for file, data in FILES.items() for cmd in data["commands"]]


def avp_id(item: tuple[str, dict[str, Any]]) -> str:
    return f"{item[0]}:{item[1]['name']}"


# --------------------------------------------------------------------------------------------------
# Self-consistency
# --------------------------------------------------------------------------------------------------


def test_all_application_files_present() -> None:
    expected = {"base.json", "credit_control.json", "s6a.json", "s13.json", "cx.json", "sh.json", "slh.json"}
    assert expected <= set(FILES)


def test_avp_names_are_unique() -> None:
    counts = Counter(avp["name"] for _, avp in ALL_AVPS)
    assert [name for name, n in counts.items() if n > 1] == []


def test_avp_code_vendor_pairs_are_unique() -> None:
    counts = Counter((avp["code"], avp["vendor"]) for _, avp in ALL_AVPS)
    assert [key for key, n in counts.items() if n > 1] == []


def test_every_file_declares_the_vendors_it_uses() -> None:
    for file, data in FILES.items():
        used = {avp["vendor"] for avp in data["avps"]} - {0}
        used |= {app["vendor"] for app in data["applications"]} - {0}
        assert used <= {int(v) for v in data["vendors"]}, file


@pytest.mark.parametrize("item", ALL_AVPS, ids=avp_id)
def test_avp_definition_is_well_formed(item: tuple[str, dict[str, Any]]) -> None:
    _, avp = item
    allowed_keys = {"code", "vendor", "name", "type", "flags", "must_not", "enum", "closed", "rules"}
    assert set(avp) <= allowed_keys
    assert isinstance(avp["code"], int) and 0 < avp["code"] < 2**32
    assert avp["type"] in RFC6733_TYPES
    assert set(avp["flags"]) <= {"M", "V"}
    assert ("V" in avp["flags"]) == (avp["vendor"] != 0)
    assert set(avp.get("must_not", "")) <= {"M"}
    assert not ("M" in avp["flags"] and "M" in avp.get("must_not", ""))
    assert ("enum" in avp) == (avp["type"] == "Enumerated")
    if "enum" in avp:
        assert avp["enum"] and all(isinstance(v, int) for v in avp["enum"].values())
        assert len(set(avp["enum"].values())) == len(avp["enum"]), "two names for one value"
    assert "closed" not in avp or avp["type"] == "Enumerated"
    assert "rules" not in avp or avp["type"] == "Grouped"


def test_every_rule_parses_and_every_referenced_avp_is_defined() -> None:
    undefined: list[str] = []
    owners = [("avp", a["name"], a.get("rules", [])) for _, a in ALL_AVPS]
    owners += [("command", c["name"], c["rules"]) for _, c in ALL_COMMANDS]
    for kind, owner, rules in owners:
        for text in rules:
            rule = parse_rule(text)
            if rule.name != "AVP" and rule.name not in AVPS_BY_NAME:
                undefined.append(f"{kind} {owner}: {text}")
    assert undefined == []


def test_rule_lists_name_each_avp_once() -> None:
    owners = [(a["name"], a.get("rules", [])) for _, a in ALL_AVPS]
    owners += [(c["name"], c["rules"]) for _, c in ALL_COMMANDS]
    for owner, rules in owners:
        counts = Counter(parse_rule(r).name for r in rules)
        assert [n for n, c in counts.items() if c > 1] == [], owner


@pytest.mark.parametrize(
    "text",
    [
        "< Session-Id >",
        "{ Origin-Host }",
        "[ DRMP ]",
        "*[ AVP ]",
        "1*{ Host-IP-Address }",
        "*2[ Specific-APN-Info ]",
        "2*3{ X }",
        "*10[ Regional-Subscription-Zone-Code ]",
    ],
)
def test_rule_grammar_accepts_ccf_forms(text: str) -> None:
    assert parse_rule(text).name in text


@pytest.mark.parametrize("text", ["{ Origin-Host ]", "Origin-Host", "[Origin-Host]", "3*2{ X }", "*0[ X ]"])
def test_rule_grammar_rejects_malformed_lines(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rule(text)


def test_rule_counts() -> None:
    assert parse_rule("< Session-Id >") == Rule(1, 1, "fixed", "Session-Id")
    assert parse_rule("[ DRMP ]") == Rule(0, 1, "optional", "DRMP")
    assert parse_rule("*[ Proxy-Info ]") == Rule(0, None, "optional", "Proxy-Info")
    assert parse_rule("1*{ Host-IP-Address }") == Rule(1, None, "required", "Host-IP-Address")
    assert parse_rule("*2[ Specific-APN-Info ]") == Rule(0, 2, "optional", "Specific-APN-Info")
    assert parse_rule("2*[ AVP ]") == Rule(2, None, "optional", "AVP")


def test_applications_are_well_formed() -> None:
    ids = Counter(app["id"] for data in FILES.values() for app in data["applications"])
    assert [i for i, n in ids.items() if n > 1] == []
    for data in FILES.values():
        for app in data["applications"]:
            assert app["kind"] in {"base", "auth", "acct", "relay"}


def test_every_command_has_a_request_and_an_answer() -> None:
    known_apps = {app["id"] for data in FILES.values() for app in data["applications"]}
    pairs: dict[tuple[int, int], set[bool]] = {}
    for file, cmd in ALL_COMMANDS:
        assert cmd["application"] in known_apps, f"{file}: {cmd['name']}"
        key = (cmd["code"], cmd["application"])
        assert cmd["request"] not in pairs.get(key, set()), f"duplicate {cmd['name']}"
        pairs.setdefault(key, set()).add(cmd["request"])
        assert ("R" in cmd["flags"]) == cmd["request"]
        assert set(cmd["flags"]) <= {"R", "P"}
    assert all(kinds == {True, False} for kinds in pairs.values())


def test_command_names_and_short_names() -> None:
    for _, cmd in ALL_COMMANDS:
        suffix = "-Request" if cmd["request"] else "-Answer"
        assert cmd["name"].endswith(suffix), cmd["name"]
        assert cmd["short"].endswith("R" if cmd["request"] else "A"), cmd["short"]


def test_session_commands_start_with_session_id() -> None:
    """Every command of an application with sessions carries < Session-Id > first (RFC 6733 §8.8)."""
    sessionless = {257, 280, 282}  # CER, DWR, DPR: peer-level, no session
    for _, cmd in ALL_COMMANDS:
        if cmd["code"] not in sessionless:
            assert cmd["rules"][0] == "< Session-Id >", cmd["name"]


def test_answers_carry_a_result() -> None:
    for _, cmd in ALL_COMMANDS:
        if not cmd["request"]:
            names = {parse_rule(r).name for r in cmd["rules"]}
            assert names & {"Result-Code", "Experimental-Result"}, cmd["name"]


def test_grouped_avps_referenced_by_the_hss_have_rules() -> None:
    """The trees the HSS builds or reads must be transcribed, not left open."""
    needed = [
        "Subscription-Data",
        "APN-Configuration-Profile",
        "APN-Configuration",
        "EPS-Subscribed-QoS-Profile",
        "Allocation-Retention-Priority",
        "AMBR",
        "MIP6-Agent-Info",
        "Specific-APN-Info",
        "E-UTRAN-Vector",
        "UTRAN-Vector",
        "GERAN-Vector",
        "Authentication-Info",
        "Requested-EUTRAN-Authentication-Info",
        "Requested-UTRAN-GERAN-Authentication-Info",
        "Supported-Features",
        "Terminal-Information",
        "Experimental-Result",
        "SIP-Auth-Data-Item",
        "SIP-Digest-Authenticate",
        "Deregistration-Reason",
        "Charging-Information",
        "Server-Capabilities",
        "Associated-Identities",
        "Restoration-Info",
        "Repository-Data-ID",
        "Serving-Node",
        "Vendor-Specific-Application-Id",
        "Proxy-Info",
        "Failed-AVP",
    ]
    missing = [n for n in needed if "rules" not in AVPS_BY_NAME.get(n, {})]
    assert missing == []


def test_known_spec_values() -> None:
    """Spot checks against the spec text, so a wholesale regeneration cannot silently drift."""
    sh_user_data = AVPS_BY_NAME["Sh-User-Data"]
    assert (sh_user_data["code"], sh_user_data["vendor"], sh_user_data["type"]) == (702, 10415, "OctetString")
    assert AVPS_BY_NAME["User-Data"]["code"] == 606  # Cx, TS 29.229 §6.3.11
    assert AVPS_BY_NAME["RAT-Type"]["enum"]["EUTRAN"] == 1004
    # Cx's SIP-* AVPs are 3GPP's (TS 29.229 §6.3), not RFC 4740's same-named IETF AVPs 376-382
    assert (AVPS_BY_NAME["SIP-Auth-Data-Item"]["code"], AVPS_BY_NAME["SIP-Auth-Data-Item"]["vendor"]) == (612, 10415)
    assert AVPS_BY_NAME["SIP-Number-Auth-Items"]["code"] == 607
    assert AVPS_BY_NAME["Auth-Session-State"]["closed"] is True
    rir = next(c for _, c in ALL_COMMANDS if c["short"] == "RIR")
    assert (rir["code"], rir["application"]) == (8388622, 16777291)


# --------------------------------------------------------------------------------------------------
# Cross-check against Wireshark
# --------------------------------------------------------------------------------------------------

wireshark_present = pytest.mark.skipif(
    not (WIRESHARK_DIR / "dictionary.xml").is_file(),
    reason=f"Wireshark's dictionary is not installed at {WIRESHARK_DIR} (Debian package wireshark-common)",
)


@pytest.fixture(scope="module")
def wireshark() -> dict[tuple[int, int], list[WiresharkAvp]]:
    return read_wireshark(WIRESHARK_DIR)


@wireshark_present
def test_wireshark_dictionary_is_read_whole(wireshark: dict[tuple[int, int], list[WiresharkAvp]]) -> None:
    """The entity includes were resolved: 3GPP (TGPP.xml) and RFC 4006 (chargecontrol.xml) AVPs are there."""
    assert (1400, 10415) in wireshark  # Subscription-Data, from TGPP.xml
    assert (443, 0) in wireshark  # Subscription-Id, from chargecontrol.xml
    assert wireshark[(263, 0)][0].type == "UTF8String"  # Session-Id
    assert len(wireshark) > 2000


def _disagreement(avp: dict[str, Any], candidates: list[WiresharkAvp]) -> str | None:
    if any(wireshark_type_matches(c.type, avp["type"]) for c in candidates):
        return None
    return "/".join(sorted({c.type for c in candidates}))


@wireshark_present
def test_every_avp_agrees_with_wireshark(wireshark: dict[tuple[int, int], list[WiresharkAvp]]) -> None:
    """(code, vendor) must exist in Wireshark with a compatible type, unless listed as a Wireshark error."""
    problems = []
    for file, avp in ALL_AVPS:
        key = (avp["code"], avp["vendor"])
        candidates = wireshark.get(key)
        if candidates is None:
            if key not in WIRESHARK_UNKNOWN:
                problems.append(f"{file}: {avp['name']} {key} unknown to Wireshark")
            continue
        theirs = _disagreement(avp, candidates)
        if theirs is not None and WIRESHARK_TYPE_EXCEPTIONS.get(key, ("",))[0] != theirs:
            problems.append(f"{file}: {avp['name']} {key} is {avp['type']}, Wireshark says {theirs}")
    assert problems == []


@wireshark_present
def test_wireshark_exceptions_are_all_needed(wireshark: dict[tuple[int, int], list[WiresharkAvp]]) -> None:
    ours = {(a["code"], a["vendor"]): a for _, a in ALL_AVPS}
    stale = [
        key
        for key in WIRESHARK_TYPE_EXCEPTIONS
        if key not in ours or key not in wireshark or _disagreement(ours[key], wireshark[key]) is None
    ]
    stale += [key for key in WIRESHARK_UNKNOWN if key not in ours or key in wireshark]
    assert stale == []


# (code, vendor) -> spec clause, for AVPs Wireshark 4.0 does not define at all.
WIRESHARK_UNKNOWN: dict[tuple[int, int], str] = {
    (660, 10415): "P-CSCF-Subscription-Info: TS 29.229 §6.3.75 (Rel-13)",
    (720, 10415): "Call-Reference-Info: TS 29.329 §6.3.28 (Rel-13)",
    (721, 10415): "Call-Reference-Number: TS 29.329 §6.3.29",
    (722, 10415): "AS-Number: TS 29.329 §6.3.30",
}
