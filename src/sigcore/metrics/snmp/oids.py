"""Where each number of a ``Snapshot`` lives in the SIGCORE-MIB tree (mibs/SIGCORE-MIB.txt beside this file).

Pure data, no pysnmp: ``rows(snapshot)`` gives ``(oid, kind, value)`` sorted in OID order, which the
agent serves as is (GET is a dict lookup, GETNEXT a bisection). Keep this module and the MIB file in step;
tests/metrics/test_mib.py compiles the MIB and checks every OID used here against it.
"""

from __future__ import annotations

from collections import defaultdict

from sigcore.metrics.families import (
    ACTIVE_SUBSCRIBERS,
    AUTH_FAILURES,
    DB_ERRORS,
    DB_LATENCY,
    DB_OPS,
    DIA_ANSWERS,
    DIA_LATENCY,
    DRA_ANSWERS,
    DRA_FAILOVERS,
    DRA_LATENCY,
    DRA_LOCAL_ANSWERS,
    DRA_LOOPED,
    DRA_RELAYED,
    DRA_SCRIPT_ERRORS,
    DRA_TIMEOUTS,
    FLUSH_FAILURES,
    PEER_EVENTS,
    PEER_STATE,
    PEER_TRANSITIONS,
    VECTORS_ISSUED,
)
from sigcore.metrics.snapshot import Snapshot

Oid = tuple[int, ...]
Row = tuple[Oid, str, int]  # kind: "counter64" | "gauge32" | "integer"

#: Placeholder Private Enterprise Number until IANA assigns one to sigcore: change it here and in the MIB.
ENTERPRISE = 99999
SIGCORE_MIB: Oid = (1, 3, 6, 1, 4, 1, ENTERPRISE)
OBJECTS: Oid = (*SIGCORE_MIB, 1)
DIAMETER: Oid = (*OBJECTS, 1)
CMD_ENTRY: Oid = (*DIAMETER, 1, 1)  # sigcoreCmdEntry: INDEX { appId, cmdCode }
RESULT_ENTRY: Oid = (*DIAMETER, 2, 1)  # sigcoreResultEntry: INDEX { appId, cmdCode, vendor, code }
PEER_ENTRY: Oid = (*DIAMETER, 3, 1)  # sigcorePeerEntry: INDEX { sigcorePeerName }
HSS: Oid = (*OBJECTS, 2)
DATABASE: Oid = (*OBJECTS, 3)
METRICS: Oid = (*OBJECTS, 4)
DRA: Oid = (*OBJECTS, 5)
DRA_ROUTE_ENTRY: Oid = (*DRA, 1, 1)  # sigcoreDraRouteEntry: INDEX { route name, peer name }
#: sigcoreDraRouteEntry columns: relayed, answers by class, failovers, timeouts, latency sum and count
DRA_COLUMNS = {DRA_RELAYED: 3, "2xxx": 4, "3xxx": 5, "4xxx": 6, "5xxx": 7, DRA_FAILOVERS: 8, DRA_TIMEOUTS: 9,
               DRA_LATENCY + "_sum_us": 10, DRA_LATENCY + "_bucket": 11}

CMD_ANSWERS, CMD_LATENCY_SUM, CMD_LATENCY_COUNT = 3, 4, 5
RESULT_ANSWERS = 5
PEER_STATE_COL, PEER_TRANSITIONS_COL, PEER_UPS_COL, PEER_DOWNS_COL = 2, 3, 4, 5
MAX_PEER_NAME = 64  # the MIB's SIZE (1..64): an OID index of at most 65 sub-identifiers


def cmd_answers_oid(app: int, cmd: int) -> Oid:
    """The OID of the answer count of (application, command), e.g. S6a AIR: ``cmd_answers_oid(16777251, 318)``."""
    return (*CMD_ENTRY, CMD_ANSWERS, app, cmd)


def peer_index(name: str) -> Oid:
    """A DisplayString index: length, then one sub-identifier per octet."""
    data = name.encode()[:MAX_PEER_NAME]
    return (len(data), *data)


def _scalar(base: Oid, column: int) -> Oid:
    return (*base, column, 0)


