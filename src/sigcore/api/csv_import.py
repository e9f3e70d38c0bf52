"""SIM vendor batch files (CSV) to validated `NewSubscriber` rows, rejected lines with their reason.

Columns are matched by header name, case-insensitively: ``imsi`` and ``ki`` (or ``k``) are required, with
``opc`` or ``op``; optional ``iccid``, ``msisdn``, ``amf`` (4 hex digits, default 8000), ``sqn`` (decimal,
default 0) and ``apns`` (names separated by ``|`` or spaces; default: the ``--apn`` options). Other columns
(PIN, PUK, ADM…) are ignored and named once. The delimiter (comma, semicolon or tab) is detected.
Reasons never quote a key.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sigcore.store import validate as v
from sigcore.store.bulk import NewSubscriber, Rejected
from sigcore.store.errors import InvalidValue

ALIASES = {"imsi": "imsi", "ki": "ki", "k": "ki", "key": "ki", "opc": "opc", "op": "op", "amf": "amf",
           "sqn": "sqn", "msisdn": "msisdn", "iccid": "iccid", "apns": "apns", "apn": "apns"}
REQUIRED = ("imsi", "ki")
MAX_NAMED = 20  # header columns an error names, at most


@dataclass
class CsvBatch:
    """The header's meaning and an iterator over (row or rejection) in file order."""

    columns: dict[str, int]
    ignored: list[str]
    rows: Iterator[NewSubscriber | Rejected] = field(repr=False)


def count_utf8_rows(path: Path) -> int:
    """Data lines (for the progress bar): newlines minus the header, counted without parsing. Raises
    InvalidValue naming the first line that is not UTF-8 text, before anything is imported (a vendor file
    saved as Latin-1 would otherwise fail half-way)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as err:
                raise _not_utf8(lines + chunk.count(b"\n", 0, max(err.start, 0)) + 1) from None
            lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _not_utf8(lines + 1) from None
    return max(lines - 1, 0)


def _not_utf8(line: int) -> InvalidValue:
    return InvalidValue(f"line {line} is not UTF-8 text (save the file as UTF-8)")


def _dialect(f: TextIO) -> type[csv.Dialect] | csv.Dialect:
    sample = f.read(8192)
    f.seek(0)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "").replace(" ", "").replace("-", "")


def read_header(header: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for index, name in enumerate(header):
        meaning = ALIASES.get(_key(name))
        if meaning is None or meaning in columns:
            ignored.append(name)
        else:
            columns[meaning] = index
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        more = len(header) - MAX_NAMED
        found = ", ".join(header[:MAX_NAMED]) + (f" and {more} more" if more > 0 else "")
        raise InvalidValue(f"header: no {' or '.join(missing)} column (found: {found})")
    if "opc" not in columns and "op" not in columns:
        raise InvalidValue("header: no opc or op column")
    return columns, ignored


def _number(text: str, base: int, message: str) -> int:
    try:
        return int(text, base)
    except ValueError:
        raise InvalidValue(message) from None


def parse_row(line: int, cells: Sequence[str], columns: dict[str, int], default_apns: Sequence[str]) -> NewSubscriber:
    def cell(name: str) -> str:
        index = columns.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    opc, op = cell("opc"), cell("op")
    if bool(opc) == bool(op):
        raise InvalidValue("opc: give exactly one of opc and op")
    amf = cell("amf") or "8000"
    amf_value = _number(amf, 16, "amf: expected 4 hex digits") if len(amf) == 4 else -1
    sqn_value = _number(cell("sqn") or "0", 10, "sqn: expected a decimal integer")
    apn_cell = cell("apns").replace("|", " ").split()
    apns = v.apn_names(apn_cell or default_apns)
    return NewSubscriber(
        line=line, imsi=v.imsi(cell("imsi")), ki=v.key("ki", cell("ki")),
        opc=v.key("opc", opc) if opc else None, op=v.key("op", op) if op else None,
        amf=v.amf(amf_value), sqn=v.sqn(sqn_value),
        msisdn=v.optional_digits("msisdn", cell("msisdn"), 1, 15),
        iccid=v.optional_digits("iccid", cell("iccid"), 18, 22), apns=apns,
    )


def read_batch(f: TextIO, default_apns: Sequence[str] = ()) -> CsvBatch:
    """Parse the header now (raising `InvalidValue` if it is unusable) and the rows lazily."""
    reader = csv.reader(f, _dialect(f))
    try:
        header = next(reader, None)
    except csv.Error as err:
        raise InvalidValue(f"header: not readable as CSV: {err}") from None
    if header is None:
        raise InvalidValue("header: the file is empty")
    columns, ignored = read_header(header)

    def rows() -> Iterator[NewSubscriber | Rejected]:
        failed_at = -1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as err:  # e.g. a field over csv's limit: that row is rejected, the next is read
                if reader.line_num == failed_at:  # the reader no longer moves on: nothing more to read
                    return
                failed_at = reader.line_num
                yield Rejected(failed_at, None, f"not readable as CSV: {err}")
                continue
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            try:
                yield parse_row(line, cells, columns, default_apns)
            except InvalidValue as err:
                imsi = cells[columns["imsi"]].strip() if columns["imsi"] < len(cells) else None
                yield Rejected(line, imsi if imsi and imsi.isdigit() and len(imsi) <= 15 else None, str(err))

    return CsvBatch(columns, ignored, rows())
