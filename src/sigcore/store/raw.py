"""Hot statements run on the DB-API cursor of a SQLAlchemy connection, inside its transaction.

At thousands of requests a second SQLAlchemy's per-execution machinery (parameter construction, result
set-up, row objects) costs several times the statement itself on SQLite, and a large share on a server
database. `RawStatement` keeps the statement as SQLAlchemy Core (so the SQL stays portable and typed) but
compiles it once per dialect and runs the compiled string on the driver's cursor: the same transaction,
the same types. Values pass through the column types' bind and result processors, so a datetime written
here reads back through SQLAlchemy unchanged, and SQLite's 0/1 come back as booleans.

An expanding IN parameter (``bindparam("imsis", expanding=True)``) is padded to the next power of two
with repeats of its last value (``IN`` does not care), so a statement has at most a dozen compiled forms.
"""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]


_MAX_LENGTHS = 4096  # IN-list length combinations remembered per statement (batches are up to 512)
_SEQUENCES = (list, tuple)  # IN-list values read in place
_PARAMETER = object()  # in a plan: the value comes from the caller's parameters


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: bool  # qmark/format paramstyles take a tuple in `plan` order, the others a dict
    # (driver's name, caller's name, index in the caller's IN list or -1, fixed value or _PARAMETER,
    # bind processor): an IN list is read in place, its padding repeats the last value
    plan: tuple[tuple[str, str, int, Any, Processor | None], ...]
    results: tuple[tuple[int, Processor], ...]  # result processors by column index
    row: Any  # the namedtuple type of a row (None for DML)

    def values(self, params: Mapping[str, Any], done: dict[tuple[int, int], Any] | None = None) -> Any:
        """The driver's parameters: the caller's (or the statement's own literals), bind-processed.

        ``done`` remembers processed values by object identity across the rows of one executemany (whose
        parameter sets keep those objects alive): a batch's one timestamp is formatted once, not per row."""
        out = []
        for _, name, index, fixed, process in self.plan:
            if fixed is not _PARAMETER:
                value = fixed
            elif index < 0:
                value = params[name]
            else:
                listed = params[name]
                value = listed[index] if index < len(listed) else listed[-1]
            if process is None:
                out.append(value)
            elif done is None:
                out.append(process(value))
            else:
                key = (id(process), id(value))
                processed = done.get(key, _PARAMETER)
                if processed is _PARAMETER:
                    processed = done[key] = process(value)
                out.append(processed)
        if self.positional:
            return tuple(out)
        return {driver: value for (driver, _, _, _, _), value in zip(self.plan, out, strict=True)}


def _compiled(statement: ClauseElement, dialect: Dialect | None = None) -> SQLCompiler:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    return compiled


def _cursor(conn: Connection) -> Any:
    """A DB-API cursor in `conn`'s transaction. SQLAlchemy begins its transaction on its own first
    execution; a connection used only through raw cursors would otherwise "commit" nothing and roll the
    driver's implicit transaction back when it returns to the pool."""
    if not conn.in_transaction():
        conn.begin()
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


_TWO_DIGITS = tuple(f"{i:02d}" for i in range(100))


def _sqlite_datetime(slow: Processor) -> Processor:
    """SQLAlchemy's SQLite DATETIME bind processor, in its default storage format
    (``YYYY-MM-DD HH:MM:SS.ffffff``, the wall-clock fields as given, any tzinfo left out), without its
    ``%``-formatting with a dict: every SQN and serving-node write carries a timestamp, and that formatting
    was a large share of a lone AIR's transaction (docs/performance.md). What this does not format the same
    way (another type, a year before 1000) goes to SQLAlchemy's own ``slow``."""
    two = _TWO_DIGITS
    datetime = dt.datetime

    def process(value: Any) -> Any:
        if type(value) is not datetime or value.year < 1000:
            return slow(value)
        return (f"{value.year}-{two[value.month]}-{two[value.day]} {two[value.hour]}:{two[value.minute]}:"
                f"{two[value.second]}.{str(1_000_000 + value.microsecond)[1:]}")

    return process


def _bind_processor(impl: Any, dialect: Dialect) -> Processor | None:
    """The column type's bind processor for `dialect`, or an equivalent that costs less (`_sqlite_datetime`)."""
    process: Processor | None = impl.bind_processor(dialect)
    if (process is not None and type(impl) is SQLITE_DATETIME
            and impl._storage_format == SQLITE_DATETIME._storage_format):
        return _sqlite_datetime(process)
    return process


