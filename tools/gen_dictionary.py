#!/usr/bin/env python3
"""Draft Diameter dictionary entries for src/sigcore/diameter/dictdata/*.json.

The JSON files are the source of truth and are edited by hand against the specs; this tool only saves
typing when AVPs are added. It completes entries that carry just a "name" (and maybe "rules") with
code, vendor, type, flags and enum values, taken from Wireshark's dictionary (flags, enums, the finer
types such as DiameterIdentity) and python-diameter 0.9 (codes, vendors, member lists of grouped AVPs).
With --add-missing it also appends drafts for every AVP that a rule references but no file defines,
until the set is closed. Every draft must then be checked against the spec's AVP table and CCF.

    .venv/bin/python tools/gen_dictionary.py fill src/sigcore/diameter/dictdata/s6a.json --add-missing
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import re
import sys
import typing
from pathlib import Path
from typing import Any

from diameter.message import constants as pd_constants
from diameter.message.avp import avp as pd_avp
from diameter.message.avp import dictionary as pd_dictionary
from diameter.message.avp import grouped as pd_grouped

ROOT = Path(__file__).resolve().parents[1]
DICTDATA = ROOT / "src" / "sigcore" / "diameter" / "dictdata"
_spec = importlib.util.spec_from_file_location("dictcheck", ROOT / "tests" / "diameter" / "test_dictionary_data.py")
assert _spec is not None and _spec.loader is not None
dictcheck = importlib.util.module_from_spec(_spec)
sys.modules["dictcheck"] = dictcheck
_spec.loader.exec_module(dictcheck)

PD_TYPES = {
    pd_avp.AvpAddress: "Address",
    pd_avp.AvpFloat32: "Float32",
    pd_avp.AvpFloat64: "Float64",
    pd_avp.AvpGrouped: "Grouped",
    pd_avp.AvpInteger32: "Integer32",
    pd_avp.AvpInteger64: "Integer64",
    pd_avp.AvpOctetString: "OctetString",
    pd_avp.AvpUnsigned32: "Unsigned32",
    pd_avp.AvpUnsigned64: "Unsigned64",
    pd_avp.AvpUtf8String: "UTF8String",
    pd_avp.AvpTime: "Time",
    pd_avp.AvpEnumerated: "Enumerated",
}
# python-diameter types that Wireshark's may refine (python-diameter types identities and URIs as octets).
REFINEMENTS = {
    "OctetString": {"DiameterIdentity", "DiameterURI", "IPFilterRule", "UTF8String", "Address"},
    "UTF8String": {"DiameterIdentity", "DiameterURI"},
}
VENDOR_PREFERENCE = (0, 10415, 13019)


@dataclasses.dataclass
class PdAvp:
    code: int
    vendor: int
    name: str
    type: str
    mandatory: bool


def python_diameter_avps() -> dict[str, PdAvp]:
    """python-diameter's AVPs by name; where a name has several vendors, prefer IETF, then 3GPP, ETSI."""
    found: dict[str, list[PdAvp]] = {}
    tables = [(0, pd_dictionary.AVP_DICTIONARY), *pd_dictionary.AVP_VENDOR_DICTIONARY.items()]
    for vendor, table in tables:
        for code, info in table.items():
            entry = PdAvp(code, vendor, info["name"], PD_TYPES[info["type"]], bool(info.get("mandatory")))
            found.setdefault(entry.name, []).append(entry)

    def rank(a: PdAvp) -> int:
        return VENDOR_PREFERENCE.index(a.vendor) if a.vendor in VENDOR_PREFERENCE else 99

    return {name: min(entries, key=rank) for name, entries in found.items()}


def python_diameter_enum(name: str) -> dict[str, int]:
    prefix = "E_" + re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_"
    return {k[len(prefix) :]: v for k, v in vars(pd_constants).items() if k.startswith(prefix) and isinstance(v, int)}


def python_diameter_rules(name: str, names_by_key: dict[tuple[int, int], str]) -> list[str] | None:
    """Member list of python-diameter's dataclass for a grouped AVP, rendered as CCF lines."""
    wanted = f'"{name}" ('
    for obj in vars(pd_grouped).values():
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and wanted in (obj.__doc__ or ""):
            hints = typing.get_type_hints(obj)
            rules = []
            for gen in obj.__dataclass_fields__["avp_def"].default:  # type: ignore[attr-defined]
                member = names_by_key.get((gen.avp_code, gen.vendor_id), f"?{gen.avp_code}/{gen.vendor_id}")
                is_list = typing.get_origin(hints.get(gen.attr_name)) is list
                bracket = "{ %s }" if gen.is_required else "[ %s ]"
                rules.append(("1*" if gen.is_required else "*") * is_list + bracket % member)
            if "additional_avps" in hints:
                rules.append("*[ AVP ]")
            return rules
    return None


