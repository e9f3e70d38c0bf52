"""rt_pyform-compatible AVP transforms: ``transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code,
vendorID, value) -> str`` for every string-typed AVP of a relayed message.

The message is walked on its wire bytes, depth-first into Grouped AVPs. Which AVPs are strings comes from
the node's dictionary (OctetString, UTF8String, DiameterIdentity, DiameterURI, IPFilterRule); AVPs it does not
know are neither passed nor touched. Values go to the script as ``str``: UTF-8 when the octets are UTF-8,
else one character per octet (Latin-1), so a script can print any value and binary OctetStrings it returns
unchanged (or edits as characters) keep their octets.
Nothing is rebuilt unless a value changed; then the changed AVPs, their enclosing Grouped AVPs and the
message length are re-encoded with padding, and every other byte is copied as it came. A message whose AVP
headers do not fit, or whose Grouped AVPs nest deeper than `MAX_DEPTH`, is relayed as it came, whatever the
script returned for the AVPs before the fault; the next hop judges it.

`_Call` is the walk; `_pyform.c` (built where a C compiler is, `sigcore.dra._pyform`) does the same in C,
compared with it byte for byte by tests/dra/test_pyform_speedups.py, and is what `apply` uses when present
(the walk runs on every relayed message and was the larger part of the transform's cost; figures in
docs/performance.md). The price: a change to what the walk does is made in both.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from struct import Struct
from typing import Any, Final

from sigcore.diameter.dictionary import MAX_GROUP_DEPTH, Dictionary, parse_rule
from sigcore.dra.script_errors import ScriptErrors
from sigcore.dra.scriptmodule import ScriptModule

try:
    from sigcore.dra._pyform import walk as _walk
except ImportError:  # not built (no C compiler): the Python walk below does the same
    _walk = None  # type: ignore[assignment]

_U32X2: Final = Struct(">II")
_U32: Final = Struct(">I")
_HEADER: Final = Struct(">I4I")
_PAD: Final = (b"", b"\0\0\0", b"\0\0", b"\0")
_STRING, _GROUPED = 1, 2
#: Destination-Realm, Destination-Host, Route-Record (vendor 0): what the relay's routing reads
_ROUTING_AVPS: Final = frozenset({283, 293, 282})
STRING_TYPES: Final = frozenset({"OctetString", "UTF8String", "DiameterIdentity", "DiameterURI", "IPFilterRule"})
#: Grouped AVPs nested deeper than this are not walked (the message goes on as it came): as deep as the
#: dictionary's CCF check accepts, and a bound on the walk's recursion (_pyform.c's MAX_DEPTH is the same)
MAX_DEPTH: Final = MAX_GROUP_DEPTH


def avp_kinds(dictionary: Dictionary) -> dict[int, dict[int, int]]:
    """vendor -> code -> string or grouped, for the AVPs the walk visits. A Grouped AVP whose definition
    cannot hold a string-typed AVP at any depth (Vendor-Specific-Application-Id...) is not visited at all; one
    that allows any AVP (``*[ AVP ]``) is."""
    by_name = dictionary.by_name
    holds: dict[str, bool] = {}

    def holds_strings(name: str) -> bool:
        if name in holds:
            return holds[name]
        holds[name] = True  # a definition that contains itself: assume it may
        d = by_name.get(name)
        if d is None:
            result = name == "AVP"  # the wildcard: anything, strings included
        elif d.type in STRING_TYPES:
            result = True
        elif d.type == "Grouped":
            result = any(holds_strings(parse_rule(text)[0]) for text in d.rule_texts)
        else:
            result = False
        holds[name] = result
        return result

    kinds: dict[int, dict[int, int]] = {0: {}}
    for (code, vendor), d in dictionary.avps.items():
        if d.type in STRING_TYPES:
            kinds.setdefault(vendor, {})[code] = _STRING
        elif d.type == "Grouped" and holds_strings(d.name):
            kinds.setdefault(vendor, {})[code] = _GROUPED
    return kinds


def packed_kinds(kinds: dict[int, dict[int, int]]) -> bytes:
    """`avp_kinds` as the compiled walk reads it: native uint64 pairs (code | vendor << 32, kind), sorted."""
    pairs = sorted((code | vendor << 32, kind) for vendor, codes in kinds.items() for code, kind in codes.items())
    return array("Q", [n for pair in pairs for n in pair]).tobytes()


class PyformTransform:
    """One loaded script applied to whole messages (`apply`)."""

    def __init__(self, script: ScriptModule, dictionary: Dictionary, errors: ScriptErrors) -> None:
        self.script = script
        self.kinds = avp_kinds(dictionary)
        self._packed_kinds = packed_kinds(self.kinds)
        self.errors = errors
        self.calls = 0
        self.changed = 0
        #: whether the last `apply` changed an AVP the relay routes on (else it need not read them again)
        self.routing_changed = False

    def apply(self, frame: bytes | bytearray) -> bytes | None:
        """The message with the script's values, or None when nothing changed (or it cannot be walked)."""
        script = self.script
        script.maybe_reload()
        if _walk is not None:
            out, calls, self.routing_changed = _walk(frame, script.function, self._packed_kinds, self.errors,
                                                     script.label)
            self.calls += calls
            if not out:  # None: nothing changed; False: malformed, relayed byte-exact
                return None
            self.changed += 1
            return out
        return self._apply_python(frame)

    def _apply_python(self, frame: bytes | bytearray) -> bytes | None:
        """`apply` without the compiled walk (and the reference it is tested against)."""
        _, flags_code, app_id, hbh, e2e = _HEADER.unpack_from(frame)
        call = _Call(self.script.function, app_id, flags_code >> 24, flags_code & 0xFFFFFF, hbh, e2e,
                     self.kinds, self.errors, self.script.label)
        try:
            body = call.walk(frame, 20, len(frame), 0)
        except _Malformed:
            return None  # relayed byte-exact: the next hop judges it
        finally:
            self.calls += call.calls
            self.routing_changed = call.routing_changed
        if body is None:
            return None
        self.changed += 1
        return _HEADER.pack((1 << 24) | (20 + len(body)), flags_code, app_id, hbh, e2e) + body


