"""The Diameter dictionary: AVP and command definitions loaded from data files.

Definitions live in ``dictdata/*.json`` (one file per application family); adding an AVP or an
application is a data change. The dictionary turns names into (code, vendor), builds AVPs from Python
values, decodes values, and validates messages against the specs' Command Code Format (CCF) with the
Result-Codes of RFC 6733 §7.1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from struct import Struct
from struct import error as StructError
from typing import Any, Final

from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import AVP_MANDATORY, AVP_VENDOR, FLAG_REQUEST, HEADER_LEN, ResultCode
from sigcore.diameter.errors import DecodeError, DiameterError, EncodeError
from sigcore.diameter.message import (
    _UNCHECKED,
    Message,
    Words,
    _failed_header,
    checked_header,
    parse_avps,
    peek_header,
    words_of,
)
from sigcore.diameter.types import (
    CODECS,
    ENCODE_ERRORS,
    FIXED_SIZE,
    NUMBER_READERS,
    AvpEncoder,
    LengthError,
    avp_encoder,
    number_packer,
)

try:  # the compiled CCF walk (setup.py builds it where a C compiler is found); else the Python walk alone
    from sigcore.diameter import _speedups
except ImportError:  # pragma: no cover - depends on the build
    _speedups = None  # type: ignore[assignment]

DATA_DIR: Final = Path(__file__).with_name("dictdata")
INFINITY: Final = 1 << 30
_new_avp = Avp.__new__
_MISSING: Final = object()
_HDR: Final = Struct(">II")
_HDR_V: Final = Struct(">III")
_V_BIT: Final = AVP_VENDOR << 24  # the flag bits as they sit in the second header word
_M_BIT: Final = AVP_MANDATORY << 24
_PAD: Final = (b"", b"\0\0\0", b"\0\0", b"\0")
# How check_raw checks a value: by size (numbers, Time), by size and enumeration (closed Enumerated), as
# children (Grouped), not at all (OctetString), as ASCII text or else by a decode (the text types: a slice
# that isascii() needs no decode), or by decoding it (Address). The order lets one comparison pick a branch.
_KIND_FIXED, _KIND_CLOSED, _KIND_GROUPED, _KIND_RAW, _KIND_TEXT, _KIND_DECODE = range(6)  # also in _speedups.c
_TEXT_TYPES: Final = frozenset({"UTF8String", "DiameterIdentity", "DiameterURI", "IPFilterRule"})
#: Text types with a longest value, in octets: a DiameterIdentity is a FQDN or realm (RFC 6733 §4.3.1), at
#: most 255 octets (RFC 1035 §2.3.4); longer is 5004, before a store's column meets it
MAX_TEXT_SIZE: Final = {"DiameterIdentity": 255}
_RULE_RE: Final = re.compile(r"^\s*(\d*)\s*(\*?)\s*(\d*)\s*([<{\[])\s*([A-Za-z0-9_.-]+)\s*([>}\]])\s*$")


#: How ``items`` reads an AVP: (name, number reader or kind marker, whole length if fixed or 0, header
#: words, definition)
ItemReader = tuple[str, Any, int, int, "AvpDef"]
_READ_U32, _READ_I32, _READ_GROUP, _READ_RAW, _READ_TEXT, _READ_DECODE = (object() for _ in range(6))
_U32: Final = Struct(">I")


def _short_header(buf: bytes, off: int, end: int) -> tuple[int, int, int, int, int]:
    """(code, flags|length, lookup key, payload start, payload's first word or 0) of an AVP within 16
    octets of ``end``, where ``_items`` cannot read four words at once."""
    if end - off < 8:
        raise DecodeError(ResultCode.INVALID_AVP_LENGTH, "truncated AVP header", [_raw_avp(buf, off, end)])
    code, flags_len = _HDR.unpack_from(buf, off)
    key, start = code, off + 8
    if flags_len & 0x80000000:
        if end - off < 12:
            raise DecodeError(ResultCode.INVALID_AVP_LENGTH, "truncated vendor AVP header",
                              [_raw_avp(buf, off, end)])
        key |= _U32.unpack_from(buf, off + 8)[0] << 32
        start = off + 12
    first = _U32.unpack_from(buf, start)[0] if end - start >= 4 else 0
    return code, flags_len, key, start, first

#: What check_raw needs per allowed AVP, in one lookup: (M-bit if it must not be set, shifted to the
#: flags' place in the header word; count slot; maximum count; check kind; fixed size; definition).
CheckEntry = tuple[int, int, int, int, "int | None", "AvpDef"]


def _raw_avp(buf: bytes, off: int, end: int) -> Avp:
    """The AVP at ``off`` as an object, for Failed-AVP: the whole AVP when it fits, else its header
    padded with zeros (RFC 6733 §7.1.5)."""
    if end - off >= 8:
        flags_len = int.from_bytes(buf[off + 4:off + 8], "big")
        hl = 12 if flags_len >> 24 & AVP_VENDOR else 8
        length = flags_len & 0xFFFFFF
        if hl <= length and off + length <= end:
            return parse_avps(buf, off, off + length)[0]
    return _failed_header(buf, off, end)


class DictionaryError(Exception):
    """The dictionary data itself is inconsistent (a bug in dictdata, reported at load time)."""


class Group(list[Avp]):
    """The children of a Grouped AVP, with name-based access like a message."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return DICTIONARY.get_value(self, key)
        return list.__getitem__(self, key)

    def get(self, name: str, default: Any = None) -> Any:
        return DICTIONARY.get_value(self, name, default)

    def get_all(self, name: str) -> list[Any]:
        return DICTIONARY.get_values(self, name)


@dataclass(frozen=True, slots=True)
class Rule:
    """One CCF line: ``min*max{ Name }``."""

    name: str
    key: tuple[int, int] | None  # None for the "AVP" wildcard
    min: int
    max: int
    fixed: bool


@dataclass(slots=True)
class RuleSet:
    rules: list[Rule]
    by_key: dict[tuple[int, int], Rule] = field(default_factory=dict)
    required: list[Rule] = field(default_factory=list)
    allow_any: bool = False
    #: key -> maximum occurrences, only for AVPs whose count must be checked (max < infinity or min > 0)
    counted: dict[tuple[int, int], int] = field(default_factory=dict)
    #: key -> CheckEntry for every AVP a rule names (filled by ``index``); slot 0 counts nothing
    entries: dict[tuple[int, int], CheckEntry] = field(default_factory=dict)
    #: the same entries by ``code | vendor << 32``, for the compiled walk (an int key costs it less than a tuple)
    int_entries: dict[int, CheckEntry] = field(default_factory=dict)
    #: (slot, minimum, definition) of each required AVP, checked after the walk (5005)
    required_slots: list[tuple[int, int, AvpDef]] = field(default_factory=list)
    slots: int = 1

    def __post_init__(self) -> None:
        for r in self.rules:
            if r.key is None:
                self.allow_any = True
                continue
            self.by_key[r.key] = r
            if r.min > 0:
                self.required.append(r)
            if r.min > 0 or r.max < INFINITY:
                self.counted[r.key] = r.max

    def index(self, defs: Mapping[tuple[int, int], AvpDef]) -> None:
        """Precompute one CheckEntry per allowed AVP, so validating an AVP costs one dict lookup and
        counting one list slot instead of several dict operations."""
        slot_of: dict[tuple[int, int], int] = {}
        for key in self.by_key:
            d = defs[key]
            slot = slot_of.setdefault(key, len(slot_of) + 1)
            entry = self.entries[key] = (d.must_not << 24, slot, self.counted.get(key, INFINITY), d.kind,
                                         d.check_size, d)
            self.int_entries[key[0] | key[1] << 32] = entry
        self.slots = len(slot_of) + 1
        self.required_slots = [(slot_of[r.key], r.min, defs[r.key]) for r in self.required if r.key is not None]


_ANY_AVP: Final = RuleSet([Rule("AVP", None, 0, INFINITY, False)])  # a group without rules: anything goes
#: Grouped AVPs nested deeper than this are refused with 5008 (no real command nests more than ~8 levels;
#: a hostile one nests thousands to exhaust the stack). _speedups.c's MAX_DEPTH is the same number: its
#: walk leaves deeper messages to this one.
MAX_GROUP_DEPTH: Final = 16


def _is_repeated_group(value: Any) -> bool:
    """A list of groups (each a list/mapping/Group) repeats a Grouped AVP; a list of pairs is one group."""
    return type(value) is list and bool(value) and isinstance(value[0], (Mapping, Group, list))


def parse_rule(text: str) -> tuple[str, int, int, bool]:
    """Parse ``"1*{ Name }"`` into (name, min, max, fixed) following RFC 6733 §3.2 defaults."""
    m = _RULE_RE.match(text)
    if not m:
        raise DictionaryError(f"cannot parse rule {text!r}")
    lo, star, hi, opening, name, closing = m.groups()
    if {"<": ">", "{": "}", "[": "]"}[opening] != closing:
        raise DictionaryError(f"unbalanced brackets in rule {text!r}")
    if not star:
        if lo or hi:
            raise DictionaryError(f"qualifier without '*' in rule {text!r}")
        mn, mx = (0, 1) if opening == "[" else (1, 1)
    else:
        mn = int(lo) if lo else (1 if opening == "{" else 0)
        mx = int(hi) if hi else INFINITY
    return name, mn, mx, opening == "<"


class AvpDef:
    """One AVP's definition and its pre-bound codec."""

    __slots__ = (
        "check_size", "closed", "code", "decode", "encode", "enum", "enum_names", "fixed_head", "fixed_size", "flags",
        "free_entry",
        "kind", "must_not", "name", "read_number", "rule_texts", "rules", "type", "vendor", "wire",
    )

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.code: int = int(raw["code"])
        self.vendor: int = int(raw.get("vendor", 0))
        self.name: str = raw["name"]
        self.type: str = raw["type"]
        if self.type not in CODECS:
            raise DictionaryError(f"{self.name}: unknown type {self.type!r}")
        flag_text = raw.get("flags", "M")
        self.flags = (AVP_MANDATORY if "M" in flag_text else 0) | (AVP_VENDOR if self.vendor else 0)
        # 3009 for an M-bit where the definition forbids it is enforced on base-protocol AVPs only: 3GPP
        # flag rules changed across releases and real MMEs (and python-diameter) set M on e.g. RAT-Type.
        strict = self.vendor == 0
        self.must_not = AVP_MANDATORY if strict and "M" in raw.get("must_not", "") else 0
        self.enum: dict[str, int] = dict(raw.get("enum", {}))
        self.enum_names: dict[int, str] = {v: k for k, v in self.enum.items()}
        self.closed: bool = bool(raw.get("closed", False))
        self.rule_texts: list[str] = list(raw.get("rules", []))
        self.rules: RuleSet | None = None
        self.decode, self.encode, _ = CODECS[self.type]
        self.fixed_size = FIXED_SIZE.get(self.type)
        self.fixed_head: bytes | None = self.head(self.fixed_size) if self.fixed_size is not None else None
        #: (buffer, offset) -> (value,) for the number types, read in place without slicing the payload
        self.read_number: Callable[[bytes, int], tuple[Any, ...]] | None = NUMBER_READERS.get(self.type)
        self.kind = (
            (_KIND_CLOSED if self.closed else _KIND_FIXED) if self.fixed_size is not None
            else _KIND_GROUPED if self.type == "Grouped" else _KIND_RAW if self.type == "OctetString"
            else _KIND_TEXT if self.type in _TEXT_TYPES else _KIND_DECODE
        )
        #: what check_raw compares the payload's length with: the size of a fixed-size type, the longest
        #: text of a bounded one (`MAX_TEXT_SIZE`), or None
        self.check_size = self.fixed_size if self.fixed_size is not None else MAX_TEXT_SIZE.get(self.type)
        #: how check_raw treats this AVP where a rule set allows any AVP (nothing to count)
        self.free_entry: CheckEntry = (self.must_not << 24, 0, INFINITY, self.kind, self.check_size, self)
        #: value -> complete AVP bytes; set by the dictionary that owns this definition
        self.wire: AvpEncoder

    def head(self, payload_len: int) -> bytes:
        """The AVP header for a payload of ``payload_len`` octets with our default flags."""
        if self.vendor:
            return _HDR_V.pack(self.code, (self.flags << 24) | (12 + payload_len), self.vendor)
        return _HDR.pack(self.code, (self.flags << 24) | (8 + payload_len))

    @property
    def key(self) -> tuple[int, int]:
        return (self.code, self.vendor)

    def example(self) -> Avp:
        """A zero-filled AVP of minimum length (the Failed-AVP content for 5005, RFC 6733 §7.5)."""
        size = CODECS[self.type][2]
        data = b"\0\1" + b"\0" * 4 if self.type == "Address" else b"\0" * size
        return Avp(self.code, data, self.flags, self.vendor)

    def __repr__(self) -> str:
        return f"AvpDef({self.name}, {self.code}/{self.vendor}, {self.type})"


@dataclass(slots=True)
class CommandDef:
    code: int
    application: int
    request: bool
    name: str
    short: str
    flags: str
    rule_texts: list[str]
    rules: RuleSet | None = None


class Dictionary:
    """All AVP and command definitions, indexed for the hot path."""

    def __init__(self) -> None:
        self.avps: dict[tuple[int, int], AvpDef] = {}
        self.by_name: dict[str, AvpDef] = {}
        self.commands: dict[tuple[int, int, bool], CommandDef] = {}
        self.command_names: dict[str, CommandDef] = {}
        self.applications: dict[int, str] = {}
        self.vendors: dict[int, str] = {0: "IETF"}
        #: name -> AvpDef.wire (for a number AVP its `number_packer`, which raises struct.error where
        #: the encoder would take its slow path), so the encoding loop finds an AVP's encoder with one lookup
        self._wire_of: dict[str, AvpEncoder] = {}
        #: code | vendor << 32 -> ItemReader, for ``items``
        self._readers: dict[int, ItemReader] = {}
        #: vendor -> code -> ItemReader, the same for ``_items``: two lookups by the ints read from the
        #: header allocate nothing, where the combined key cost two new ints per vendor AVP
        self._readers_by_vendor: dict[int, dict[int, ItemReader]] = {0: {}}

    # --- loading -------------------------------------------------------------------------------
    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> Dictionary:
        d = cls()
        for p in sorted(paths):
            d.add_data(json.loads(p.read_text()), source=p.name)
        d.compile()
        return d

    def add_data(self, data: Mapping[str, Any], source: str = "?") -> None:
        for vid, vname in data.get("vendors", {}).items():
            self.vendors[int(vid)] = vname
        for app in data.get("applications", []):
            self.applications[int(app["id"])] = app["name"]
        for raw in data.get("avps", []):
            d = AvpDef(raw)
            if d.key in self.avps and self.avps[d.key].name != d.name:
                raise DictionaryError(f"{source}: {d.name} reuses {d.key} of {self.avps[d.key].name}")
            self.avps[d.key] = d
            self.by_name[d.name] = d
            d.wire = self._encoder(d)
            self._wire_of[d.name] = number_packer(d.type, d.code, d.flags, d.vendor) or d.wire
            reader = self._readers[d.code | d.vendor << 32] = self._reader(d)
            self._readers_by_vendor.setdefault(d.vendor, {})[d.code] = reader
        for raw in data.get("commands", []):
            c = CommandDef(
                code=int(raw["code"]), application=int(raw.get("application", 0)),
                request=bool(raw["request"]), name=raw["name"], short=raw.get("short", ""),
                flags=raw.get("flags", ""), rule_texts=list(raw.get("rules", [])),
            )
            self.commands[(c.application, c.code, c.request)] = c
            self.command_names[c.name] = c
            if c.short:
                self.command_names[c.short] = c

    def _ruleset(self, texts: list[str], owner: str) -> RuleSet:
        rules = []
        for t in texts:
            name, mn, mx, fixed = parse_rule(t)
            if name == "AVP":
                rules.append(Rule(name, None, mn, mx, fixed))
                continue
            d = self.by_name.get(name)
            if d is None:
                raise DictionaryError(f"{owner}: rule {t!r} names an undefined AVP")
            rules.append(Rule(name, d.key, mn, mx, fixed))
        return RuleSet(rules)

    def compile(self) -> None:
        for d in self.avps.values():
            if d.type == "Grouped" and d.rule_texts:
                d.rules = self._ruleset(d.rule_texts, d.name)
        for c in self.commands.values():
            c.rules = self._ruleset(c.rule_texts, c.name)
        for d in self.avps.values():
            if d.rules is not None:
                d.rules.index(self.avps)
        for c in self.commands.values():
            if c.rules is not None:
                c.rules.index(self.avps)

    # --- lookup --------------------------------------------------------------------------------
    def avp(self, name: str) -> AvpDef:
        try:
            return self.by_name[name]
        except KeyError:
            raise EncodeError(f"no AVP named {name!r} in the dictionary") from None

    def command(self, app_id: int, code: int, request: bool) -> CommandDef | None:
        """The command definition; base commands (RAR, STR, ASR...) apply under any application."""
        return self.commands.get((app_id, code, request)) or self.commands.get((0, code, request))

    def name_of(self, avp: Avp) -> str:
        d = self.avps.get((avp.code, avp.vendor))
        return d.name if d else f"AVP-{avp.code}" + (f"/{avp.vendor}" if avp.vendor else "")

    # --- building ------------------------------------------------------------------------------
    def build(self, name: str, value: Any, flags: int | None = None) -> Avp:
        """Build an AVP from a Python value. Grouped values are lists of Avp, (name, value) pairs, or a
        mapping of name -> value (a list value repeats the AVP; None leaves it out)."""
        d = self.by_name.get(name) or self._def(name)
        if d.kind == _KIND_GROUPED:
            data = self._wires(value)
        elif d.fixed_head is not None and not d.enum:
            try:
                data = d.encode(value)
            except ENCODE_ERRORS as err:
                raise EncodeError(f"{d.name}: {err}") from None
        else:
            data = self._payload(d, value)
        avp = _new_avp(Avp)
        avp.code = d.code
        avp.vendor = d.vendor
        avp.data = data
        if flags is None:
            avp.flags = d.flags
            avp._wire = (d.fixed_head or d.head(len(data))) + data + _PAD[len(data) & 3]
        else:
            avp.flags = flags | (AVP_VENDOR if d.vendor else 0)
        return avp

    def message(self, code: int, app_id: int, flags: int, items: Any, hop_by_hop: int = 0,
                end_to_end: int = 0) -> Message:
        """A message whose AVPs (Avp objects and/or (name, value) pairs) are encoded straight to bytes:
        the hot path for answers, with no per-AVP objects unless someone reads ``msg.avps`` later."""
        return Message.from_body(code, app_id, flags, hop_by_hop, end_to_end, self._wires(items))

    def encode_items(self, items: Any) -> bytes:
        """The wire bytes of a sequence of AVPs given as Avp objects and/or (name, value) pairs."""
        return self._wires(items)

    def build_many(self, items: Any) -> list[Avp]:
        """AVP objects for a list of (name, value) pairs / Avp objects, or a mapping."""
        out: list[Avp] = []
        if type(items) is dict or isinstance(items, Mapping):
            items = items.items()
        for item in items:
            if type(item) is not tuple:
                out.append(item)
                continue
            name, value = item
            if value is None:
                continue
            if (type(value) is list and self._def(name).kind != _KIND_GROUPED) or _is_repeated_group(value):
                out.extend(self.build(name, v) for v in value)
            else:
                out.append(self.build(name, value))
        return out

    def _def(self, name: str) -> AvpDef:
        try:
            return self.by_name[name]
        except KeyError:
            raise EncodeError(f"no AVP named {name!r} in the dictionary") from None

    def _payload(self, d: AvpDef, value: Any) -> bytes:
        if d.kind == _KIND_GROUPED:
            return self._wires(value)
        if d.enum and type(value) is str:
            try:
                value = d.enum[value]
            except KeyError:
                raise EncodeError(f"{d.name}: no enumeration value {value!r}") from None
        try:
            return d.encode(value)
        except ENCODE_ERRORS as err:
            raise EncodeError(f"{d.name}: {err}") from None

    def _encoder(self, d: AvpDef) -> AvpEncoder:
        def slow(value: Any) -> bytes:
            return self._slow_wire(d, value)

        return avp_encoder(d.type, d.code, d.flags, d.vendor, slow, self._wires)

    def _slow_wire(self, d: AvpDef, value: Any) -> bytes:
        """What the specialised encoders leave out: lists repeating the AVP, enumeration names, other
        value types, None (no AVP at all), and the EncodeError for a value that cannot be encoded."""
        if value is None:
            return b""
        if type(value) is list and (d.kind != _KIND_GROUPED or _is_repeated_group(value)):
            return b"".join([self._one_wire(d, v) for v in value])
        return self._one_wire(d, value)

    def _one_wire(self, d: AvpDef, value: Any) -> bytes:
        data = self._payload(d, value)
        return d.head(len(data)) + data + _PAD[len(data) & 3]

    def _wires(self, items: Any) -> bytes:
        """The wire bytes of a sequence of AVPs (a message body or a Grouped payload), built without
        intermediate Avp objects: one dict lookup finds each AVP's specialised encoder."""
        if type(items) is not list and (type(items) is dict or isinstance(items, Mapping)):
            items = items.items()
        wire_of = self._wire_of
        parts: list[bytes] = []
        append = parts.append
        for item in items:
            if type(item) is tuple:
                name, value = item
                if value is not None:
                    try:
                        encode = wire_of[name]
                    except KeyError:
                        encode = self._def(name).wire  # raises EncodeError for an unknown name
                    try:
                        append(encode(value))
                    except StructError:  # a number packer's value needs the encoder's slow path
                        append(self.by_name[name].wire(value))
            else:
                append(item.to_bytes())
        return b"".join(parts)

    # --- reading -------------------------------------------------------------------------------
    def value(self, avp: Avp) -> Any:
        """The decoded value of ``avp`` (a Group for Grouped, raw bytes for unknown AVPs)."""
        d = self.avps.get((avp.code, avp.vendor))
        if d is None:
            return avp.data
        if d.type == "Grouped":
            return Group(parse_avps(avp.data, 0, len(avp.data)))
        return d.decode(avp.data)

    def get_value(self, avps: Iterable[Avp], name: str, default: Any = _MISSING) -> Any:
        d = self.avp(name)
        code, vendor = d.code, d.vendor
        for a in avps:
            if a.code == code and a.vendor == vendor:
                if d.type == "Grouped":
                    return Group(parse_avps(a.data, 0, len(a.data)))
                return d.decode(a.data)
        if default is _MISSING:
            raise KeyError(name)
        return default

    def get_values(self, avps: Iterable[Avp], name: str) -> list[Any]:
        d = self.avp(name)
        return [self.value(a) for a in avps if a.code == d.code and a.vendor == d.vendor]

    def keys_of(self, names: Iterable[str]) -> dict[tuple[int, int], str]:
        """``{(code, vendor): name}`` for ``names``: what ``pick`` looks AVPs up in (build it once per handler)."""
        return {self.avp(name).key: name for name in names}

    def pick(self, avps: Iterable[Avp], wanted: Mapping[tuple[int, int], str],
             repeated: Collection[str] = ()) -> dict[str, Any]:
        """The first AVP of each name in ``wanted`` (see ``keys_of``), and every one, as a list, of the
        names in ``repeated``, in one pass: a handler reading eight AVPs with ``msg.get`` walks the list
        and looks a name up eight times, which costs a request more than its database read."""
        found: dict[str, Any] = {name: [] for name in repeated}
        for avp in avps:
            name = wanted.get((avp.code, avp.vendor))
            if name is None:
                continue
            if name in repeated:
                found[name].append(avp)
            elif name not in found:
                found[name] = avp
        return found

    def items(self, source: Message | bytes) -> list[Any]:
        """Every AVP of a message, decoded: (name, value) pairs in wire order, a Grouped value as its own
        list of pairs (to any depth), an AVP the dictionary does not know as its Avp (byte-exact). This is
        the form ``message()`` and ``encode_items`` take, so ``encode_items(items(b)) == b`` for AVPs with
        the dictionary's flags. ``source`` is a Message or a whole encoded message.

        One walk over the bytes with no per-AVP objects: the eager counterpart of the lazy ``Message``
        for code that wants every value (dumps, archives, transforms). Raises DecodeError (5014) for an
        AVP length that does not fit and DiameterError (5014/5004) for a value its type cannot hold.
        """
        if isinstance(source, Message):
            raw = source.raw
            if raw is None:
                body = b"".join([a.to_bytes() for a in source.avps])
                return self._items(body, words_of(body), 0, len(body))
        else:
            checked_header(source)
            raw = source
        try:
            return self._items(raw, words_of(raw), HEADER_LEN, len(raw))
        except DecodeError as err:
            err.header = peek_header(raw)
            raise

    def _items(self, buf: bytes, words: Words, off: int, end: int) -> list[Any]:
        """The decoding loop of ``items``. AVPs start on 4-octet boundaries, so their headers and 32-bit
        values are read as words of ``words`` (the whole buffer as big-endian words, see ``words_of``):
        indexing an array costs a fraction of a ``struct`` call. One lookup by ``code | vendor << 32``
        finds what the AVP needs (``_readers``): for a fixed-size AVP its whole length and the word its
        value sits in, so the usual AVP costs no offset arithmetic beyond the next AVP's start. Whatever
        does not fit that mould goes to ``_odd_item``."""
        out: list[Any] = []
        append = out.append
        by_vendor = self._readers_by_vendor
        base = by_vendor[0]
        while off < end:
            i = off >> 2
            code = words[i]
            flags_len = words[i + 1]
            try:
                if flags_len >= 0x80000000:  # V-bit (the word's top bit): word 3 is the vendor id
                    vendor = words[i + 2]
                    # a V-bit with vendor 0 is left to _odd_item: its header is longer than the entry says
                    name, read, full, at, d = entry = by_vendor[vendor][code] if vendor else base[-1]
                else:
                    name, read, full, at, d = entry = base[code]
            except KeyError:
                entry = None
            else:
                if full:
                    nxt = off + full
                    if flags_len & 0xFFFFFF == full and nxt <= end:
                        if read is _READ_U32:
                            append((name, words[i + at]))
                        elif read is _READ_I32:
                            value = words[i + at]
                            append((name, value - ((value & 0x80000000) << 1)))
                        else:
                            append((name, read(buf, (i + at) << 2)[0]))
                        off = nxt
                        continue
                else:
                    start = off + (at << 2)
                    stop = off + (flags_len & 0xFFFFFF)
                    if start <= stop <= end:
                        if read is _READ_GROUP:
                            append((name, self._items(buf, words, start, stop)))
                        elif read is _READ_RAW:
                            append((name, buf[start:stop]))
                        else:
                            data = buf[start:stop]
                            if read is _READ_TEXT and data.isascii() and data:
                                append((name, data.decode()))
                            else:
                                self._check_value(d, buf, off, end, start, stop)
                                append((name, d.decode(data)))
                        off = (stop + 3) & ~3
                        continue
            off = self._odd_item(out, buf, words, off, end, entry)
        return out

    def _odd_item(self, out: list[Any], buf: bytes, words: Words, off: int, end: int,
                  entry: ItemReader | None) -> int:
        """What ``_items`` leaves to this: a header or length that does not fit (5014), a fixed-size AVP of
        another size (5014), an AVP the dictionary does not know (kept as its Avp, byte-exact), and a
        known AVP sent with the V-bit and vendor 0, whose header is four octets longer than its entry
        says (read the generic way, like the lazy API does). Returns the next AVP's offset."""
        code, flags_len, key, start, _ = _short_header(buf, off, end)  # raises for a header cut short
        stop = off + (flags_len & 0xFFFFFF)
        if stop < start or stop > end:
            raise DecodeError(ResultCode.INVALID_AVP_LENGTH, f"AVP {code} length {stop - off} does not fit",
                              [_raw_avp(buf, off, end)])
        if entry is not None:
            name, _, full, at, _ = entry
            raise DiameterError(ResultCode.INVALID_AVP_LENGTH, f"{name} must be {full - (at << 2)} octets, "
                                f"got {stop - start}", [_raw_avp(buf, off, end)])
        entry = self._readers.get(key)
        if entry is None:
            out.append(parse_avps(buf, off, stop)[0])
        else:
            name, read, _, _, d = entry
            if read is _READ_GROUP:
                out.append((name, self._items(buf, words, start, stop)))
            else:
                self._check_value(d, buf, off, end, start, stop)
                out.append((name, d.decode(buf[start:stop])))
        return (stop + 3) & ~3

    def _reader(self, d: AvpDef) -> ItemReader:
        """How ``_items`` reads ``d``: (name, number reader or kind marker, whole AVP length if the size is
        fixed else 0, header length in words, definition)."""
        at = 3 if d.vendor else 2
        if d.type in ("Unsigned32", "Integer32", "Enumerated"):
            return (d.name, _READ_U32 if d.type == "Unsigned32" else _READ_I32, (at + 1) << 2, at, d)
        if d.read_number is not None and d.fixed_size:
            return (d.name, d.read_number, (at << 2) + d.fixed_size, at, d)
        marker = {_KIND_GROUPED: _READ_GROUP, _KIND_RAW: _READ_RAW, _KIND_TEXT: _READ_TEXT}.get(d.kind, _READ_DECODE)
        return (d.name, marker, 0, at, d)

    # --- validation ----------------------------------------------------------------------------
    def decode_checked(self, frame: bytes) -> Message:
        """``Message.decode(frame)``, and for a request of a known command its CCF check, in one walk.

        Decoding lists the top-level AVPs and `validate` walks every level again: two walks over every
        received request. Here `check_raw` lists the top level as it checks it. Whatever the check finds
        waits in ``msg.fault`` for `validate` to raise, so a node's delivery checks (3xxx) still come before
        the CCF's 5xxx as they did; an AVP whose length does not fit the message raises DecodeError here,
        as ``Message.decode`` does."""
        _, flags_code, app_id, hop_by_hop, end_to_end = checked_header(frame)
        cmd = self.command(app_id, flags_code & 0xFFFFFF, True) if flags_code >> 24 & FLAG_REQUEST else None
        if cmd is None:
            return Message.decode(frame)
        avps: list[Avp] = []
        try:
            self.check_raw(frame, HEADER_LEN, len(frame), cmd.rules, avps)
        except DiameterError as err:
            msg = Message.decode(frame)  # the plain way: DecodeError for a top-level length that does not fit
            msg.fault = err.with_traceback(None)  # kept on the message: no frames (and no cycle) with it
            return msg
        return Message.received(frame, flags_code, app_id, hop_by_hop, end_to_end, avps, None)

    def validate(self, msg: Message) -> CommandDef | None:
        """Check ``msg`` against its command's CCF; raise DiameterError with Failed-AVP on the first
        fault. Returns None (and checks nothing) for a command the dictionary does not know."""
        cmd = self.command(msg.app_id, msg.code, msg.is_request)
        if cmd is None:
            return None
        raw = msg.raw
        if raw is not None:  # just decoded: the received bytes themselves, checked then or now
            fault = msg.fault
            if fault is _UNCHECKED:
                self.check_raw(raw, HEADER_LEN, len(raw), cmd.rules)
            elif fault is not None:
                # raised once from here; a second validate checks the bytes again. Neither the message nor
                # this frame keeps the error, or error → traceback → frame → error would be a cycle per
                # refused request, left to the cyclic collector.
                msg.fault = _UNCHECKED
                try:
                    raise fault
                finally:
                    del fault
        else:
            self.check_avps(msg.avps, cmd.rules)
        return cmd

    def check_avps(self, avps: list[Avp], rules: RuleSet | None) -> None:
        """Validate a list of AVPs (a message's top level) against ``rules``."""
        buf = b"".join([a.to_bytes() for a in avps])
        self.check_raw(buf, 0, len(buf), rules)

    def check_raw(self, buf: bytes, off: int, end: int, rules: RuleSet | None, out: list[Avp] | None = None) -> None:
        """Validate the AVPs encoded in ``buf[off:end]`` without building objects for them; with ``out``,
        append an Avp for each AVP of this level (not of the grouped ones) as it passes (`decode_checked`).

        The compiled walk (`sigcore.diameter._speedups`, where it was built) answers for a valid message
        in a fraction of the time; for anything else it says no and the Python walk below raises the
        error, so every answer to a bad message is this code's."""
        if rules is None:
            rules = _ANY_AVP
        if _speedups is not None and type(buf) is bytes:
            mark = len(out) if out is not None else 0
            if _speedups.check(buf, off, end, rules, out, self._unlisted, _ANY_AVP, Avp):
                return
            if out is not None:
                del out[mark:]
        self._check_raw(buf, off, end, rules, out)

    def _check_raw(self, buf: bytes, off: int, end: int, rules: RuleSet | None, out: list[Avp] | None = None,
                   depth: int = 0) -> None:
        """`check_raw` in Python: the authority on every error.

        Order of checks per AVP follows RFC 6733 §7: length (5014), unsupported M-bit AVP (5001),
        flag bits (3009), placement (5008), occurrences (5009), value (5014/5004); then 5005.
        Every grouped level is walked here too, so this is the hot path of every received request:
        one dict lookup per AVP finds all it needs (``RuleSet.entries``), counts live in a list.
        """
        if rules is None:
            rules = _ANY_AVP
        entries = rules.entries
        counts = [0] * rules.slots
        unpack_from = _HDR.unpack_from
        while off < end:
            if end - off < 8:
                raise DiameterError(ResultCode.INVALID_AVP_LENGTH, "truncated AVP header",
                                    [_raw_avp(buf, off, end)])
            code, flags_len = unpack_from(buf, off)
            length = flags_len & 0xFFFFFF
            if flags_len & _V_BIT:
                start = off + 12
                vendor = unpack_from(buf, off + 4)[1] if end - off >= 12 else 0
            else:
                start = off + 8
                vendor = 0
            stop = off + length
            if stop < start or stop > end:
                raise DiameterError(ResultCode.INVALID_AVP_LENGTH, f"AVP {code} length {length} does not fit",
                                    [_raw_avp(buf, off, end)])
            if out is not None:
                avp = _new_avp(Avp)
                avp.code = code
                avp.flags = flags_len >> 24
                avp.vendor = vendor
                avp.data = buf[start:stop]
                out.append(avp)
            entry = entries.get((code, vendor))
            if entry is None:
                entry = self._unlisted(buf, off, end, code, vendor, flags_len, rules)
                if entry is None:
                    off += (length + 3) & ~3
                    continue
            must_not, slot, most, kind, size, d = entry
            if flags_len & must_not:
                raise DiameterError(ResultCode.INVALID_AVP_BITS, f"{d.name} must not have the M-bit",
                                    [_raw_avp(buf, off, end)])
            n = counts[slot] = counts[slot] + 1
            if n > most:
                if most == 0:  # RFC 6733 §3.2: a maximum of zero means the AVP MUST NOT be present
                    raise DiameterError(ResultCode.AVP_NOT_ALLOWED, f"{d.name} must not be present",
                                        [_raw_avp(buf, off, end)])
                raise DiameterError(ResultCode.AVP_OCCURS_TOO_MANY_TIMES,
                                    f"{d.name} occurs more than {most} time(s)", [_raw_avp(buf, off, end)])
            if kind <= _KIND_CLOSED:
                if stop - start != size:
                    raise DiameterError(ResultCode.INVALID_AVP_LENGTH,
                                        f"{d.name} must be {size} octets, got {stop - start}",
                                        [_raw_avp(buf, off, end)])
                if kind == _KIND_CLOSED and d.decode(buf[start:stop]) not in d.enum_names:
                    raise DiameterError(ResultCode.INVALID_AVP_VALUE, f"{d.name}: unknown value",
                                        [_raw_avp(buf, off, end)])
            elif kind == _KIND_GROUPED:
                if depth >= MAX_GROUP_DEPTH:  # Failed-AVP without its (possibly megabytes of) nested content
                    raise DiameterError(ResultCode.AVP_NOT_ALLOWED, f"{d.name} nested more than {MAX_GROUP_DEPTH} "
                                        f"levels deep", [Avp(code, b"", flags_len >> 24, vendor)])
                try:
                    self._check_raw(buf, start, stop, d.rules, None, depth + 1)
                except DiameterError as err:
                    inner = b"".join([f.to_bytes() for f in err.failed_avps])
                    err.failed_avps = [Avp(code, inner, flags_len >> 24, vendor)]
                    raise
            elif kind == _KIND_TEXT and size is not None and stop - start > size:
                raise DiameterError(ResultCode.INVALID_AVP_VALUE, f"{d.name} longer than {size} octets",
                                    [_raw_avp(buf, off, end)])
            elif kind > _KIND_RAW and (kind == _KIND_DECODE or stop == start or not buf[start:stop].isascii()):
                # ASCII text is valid UTF-8 and a valid DiameterIdentity: only other text needs decoding
                self._check_value(d, buf, off, end, start, stop)
            off += (length + 3) & ~3
        for slot, least, d in rules.required_slots:
            if counts[slot] < least:
                raise DiameterError(ResultCode.MISSING_AVP, f"{d.name} is missing", [d.example()])

    def _unlisted(self, buf: bytes, off: int, end: int, code: int, vendor: int, flags_len: int,
                  rules: RuleSet) -> CheckEntry | None:
        """An AVP no rule names: 5001 if unknown with the M-bit, skipped (None) if unknown without it,
        3009 or 5008 if known but not allowed, else its free entry (counted nowhere)."""
        d = self.avps.get((code, vendor))
        if d is None:
            if flags_len & _M_BIT:
                raise DiameterError(ResultCode.AVP_UNSUPPORTED, f"AVP {code} (vendor {vendor}) is not supported",
                                    [_raw_avp(buf, off, end)])
            return None
        if flags_len >> 24 & d.must_not:
            raise DiameterError(ResultCode.INVALID_AVP_BITS, f"{d.name} must not have the M-bit",
                                [_raw_avp(buf, off, end)])
        if not rules.allow_any:
            raise DiameterError(ResultCode.AVP_NOT_ALLOWED, f"{d.name} is not allowed here", [_raw_avp(buf, off, end)])
        return d.free_entry

    @staticmethod
    def _check_value(d: AvpDef, buf: bytes, off: int, end: int, start: int, stop: int) -> None:
        """Decode the value to check it: 5014 for a wrong size, 5004 for an invalid value."""
        try:
            d.decode(buf[start:stop])
        except LengthError as err:
            raise DiameterError(ResultCode.INVALID_AVP_LENGTH, f"{d.name}: {err}",
                                [_raw_avp(buf, off, end)]) from None
        except ValueError as err:
            raise DiameterError(ResultCode.INVALID_AVP_VALUE, f"{d.name}: {err}",
                                [_raw_avp(buf, off, end)]) from None

    # --- rendering -------------------------------------------------------------------------------
    def dump(self, msg: Message) -> str:
        """A readable tree of the message, like freeDiameter's dbg_msg_dumps (secrets are the caller's
        business: use it only where the log level allows message dumps)."""
        cmd = self.command(msg.app_id, msg.code, msg.is_request)
        title = cmd.name if cmd else f"Command-{msg.code}"
        lines = [f"{title} app={self.applications.get(msg.app_id, msg.app_id)} flags=0x{msg.flags:02x} "
                 f"hbh=0x{msg.hop_by_hop:08x} e2e=0x{msg.end_to_end:08x}"]
        self._dump_avps(msg.avps, lines, 1)
        return "\n".join(lines)

    def _dump_avps(self, avps: list[Avp], lines: list[str], depth: int) -> None:
        pad = "  " * depth
        for a in avps:
            d = self.avps.get((a.code, a.vendor))
            if d is not None and d.type == "Grouped":
                lines.append(f"{pad}{d.name}:")
                if depth > MAX_GROUP_DEPTH:
                    lines.append(f"{pad}  <{len(a.data)} octets nested deeper than {MAX_GROUP_DEPTH} levels>")
                    continue
                try:
                    self._dump_avps(parse_avps(a.data, 0, len(a.data)), lines, depth + 1)
                except DecodeError:
                    lines.append(f"{pad}  <malformed {len(a.data)} octets>")
                continue
            try:
                v: Any = self.value(a)
                if d is not None and d.enum_names and v in d.enum_names:
                    v = f"{d.enum_names[v]} ({v})"
            except ValueError:
                v = f"<invalid {a.data.hex()}>"
            if isinstance(v, bytes):
                v = "0x" + v.hex()
            lines.append(f"{pad}{self.name_of(a)}: {v}")


def load_default() -> Dictionary:
    return Dictionary.from_files(DATA_DIR.glob("*.json"))


def load_with(extra: Iterable[str | Path]) -> Dictionary:
    """The built-in dictionary with ``extra`` JSON files (the dictdata format) merged over it, in order: a
    node's own dictionary (``diameter.dictionaries``). DictionaryError names the file and what is wrong."""
    d = Dictionary()
    for p in sorted(DATA_DIR.glob("*.json")):
        d.add_data(json.loads(p.read_text()), source=p.name)
    for path in map(Path, extra):
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise DictionaryError("the top level must be an object")
            d.add_data(data, source=str(path))
        except OSError as err:
            raise DictionaryError(f"{path}: cannot read: {err.strerror}") from None
        except DictionaryError as err:
            raise DictionaryError(str(err) if str(err).startswith(str(path)) else f"{path}: {err}") from None
        except ValueError as err:  # JSON syntax, or a value of the wrong kind
            raise DictionaryError(f"{path}: {err}") from None
        except RecursionError:  # json's decoder recurses per level of nesting
            raise DictionaryError(f"{path}: not valid JSON: nested too deeply") from None
        except (KeyError, TypeError) as err:
            raise DictionaryError(f"{path}: an entry lacks or mistypes {err}") from None
    try:
        d.compile()
    except DictionaryError as err:
        raise DictionaryError(f"diameter.dictionaries: {err}") from None
    return d


DICTIONARY: Final = load_default()