def normalise_enum_name(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9]", "_", text)).strip("_").upper()


class Drafter:
    def __init__(self) -> None:
        self.pd = python_diameter_avps()
        self.pd_by_key = {(a.code, a.vendor): a.name for a in self.pd.values()}
        self.wireshark = dictcheck.read_wireshark(dictcheck.WIRESHARK_DIR)

    def draft(self, entry: dict[str, Any]) -> dict[str, Any]:
        name = entry["name"]
        pd = self.pd.get(name)
        code = entry.get("code", pd.code if pd else None)
        vendor = entry.get("vendor", pd.vendor if pd else None)
        if code is None or vendor is None:
            raise SystemExit(f"{name}: unknown to python-diameter, give code and vendor by hand")
        ws = (self.wireshark.get((code, vendor)) or [None])[0]
        avp_type = entry.get("type") or ("Grouped" if "rules" in entry else self._type(pd, ws))
        flags = "M" if (ws.mandatory == "must" if ws and ws.mandatory else pd and pd.mandatory) else ""
        out: dict[str, Any] = {
            "code": code,
            "vendor": vendor,
            "name": name,
            "type": avp_type,
            "flags": entry.get("flags", flags + ("V" if vendor else "")),
        }
        if "must_not" in entry or (ws and ws.mandatory == "mustnot" and "flags" not in entry):
            out["must_not"] = entry.get("must_not", "M")
        if avp_type == "Enumerated":
            out["enum"] = entry.get("enum") or self._enum(name, ws)
        if "closed" in entry:
            out["closed"] = entry["closed"]
        if avp_type == "Grouped":
            # a name-only entry gets python-diameter's member list; an entry typed Grouped by hand
            # without rules stays opaque on purpose
            drafted = python_diameter_rules(name, self.pd_by_key) if "type" not in entry else None
            rules = entry.get("rules") or drafted
            if rules is not None:
                out["rules"] = rules
        return out

    @staticmethod
    def _type(pd: PdAvp | None, ws: Any) -> str:
        """python-diameter's type, refined by Wireshark's where python-diameter only says "some octets"."""
        ws_type = None
        if ws is not None and ws.type != "OctetStringOrUTF8":
            ws_type = next(iter(dictcheck.WIRESHARK_TYPE_MAP.get(ws.type, {ws.type})))
        if pd is None:
            return ws_type or "OctetString"
        if ws_type in REFINEMENTS.get(pd.type, ()):
            return str(ws_type)
        return pd.type

    @staticmethod
    def _enum(name: str, ws: Any) -> dict[str, int]:
        values = python_diameter_enum(name)
        known = set(values.values())
        for label, value in ws.enum.items() if ws else []:
            if value not in known:
                values[normalise_enum_name(label)] = value
                known.add(value)
        return dict(sorted(values.items(), key=lambda kv: kv[1]))


def referenced_names(data: dict[str, Any]) -> set[str]:
    rules = [r for a in data["avps"] for r in a.get("rules", [])]
    rules += [r for c in data["commands"] for r in c["rules"]]
    return {dictcheck.parse_rule(r).name for r in rules} - {"AVP"}


def fill(path: Path, add_missing: bool) -> None:
    drafter = Drafter()
    data = json.loads(path.read_text(encoding="utf-8"))
    data["avps"] = [drafter.draft(a) for a in data["avps"]]
    while add_missing:
        others = {
            a["name"]
            for p in DICTDATA.glob("*.json")
            if p != path
            for a in json.loads(p.read_text(encoding="utf-8"))["avps"]
        }
        defined = others | {a["name"] for a in data["avps"]}
        missing = sorted(referenced_names(data) - defined)
        if not missing:
            break
        data["avps"] += [drafter.draft({"name": n}) for n in missing]
    path.write_text(dump(data), encoding="utf-8")


def dump(data: dict[str, Any]) -> str:
    """JSON with one AVP or command per line: short diffs, and a file still reads like a spec table."""
    lines = ["{"]
    for key, value in data.items():
        if key in ("avps", "commands"):
            items = [json.dumps(v, ensure_ascii=False) for v in value]
            body = "[\n  " + ",\n  ".join(items) + "\n ]" if items else "[]"
        else:
            body = json.dumps(value, ensure_ascii=False)
        lines.append(f" {json.dumps(key)}: {body},")
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join([*lines, "}"]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    fill_cmd = sub.add_parser("fill", help="complete name-only entries of one dictionary file")
    fill_cmd.add_argument("file", type=Path)
    fill_cmd.add_argument("--add-missing", action="store_true", help="append drafts for undefined references")
    args = parser.parse_args()
    fill(args.file, args.add_missing)


if __name__ == "__main__":
    main()
