"""What the web console needs from the API: keyset paging with index-friendly prefixes, CSV import over
HTTP, and Diameter statistics as JSON. On SQLite and PostgreSQL (prefix ranges depend on the collation)."""

from __future__ import annotations

from typing import Any

import pytest
from apiserver import KI, OPC, LiveApi, secret_spellings

from sigcore.applications import Services
from sigcore.metrics.families import DIA_ANSWERS, DIA_LATENCY, PEER_EVENTS, PEER_STATE
from sigcore.metrics.http import OpsEndpoint
from sigcore.metrics.registry import Registry
from sigcore.store.bulk import BulkImporter, NewSubscriber
from sigcore.store.tokens import Role

MSISDNS = ["1999", "19990", "2", "20", "200", "2000", "2099", "21", "29", "299", "2999", "3", "39999", "4"]


def _load(api: LiveApi) -> None:
    importer = BulkImporter(api.store)
    importer.add([NewSubscriber(line=i, imsi=f"0010{i:02d}{'9' * (i % 3)}00000", ki=bytes(16), opc=bytes(16),
                                msisdn=m) for i, m in enumerate(MSISDNS)])
    assert importer.result.imported == len(MSISDNS)


def _all_pages(http: Any, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = None
    while True:
        page = http.get("/api/v1/subscribers", params={**params, "limit": 3, **({"after": after} if after else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        after = body["next_after"]
        if after is None:
            return items


@pytest.mark.parametrize("prefix", ["2", "29", "299", "2999", "1", "39", "9", "20"])
def test_msisdn_prefix_matches_by_keyset_pages(api: LiveApi, prefix: str) -> None:
    _load(api)
    with api.client(Role.READ) as http:
        found = [s["msisdn"] for s in _all_pages(http, msisdn_prefix=prefix, order="msisdn", with_total="false")]
        assert found == sorted(m for m in MSISDNS if m.startswith(prefix))
        counted = http.get("/api/v1/subscribers", params={"msisdn_prefix": prefix}).json()["total"]
        assert counted == len(found)


def test_imsi_order_keyset_walks_everyone_once(api: LiveApi) -> None:
    _load(api)
    with api.client(Role.READ) as http:
        imsis = [s["imsi"] for s in _all_pages(http)]
        assert imsis == sorted(imsis) and len(imsis) == len(MSISDNS)
        assert [s["imsi"] for s in _all_pages(http, imsi_prefix="00100")] == [i for i in imsis if i[:5] == "00100"]
        no_total = http.get("/api/v1/subscribers", params={"with_total": "false"}).json()
        assert no_total["total"] == -1
        assert http.get("/api/v1/subscribers", params={"after": "12a"}).status_code == 422
        assert http.get("/api/v1/subscribers", params={"order": "iccid"}).status_code == 422


def test_csv_import_over_http(api: LiveApi) -> None:
    csv = (f"IMSI;Ki;OPc;MSISDN;PIN1\n001010000000501;{KI};{OPC};15550501;1234\n"
           f"00101000000050x;{KI};{OPC};;0000\n001010000000501;{KI};{OPC};;\n")
    with api.client(Role.PROVISION) as http:
        answer = http.post("/api/v1/subscribers/import", params={"apn": "internet"}, content=csv,
                           headers={"content-type": "text/csv"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["rows"], body["imported"], body["ignored_columns"]) == (3, 1, ["PIN1"])
        assert [(r["line"], r["imsi"]) for r in body["rejected"]] == [(3, None), (4, "001010000000501")]
        assert http.post("/api/v1/subscribers/import", content="imsi,msisdn\n1,2\n").status_code == 422
        assert http.post("/api/v1/subscribers/import", content=b"\xff\xfe").status_code == 422
        dry = http.post("/api/v1/subscribers/import", params={"dry_run": "true"},
                        content=csv.replace("0501", "0502")).json()
        assert dry["imported"] == 1 and dry["dry_run"]
    sub = api.store.get_subscriber("001010000000501")
    assert sub.msisdn == "15550501" and [a.name for a in sub.apns] == ["internet"]
    with pytest.raises(Exception, match="0502"):
        api.store.get_subscriber("001010000000502")
    with api.client(Role.READ) as http:
        assert http.post("/api/v1/subscribers/import", content=csv).status_code == 403
    with api.client(Role.ADMIN) as http:
        entries = http.get("/api/v1/audit").json()["items"]
        assert any(e["target"] == "/api/v1/subscribers/import" and "1 imported, 2 rejected" in (e["detail"] or "")
                   for e in entries)
    assert not [s for s in secret_spellings() for b in api.bodies if s in b]


def test_csv_import_over_http_rejects_a_row_too_big_to_read(api: LiveApi) -> None:
    """A field over the csv module's limit (128 KiB) was a 500 for the whole body."""
    csv = f'imsi,ki,opc\n"{"1" * 200_000}",{KI},{OPC}\n001010000000503,{KI},{OPC}\n'
    with api.client(Role.PROVISION) as http:
        answer = http.post("/api/v1/subscribers/import", content=csv, headers={"content-type": "text/csv"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["imported"] == 1 and [r["line"] for r in body["rejected"]] == [2]
    assert "field larger than field limit" in body["rejected"][0]["reason"]


@pytest.fixture
def registry(services: Services) -> Registry:
    registry = Registry()
    services.metrics = OpsEndpoint(registry)
    return registry


def test_diameter_stats_by_command_and_peer(api: LiveApi, registry: Registry) -> None:
    registry.inc((DIA_ANSWERS, 16777251, 318, 0, 2001), 7)
    registry.inc((DIA_ANSWERS, 16777251, 318, 10415, 5001), 2)
    registry.inc((DIA_ANSWERS, 16777251, 316, 0, 2001), 3)
    registry.observe(DIA_LATENCY, (16777251, 318), 0.002)
    registry.inc((PEER_EVENTS, "mme1.example", "up"))
    registry.inc((PEER_EVENTS, "mme1.example", "down"))
    registry.set((PEER_STATE, "mme1.example"), 1)
    with api.client(Role.READ) as http:
        body = http.get("/api/v1/stats/diameter").json()
    commands = {c["command"]: c for c in body["commands"]}
    assert commands["AIR"]["answers"] == 9 and commands["AIR"]["errors"] == 2
    assert commands["AIR"]["application"] == "S6a/S6d" and commands["AIR"]["latency_sum_us"] == 2000
    assert commands["ULR"]["answers"] == 3 and commands["ULR"]["errors"] == 0
    assert body["peers"] == [{"name": "mme1.example", "state_code": 1, "transitions": 0, "connections_opened": 1,
                              "connections_lost": 1}]
    with api.client(None) as http:
        assert http.get("/api/v1/stats/diameter").status_code == 401