def _bucket(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


class RawStatement:
    """One fixed statement; `rows(conn, params)` for a SELECT, `rowcount(conn, rows)` for DML (executemany)."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[int, ...]], _Compiled] = {}
        self._by_length: dict[tuple[Any, ...], _Compiled] = {}  # (dialect name, *IN-list lengths) -> compiled
        self._expanding = tuple(sorted(b.key for b in _compiled(statement).binds.values() if b.expanding))

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """The result rows as named tuples (column keys as field names)."""
        compiled, flat = self._prepare(conn.dialect, params)
        cursor = _cursor(conn)
        try:
            cursor.execute(compiled.sql, compiled.values(flat))
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        make, results = compiled.row._make, compiled.results
        if not results:
            return [make(r) for r in fetched]
        out = []
        for r in fetched:
            row = list(r)
            for index, process in results:
                row[index] = process(row[index])
            out.append(make(row))
        return out

    def rowcount(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Execute once per parameter set (one executemany); the rows matched in total.

        Only meaningful where the driver sums executemany row counts (``supports_sane_multi_rowcount``:
        sqlite3, psycopg, PyMySQL); callers check that, as `check_all_updated` does.
        Every parameter set must have the same IN-list sizes (DML here has no IN lists)."""
        if not rows:
            return 0
        compiled, first = self._prepare(conn.dialect, rows[0])
        cursor = _cursor(conn)
        try:
            if len(rows) == 1:
                cursor.execute(compiled.sql, compiled.values(first))
            else:
                values = compiled.values
                done: dict[tuple[int, int], Any] = {}
                cursor.executemany(compiled.sql, [values(first, done), *(values(r, done) for r in rows[1:])])
            return int(cursor.rowcount)
        finally:
            cursor.close()

    # --- compilation -----------------------------------------------------------------------------------
    def _prepare(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[_Compiled, Mapping[str, Any]]:
        """The compiled form for these parameters' IN-list sizes (each padded to a power of two), and the
        parameters as `_Compiled.values` reads them (IN lists as sequences)."""
        if not self._expanding:
            key: tuple[str, tuple[int, ...]] = (dialect.name, ())
            compiled = self._compiled.get(key)
            if compiled is None:
                compiled = self._compiled[key] = self._compile(dialect, params, ())
            return compiled, params
        flat = params  # copied only if an IN list must be made a list (callers mostly pass lists)
        lengths = []
        for name in self._expanding:
            listed = params[name]
            if not isinstance(listed, _SEQUENCES):
                listed = list(listed)
                flat = {**flat, name: listed}
            if not listed:
                raise ValueError(f"{name}: an expanding IN parameter needs at least one value")
            lengths.append(len(listed))
        # by the lists' own lengths, each mapped to its power-of-two form once: no bucketing per call
        by_length = (dialect.name, *lengths)
        compiled = self._by_length.get(by_length)
        if compiled is None:
            sizes = tuple(_bucket(n) for n in lengths)
            compiled = self._compiled.get((dialect.name, sizes))
            if compiled is None:
                compiled = self._compiled[(dialect.name, sizes)] = self._compile(dialect, flat, sizes)
            if len(self._by_length) < _MAX_LENGTHS:
                self._by_length[by_length] = compiled
        return compiled, flat

    def _compile(self, dialect: Dialect, params: Mapping[str, Any], sizes: tuple[int, ...]) -> _Compiled:
        compiled = _compiled(self.statement, dialect)
        padded = dict(params)
        spread: dict[str, tuple[str, int]] = {}  # "imsis_2" (SQLAlchemy's name) -> ("imsis", 1)
        for name, size in zip(self._expanding, sizes, strict=True):
            listed = list(params[name])
            padded[name] = listed + [listed[-1]] * (size - len(listed))
            spread.update({f"{name}_{i}": (name, i - 1) for i in range(1, size + 1)})
        expanded = compiled.construct_expanded_state(padded)
        processors: dict[str, Processor | None] = {}
        fixed: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            if name not in padded and not bind.required:
                fixed[name] = bind.effective_value
            process = _bind_processor(bind.type.dialect_impl(dialect), dialect)
            if bind.expanding:
                processors.update({f"{name}_{i}": process for i in range(1, len(padded[name]) + 1)})
            else:
                processors[name] = process
        positional = bool(compiled.positional)
        names = expanded.positiontup if positional else list(expanded.parameters)
        plan = tuple((n, *spread.get(n, (n, -1)), fixed.get(n, _PARAMETER), processors.get(n)) for n in names or ())
        row: Any = None
        results = []
        columns = getattr(self.statement, "selected_columns", None)
        if columns is not None:
            row = namedtuple("RawRow", [c.key for c in columns])  # type: ignore[misc,no-redef]
            for index, column in enumerate(columns):
                process = column.type.dialect_impl(dialect).result_processor(dialect, None)
                if process is not None:
                    results.append((index, process))
        return _Compiled(expanded.statement, positional, plan, tuple(results), row)


class Retry(Exception):
    """A compare-and-set lost: the transaction is rolled back and rerun (`BatchWorker` does it for a batch)."""


def check_all_updated(conn: Connection, statement: Any, rows: list[dict[str, Any]]) -> None:
    """Run a compare-and-set UPDATE (a Core statement or a `RawStatement`) for every row; `Retry` unless
    each one matched exactly one row.

    One executemany when the driver reports a summed rowcount for it (sqlite3, psycopg, PyMySQL do),
    else one statement per row."""
    def matched(params: list[dict[str, Any]]) -> int:
        if isinstance(statement, RawStatement):
            return statement.rowcount(conn, params)
        return int(conn.execute(statement, params).rowcount)

    if conn.dialect.supports_sane_multi_rowcount or len(rows) == 1:
        if matched(rows) != len(rows):
            raise Retry("a compare-and-set lost: the row changed under the lock")
        return
    for row in rows:
        if matched([row]) != 1:
            raise Retry("a compare-and-set lost: the row changed under the lock")