class _Malformed(Exception):
    pass


class _Call:
    """The walk over one message, with the header fields every script call receives."""

    __slots__ = ("app_id", "calls", "cmd", "e2e", "errors", "flags", "func", "hbh", "kinds", "label",
                 "routing_changed")

    def __init__(self, func: Callable[..., Any], app_id: int, flags: int, cmd: int, hbh: int, e2e: int,
                 kinds: dict[int, dict[int, int]], errors: ScriptErrors, label: str) -> None:
        self.func, self.app_id, self.flags, self.cmd, self.hbh, self.e2e = func, app_id, flags, cmd, hbh, e2e
        self.kinds, self.errors, self.label = kinds, errors, label
        self.calls = 0
        self.routing_changed = False

    def walk(self, buf: bytes | bytearray, off: int, end: int, depth: int) -> bytes | None:
        """The AVPs in ``buf[off:end]`` (inside ``depth`` Grouped AVPs) re-encoded if any value changed,
        else None."""
        kinds = self.kinds
        base = kinds[0]
        unpack_from = _U32X2.unpack_from
        out: list[bytes | bytearray] | None = None
        copied = off  # buf[copied:off] is unchanged and not yet in ``out``
        while off < end:
            if end - off < 8:
                raise _Malformed
            code, flags_len = unpack_from(buf, off)
            length = flags_len & 0xFFFFFF
            if flags_len & 0x80000000:  # V-bit
                if end - off < 12:
                    raise _Malformed
                vendor_kinds = kinds.get(_U32.unpack_from(buf, off + 8)[0])
                kind = vendor_kinds.get(code) if vendor_kinds is not None else None
                hl = 12
            else:
                kind = base.get(code)
                hl = 8
            if length < hl or off + length > end:
                raise _Malformed
            nxt = off + ((length + 3) & ~3)
            if kind is not None:
                if kind == _STRING:
                    new = self._value(buf[off + hl:off + length], code, 0 if hl == 8 else
                                      _U32.unpack_from(buf, off + 8)[0])
                elif depth >= MAX_DEPTH:
                    raise _Malformed
                else:
                    new = self.walk(buf, off + hl, off + length, depth + 1)
                if new is not None:
                    if hl == 8 and code in _ROUTING_AVPS:
                        self.routing_changed = True
                    if out is None:
                        out = []
                    out.append(buf[copied:off])
                    head = bytearray(buf[off:off + hl])
                    head[5:8] = (hl + len(new)).to_bytes(3, "big")
                    out.append(bytes(head) + new + _PAD[len(new) & 3])
                    copied = min(nxt, end)
            off = nxt
        if out is None:
            return None
        out.append(buf[copied:end])
        return b"".join(out)

    def _value(self, data: bytes | bytearray, code: int, vendor: int) -> bytes | None:
        try:
            value = data.decode("utf-8")
            codec = "utf-8"
        except UnicodeDecodeError:
            value = data.decode("latin-1")
            codec = "latin-1"
        self.calls += 1
        try:
            result = self.func(self.app_id, self.flags, self.cmd, self.hbh, self.e2e, code, vendor, value)
        except Exception as err:  # any error in operator code: counted, logged rarely, never fatal
            self.errors.exception(self.label, err)
            return None
        if result is value:
            return None
        if not isinstance(result, str):
            self.errors.bad_value(self.label, f"{type(result).__name__}, not str")
            return None
        if result == value:
            return None
        try:
            return result.encode(codec)
        except UnicodeEncodeError:  # a binary value given characters beyond one octet, or lone surrogates
            try:
                return result.encode("utf-8")
            except UnicodeEncodeError:
                self.errors.bad_value(self.label, "a str that is not encodable as UTF-8")
                return None
