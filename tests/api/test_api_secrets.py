"""Ki, OPc and OP, once provisioned, never come back: not in any answer, log line or CLI output."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from apiserver import KI, OP, OPC, LiveApi, secret_spellings
from typer.testing import CliRunner

from sigcore.cli import app
from sigcore.store.tokens import Role

IMSI = "001010000000001"


def _exercise_every_endpoint(api: LiveApi) -> None:
    """Provision with keys, then touch every route, including failing ones that echo input."""
    with api.client(Role.ADMIN) as http:
        http.post("/api/v1/subscribers", json={"imsi": IMSI, "msisdn": "1", "ki": KI, "opc": OPC, "apns": ["a"]})
        http.post("/api/v1/subscribers", json={"imsi": IMSI, "ki": KI, "opc": OPC})  # 409
        http.post("/api/v1/subscribers", json={"imsi": "0010100000000X", "ki": KI, "opc": OPC})  # 422
        http.post("/api/v1/subscribers", json={"imsi": "001010000000002", "ki": KI + "0", "opc": OPC})  # 422
        http.post("/api/v1/subscribers", json={"imsi": "001010000000002", "ki": KI, "opc": OPC, "op": OP})  # 422
        http.post("/api/v1/subscribers", content=f'{{"ki": "{KI}"'.encode())  # malformed JSON
        for path in ("", "/serving", "/auth"):
            http.get(f"/api/v1/subscribers/{IMSI}{path}")
        http.get("/api/v1/subscribers/by-msisdn/1")
        http.get("/api/v1/subscribers")
        http.patch(f"/api/v1/subscribers/{IMSI}", json={"odb": 2})
        http.patch(f"/api/v1/subscribers/{IMSI}/auth", json={"op": OP})
        http.patch(f"/api/v1/subscribers/{IMSI}/auth", json={"opc": OPC, "ki": KI})
        http.post(f"/api/v1/subscribers/{IMSI}/auth/sqn", json={"sqn": 99})
        http.post(f"/api/v1/subscribers/{IMSI}/auth/resync", json={"rand": KI, "auts": OPC[:28]})
        http.get("/api/v1/apns")
        http.get("/api/v1/apns/a")
        http.get("/api/v1/peers")
        http.get("/api/v1/audit")
        http.get("/api/v1/tokens")
        http.delete(f"/api/v1/subscribers/{IMSI}")


def test_no_answer_or_log_line_contains_a_key(api: LiveApi, caplog: pytest.LogCaptureFixture,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    _exercise_every_endpoint(api)
    out, err = capfd.readouterr()
    assert len(api.bodies) >= 20
    logged = "\n".join(r.getMessage() for r in caplog.records) + out + err
    assert f"/api/v1/subscribers/{IMSI}/auth" in logged  # the access log was captured too
    for secret in secret_spellings():
        for body in api.bodies:
            assert secret not in body
        assert secret not in logged


def test_no_cli_output_contains_a_key(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = tmp_path / "sigcore.yaml"
    (tmp_path / "kek").write_text("11" * 32)
    config.write_text(yaml.safe_dump({"database": {"url": f"sqlite:///{tmp_path / 'hss.sqlite'}",
                                                   "key_file": str(tmp_path / "kek")}}))
    batch = tmp_path / "batch.csv"
    batch.write_text(f"imsi,ki,opc\n{IMSI},{KI},{OPC}\n{IMSI},{KI},{OPC}\n001010000000002,{KI}00,{OPC}\n"
                     f"001010000000003,{KI},{OP}\n")
    runner = CliRunner()
    outputs = []
    for args in (["subscriber", "import", str(batch), "--dry-run"], ["subscriber", "import", str(batch)],
                 ["apn", "list"], ["apn", "show", "internet"]):
        result = runner.invoke(app, [*args, "--config", str(config)])
        outputs.append(result.output)
    out, err = capfd.readouterr()
    text = "\n".join(outputs) + out + err + "\n".join(r.getMessage() for r in caplog.records)
    assert "rejected 2 row(s)" in text  # the import really ran (and explained itself)
    for secret in secret_spellings():
        assert secret not in text