def rows(snapshot: Snapshot) -> list[Row]:
    out: list[Row] = []
    per_cmd: dict[tuple[int, int], int] = defaultdict(int)
    latency_sum: dict[tuple[int, int], int] = defaultdict(int)
    latency_count: dict[tuple[int, int], int] = defaultdict(int)
    peers: dict[str, dict[int, int]] = defaultdict(dict)
    by_family: dict[str, int] = defaultdict(int)
    auth: dict[str, int] = defaultdict(int)
    dra: dict[tuple[str, str, int], int] = defaultdict(int)
    for key, value in snapshot.counters.items():
        family = key[0]
        if family in DRA_COLUMNS:
            dra[str(key[1]), str(key[2]), DRA_COLUMNS[family]] += value
        elif family == DRA_ANSWERS:
            if (column := DRA_COLUMNS.get(str(key[3]))) is not None:
                dra[str(key[1]), str(key[2]), column] += value
        elif family in (DRA_LOOPED, DRA_LOCAL_ANSWERS, DRA_SCRIPT_ERRORS):
            by_family[family] += value
        elif family == DIA_ANSWERS:
            app, cmd, vendor, code = (int(x) for x in key[1:5])
            per_cmd[app, cmd] += value
            out.append(((*RESULT_ENTRY, RESULT_ANSWERS, app, cmd, vendor, code), "counter64", value))
        elif family == DIA_LATENCY + "_sum_us":
            latency_sum[int(key[1]), int(key[2])] += value
        elif family == DIA_LATENCY + "_bucket":
            latency_count[int(key[1]), int(key[2])] += value
        elif family == PEER_TRANSITIONS:
            peers[str(key[1])][PEER_TRANSITIONS_COL] = value
        elif family == PEER_EVENTS:
            peers[str(key[1])][PEER_UPS_COL if key[2] == "up" else PEER_DOWNS_COL] = value
        elif family == AUTH_FAILURES:
            auth[str(key[1])] += value
        elif family in (VECTORS_ISSUED, DB_OPS, DB_ERRORS, FLUSH_FAILURES, DB_LATENCY + "_sum_us"):
            by_family[family] += value
    for key, state in snapshot.gauges.items():
        if key[0] == PEER_STATE:
            peers[str(key[1])][PEER_STATE_COL] = int(state)
    for (app, cmd), n in per_cmd.items():
        out.append(((*CMD_ENTRY, CMD_ANSWERS, app, cmd), "counter64", n))
    for (app, cmd), n in latency_sum.items():
        out.append(((*CMD_ENTRY, CMD_LATENCY_SUM, app, cmd), "counter64", n))
    for (app, cmd), n in latency_count.items():
        out.append(((*CMD_ENTRY, CMD_LATENCY_COUNT, app, cmd), "counter64", n))
    for name, columns in peers.items():
        columns.setdefault(PEER_STATE_COL, 1)  # known from counters only: no process holds it now
        for column, value in columns.items():
            kind = "integer" if column == PEER_STATE_COL else "counter64"
            out.append(((*PEER_ENTRY, column, *peer_index(name)), kind, value))
    for (route, peer, column), n in dra.items():
        out.append(((*DRA_ROUTE_ENTRY, column, *peer_index(route), *peer_index(peer)), "counter64", n))
    out += [
        (_scalar(DRA, 2), "counter64", by_family[DRA_LOOPED]),
        (_scalar(DRA, 3), "counter64", by_family[DRA_LOCAL_ANSWERS]),
        (_scalar(DRA, 4), "counter64", by_family[DRA_SCRIPT_ERRORS]),
        (_scalar(HSS, 1), "counter64", auth.get("mac", 0)),
        (_scalar(HSS, 2), "counter64", auth.get("sqn", 0)),
        (_scalar(HSS, 3), "counter64", by_family[VECTORS_ISSUED]),
        (_scalar(HSS, 4), "gauge32", int(snapshot.gauges.get((ACTIVE_SUBSCRIBERS,), 0))),
        (_scalar(DATABASE, 1), "counter64", by_family[DB_OPS]),
        (_scalar(DATABASE, 2), "counter64", by_family[DB_ERRORS]),
        (_scalar(DATABASE, 3), "counter64", by_family[DB_LATENCY + "_sum_us"]),
        (_scalar(METRICS, 1), "integer", 2 if snapshot.source == "redis" else 1),
        (_scalar(METRICS, 2), "counter64", by_family[FLUSH_FAILURES]),
    ]
    out.sort(key=lambda row: row[0])
    return out
