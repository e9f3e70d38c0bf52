"""src/sigcore/metrics/snmp/mibs/SIGCORE-MIB.txt compiles (pysmi), and every OID the agent serves is an object
of that MIB with the syntax the agent gives it. The SMI base modules are minimal stubs of our own
(tests/metrics/smi_stubs): Debian ships net-snmp without the IETF MIB texts."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from sigcore.metrics.families import DIA_ANSWERS, PEER_EVENTS, PEER_STATE, PEER_TRANSITIONS
from sigcore.metrics.snapshot import Snapshot
from sigcore.metrics.snmp.oids import ENTERPRISE, rows

pysmi = pytest.importorskip("pysmi")
ROOT = Path(__file__).resolve().parents[2]
SYNTAX = {"counter64": "Counter64", "gauge32": "Gauge32", "integer": ("Integer32", "SigcorePeerState", "Integer")}


@pytest.fixture(scope="module")
def mib_view(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from pysmi.codegen import PySnmpCodeGen
    from pysmi.compiler import MibCompiler
    from pysmi.parser import SmiStarParser
    from pysmi.reader import FileReader
    from pysmi.searcher import StubSearcher
    from pysmi.writer import PyFileWriter
    from pysnmp.smi import builder, view

    out = tmp_path_factory.mktemp("mib")
    compiler = MibCompiler(SmiStarParser(), PySnmpCodeGen(), PyFileWriter(str(out)))
    compiler.add_sources(FileReader(str(ROOT / "src/sigcore/metrics/snmp/mibs")),
                         FileReader(str(Path(__file__).with_name("smi_stubs"))))
    compiler.add_searchers(StubSearcher(*PySnmpCodeGen.baseMibs))
    status = compiler.compile("SIGCORE-MIB", rebuild=True, genTexts=True)
    assert status["SIGCORE-MIB"] == "compiled", getattr(status["SIGCORE-MIB"], "error", status)
    mib_builder = builder.MibBuilder()
    mib_builder.add_mib_sources(builder.DirMibSource(str(out)))
    with warnings.catch_warnings():  # pysmi's generated module calls pysnmp names pysnmp now deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        mib_builder.load_modules("SIGCORE-MIB")
    return mib_builder, view.MibViewController(mib_builder)


def test_every_served_oid_is_a_mib_object_of_the_same_syntax(mib_view) -> None:  # type: ignore[no-untyped-def]
    mib_builder, mib = mib_view
    (root,) = mib_builder.import_symbols("SIGCORE-MIB", "sigcoreMIB")
    assert tuple(root.name) == (1, 3, 6, 1, 4, 1, ENTERPRISE)
    snap = Snapshot({(DIA_ANSWERS, 16777251, 318, 10415, 5001): 1, ("dia_latency_sum_us", 16777251, 318): 5,
                     ("dia_latency_bucket", 16777251, 318, 2): 1, (PEER_TRANSITIONS, "mme"): 2,
                     (PEER_EVENTS, "mme", "up"): 1, (PEER_EVENTS, "mme", "down"): 1},
                    {(PEER_STATE, "mme"): 6}, "redis")
    served = rows(snap)
    names = set()
    for oid, kind, _ in served:
        _node_oid, label, suffix = mib.get_node_name(oid)
        (obj,) = mib_builder.import_symbols("SIGCORE-MIB", label[-1])
        assert obj.maxAccess == "read-only", label[-1]
        expected = SYNTAX[kind]
        assert type(obj.syntax).__name__ in (expected if isinstance(expected, tuple) else (expected,)), label[-1]
        assert suffix, f"{label[-1]} served without an instance suffix"
        names.add(label[-1])
    assert {"sigcoreCmdAnswers", "sigcoreResAnswers", "sigcorePeerState", "sigcoreCmdLatencySumMicros",
            "sigcoreCmdLatencyCount", "sigcorePeerUps", "sigcorePeerDowns", "sigcoreActiveSubscribers",
            "sigcoreMetricsSource"} <= names


def test_dra_counters_are_served_under_the_dra_table(mib_view) -> None:  # type: ignore[no-untyped-def]
    from sigcore.dra.stats import DraStats
    from sigcore.metrics.registry import Registry
    from sigcore.metrics.snapshot import local_snapshot

    mib_builder, mib = mib_view
    registry = Registry()
    stats = DraStats(registry)
    stats.relayed("imsi", "hss1")
    stats.answered("imsi", "hss1", 2001, 0.0004)
    stats.answered("imsi", "hss1", 3002, None)
    stats.failover("imsi", "hss2")
    stats.timeout("imsi", "hss2")
    stats.looped("mme")
    stats.local_answer("-", 3002)
    stats.script_errors("s.transform", 2)
    served = {}
    for oid, kind, value in rows(local_snapshot(registry)):
        _node_oid, label, suffix = mib.get_node_name(oid)
        (obj,) = mib_builder.import_symbols("SIGCORE-MIB", label[-1])
        assert obj.maxAccess == "read-only"
        if label[-1].startswith("sigcoreDra"):
            assert kind == "counter64" and type(obj.syntax).__name__ == "Counter64", label[-1]
        served[label[-1], tuple(suffix)] = value
    imsi_hss1 = (4, *b"imsi", 4, *b"hss1")
    assert served["sigcoreDraRelayed", imsi_hss1] == 1 and served["sigcoreDraAnswers2xxx", imsi_hss1] == 1
    assert served["sigcoreDraAnswers3xxx", imsi_hss1] == 1 and served["sigcoreDraLatencyCount", imsi_hss1] == 1
    assert served["sigcoreDraLatencySumMicros", imsi_hss1] == 400
    assert served["sigcoreDraFailovers", (4, *b"imsi", 4, *b"hss2")] == 1
    assert served["sigcoreDraLooped", (0,)] == 1 and served["sigcoreDraScriptErrors", (0,)] == 2
