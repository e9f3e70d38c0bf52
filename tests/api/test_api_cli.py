"""`sigcore token …`, `sigcore subscriber import` and `sigcore apn …` against a real store (and API)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
import yaml
from apiserver import KI, OP, OPC, ThreadedApi
from sqlalchemy import insert
from typer.testing import CliRunner, Result

from sigcore.cli import app
from sigcore.store import Store, migrate
from sigcore.store import tables as t
from sigcore.store.apns import DEFAULT_APN_QOS
from sigcore.store.tokens import TokenRepository


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    (tmp_path / "kek").write_text(os.urandom(32).hex())
    path = tmp_path / "sigcore.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": db_url, "key_file": str(tmp_path / "kek")}}))
    return path


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--config", str(config)])


def open_store(config: Path) -> Store:
    from sigcore.config import load_config

    return Store.from_config(load_config(config).database)


def test_token_create_prints_the_token_alone_on_its_last_line(config: Path) -> None:
    result = run(config, "token", "create", "--role", "provision", "--name", "bss")
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    with open_store(config) as store:
        token = TokenRepository(store).authenticate(secret)
        assert token is not None and token.role == "provision" and token.name == "bss"
        server = ThreadedApi(store)
        server.start()
        try:
            import httpx

            response = httpx.get(f"{server.server.url}/api/v1/apns", headers={"Authorization": f"Bearer {secret}"})
        finally:
            server.stop()
    assert response.status_code == 200
    listed = run(config, "token", "list")
    assert "bss" in listed.output and secret not in listed.output
    assert run(config, "token", "revoke", str(token.id)).exit_code == 0
    assert run(config, "token", "revoke", "999").exit_code == 1
    assert run(config, "token", "create", "--role", "root").exit_code == 2


@pytest.mark.parametrize(("name", "said"), [("x" * 101, "error: --name: at most 100 characters"),
                                            ("a\nb", "error: --name: printable characters only")])
def test_token_create_names_a_bad_name_in_a_line(config: Path, name: str, said: str) -> None:
    result = run(config, "token", "create", "--role", "read", "--name", name)  # was an InvalidValue traceback
    assert result.exit_code == 2 and result.output.startswith(said), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("token_id", ["0", str(2**64)])
def test_token_revoke_refuses_an_id_no_token_can_have(config: Path, token_id: str) -> None:
    result = run(config, "token", "revoke", token_id)  # 2**64 was an OverflowError traceback
    assert result.exit_code == 2 and "token_id" in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def write_batch(path: Path, rows: list[list[str]], header: list[str], delimiter: str = ",") -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_import_dry_run_then_for_real_with_rejected_rows_explained(config: Path, tmp_path: Path) -> None:
    header = ["IMSI", "ICCID", "Ki", "OPc", "OP", "MSISDN", "APNs", "PIN1"]
    good = [[f"00101000000{n:04d}", f"8901010000000000{n:04d}", KI, OPC, "", f"1555{n:04d}", "internet|ims", "0000"]
            for n in range(25)]
    bad = [
        ["00101000000", "", KI, OPC, "", "", "", ""],                  # line 27: IMSI too short? (11 digits is fine)
        ["0010100000000ab", "", KI, OPC, "", "", "", ""],              # line 28: not digits
        ["001010000009999", "", KI[:-2], OPC, "", "", "", ""],         # line 29: short Ki
        ["001010000009998", "", KI, OPC, OP, "", "", ""],              # line 30: both OPc and OP
        ["001010000000001", "", KI, OPC, "", "", "", ""],              # line 31: repeated IMSI
        ["001010000009997", "", KI, "", OP, "15550003", "", ""],       # line 32: repeated MSISDN
        ["001010000009996", "", KI, "", OP, "", "a b", ""],            # line 33: two APNs, ok
    ]
    batch = write_batch(tmp_path / "batch.csv", good + bad, header, delimiter=";")
    rejects = tmp_path / "rejects.csv"

    dry = run(config, "subscriber", "import", str(batch), "--dry-run", "--rejects", str(rejects))
    assert dry.exit_code == 3, dry.output
    assert "would import 27 subscriber(s), rejected 5 row(s)" in dry.output
    assert "ignored columns: PIN1" in dry.output and "would create APN profile(s)" in dry.output
    with open_store(config) as store:
        assert store.count_subscribers() == 0 and store.list_apns() == []
    reasons = {int(r["line"]): r["reason"] for r in csv.DictReader(rejects.open())}
    assert reasons == {
        28: "imsi: expected 6-15 decimal digits",
        29: "ki: expected 16 bytes (32 hex digits)",
        30: "opc: give exactly one of opc and op",
        31: "imsi: repeated in this file",
        32: "msisdn: 15550003 repeated in this file",
    }

    real = run(config, "subscriber", "import", str(batch), "--chunk", "7")
    assert real.exit_code == 3 and "imported 27 subscriber(s), rejected 5 row(s)" in real.output
    assert "imsi: repeated in this file" in real.output
    with open_store(config) as store:
        assert store.count_subscribers() == 27
        first = store.get_subscriber("001010000000000")
        assert (first.msisdn, first.iccid, first.default_apn) == ("15550000", "89010100000000000000", "internet")
        assert [a.name for a in first.apns] == ["internet", "ims"]
        material = store.get_auth_material("001010000009996")
        assert (material.ki, material.op, material.opc, material.sqn) == (bytes.fromhex(KI), bytes.fromhex(OP),
                                                                            None, 0)
        assert {p.name for p in store.list_apns()} == {"internet", "ims", "a", "b"}
        audit, _ = TokenRepository(store).audit_entries()
        assert audit[0].action == "IMPORT" and audit[0].detail == "27 imported, 5 rejected"

    again = run(config, "subscriber", "import", str(batch))
    assert "imported 0 subscriber(s), rejected 32 row(s)" in again.output
    assert "imsi: already provisioned" in again.output


def test_import_with_default_apn_and_clean_batch_exits_0(config: Path, tmp_path: Path) -> None:
    batch = write_batch(tmp_path / "b.csv", [["001010000000001", KI, OPC, "8001", "64"]],
                        ["imsi", "k", "opc", "amf", "sqn"])
    result = run(config, "subscriber", "import", str(batch), "--apn", "internet")
    assert result.exit_code == 0, result.output
    with open_store(config) as store:
        assert store.get_subscriber("001010000000001").default_apn == "internet"
        assert (store.get_auth_material("001010000000001").amf, store.get_auth_material("001010000000001").sqn) == (
            0x8001, 64)


def test_import_refuses_a_file_without_key_columns(config: Path, tmp_path: Path) -> None:
    batch = write_batch(tmp_path / "b.csv", [["001010000000001", "x"]], ["imsi", "pin"])
    result = run(config, "subscriber", "import", str(batch))
    assert result.exit_code == 2 and "no ki column" in result.output
    wide = tmp_path / "wide.csv"  # the error named every column: 100,000 of them on one line
    wide.write_text(",".join(f"c{i}" for i in range(1000)) + "\n")
    result = run(config, "subscriber", "import", str(wide))
    assert result.exit_code == 2 and "c19 and 980 more)" in result.output and "c20," not in result.output


def test_import_of_a_file_that_is_not_utf8_is_one_line_and_imports_nothing(config: Path, tmp_path: Path) -> None:
    """A Latin-1 vendor file (an accented comment on line 3) was a UnicodeDecodeError traceback, exit 1, after
    the rows before it had been imported."""
    batch = tmp_path / "latin1.csv"
    batch.write_bytes(f"imsi,ki,opc,comment\n001010000000001,{KI},{OPC},ok\n001010000000002,{KI},{OPC},caf".encode()
                      + b"\xe9\n")
    result = run(config, "subscriber", "import", str(batch))
    assert result.exit_code == 2 and "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert last == f"error: {batch}: line 3 is not UTF-8 text (save the file as UTF-8)"
    with open_store(config) as store:
        assert store.list_subscribers() == []


@pytest.mark.parametrize("where", ["missing/rejects.csv", "."])
def test_an_unwritable_rejects_file_is_one_line_before_the_import(config: Path, tmp_path: Path, where: str) -> None:
    """Found after the import, it was a FileNotFoundError/IsADirectoryError traceback with the rows in."""
    batch = write_batch(tmp_path / "b.csv", [["001010000000001", KI, OPC]], ["imsi", "ki", "opc"])
    result = run(config, "subscriber", "import", str(batch), "--rejects", str(tmp_path / where))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].startswith(f"error: --rejects {tmp_path / where}: ")
    assert "imported" not in result.output  # refused before the database was opened


def test_import_rejects_a_row_too_big_to_read_and_goes_on(config: Path, tmp_path: Path) -> None:
    """A field over the csv module's limit (128 KiB) was a traceback (and 500 over HTTP) for the whole file."""
    batch = tmp_path / "big.csv"
    batch.write_text(f'imsi,ki,opc\n"{"1" * 200_000}",{KI},{OPC}\n001010000000002,{KI},{OPC}\n')
    result = run(config, "subscriber", "import", str(batch))
    assert result.exit_code == 3 and "Traceback" not in result.output, result.output
    assert "field larger than field limit" in result.output
    with open_store(config) as store:
        assert store.get_subscriber("001010000000002").imsi == "001010000000002"


def test_apn_add_list_show_delete(config: Path) -> None:
    added = run(config, "apn", "add", "ims", "--qci", "5", "--arp", "1", "--ambr-dl", "1000", "--pdn-type", "ipv4v6")
    assert added.exit_code == 0, added.output
    assert run(config, "apn", "add", "ims").exit_code == 1
    assert run(config, "apn", "add", "bad", "--qci", "0").exit_code == 2
    listed = run(config, "apn", "list")
    assert "ims" in listed.output and "ipv4v6" in listed.output
    shown = run(config, "apn", "show", "ims")
    assert "qci" in shown.output and " 5" in shown.output and "ambr_dl" in shown.output
    assert run(config, "apn", "show", "nope").exit_code == 1
    assert run(config, "apn", "delete", "ims").exit_code == 0
    assert run(config, "apn", "delete", "ims").exit_code == 1


def test_cli_subscriber_add_attaches_to_the_existing_apn_in_another_case(config: Path) -> None:
    assert run(config, "apn", "add", "internet", "--qci", "7").exit_code == 0
    added = run(config, "subscriber", "add", "--imsi", "001010000000001", "--ki", KI, "--opc", OPC, "--apn", "Internet")
    assert added.exit_code == 0, added.output
    assert "created APN profile" not in added.output
    shown = run(config, "subscriber", "show", "001010000000001")
    assert "apn internet: context 1, qci 7" in shown.output, shown.output
    assert "Internet" not in run(config, "apn", "list").output
    refused = run(config, "apn", "add", "\N{GRINNING FACE}")
    assert refused.exit_code == 2 and refused.output.startswith("error: apn: '\N{GRINNING FACE}' is not an APN name")
    assert len(refused.output.strip().splitlines()) == 1
    checked = run(config, "apn", "check")
    assert checked.exit_code == 0 and checked.output.startswith("ok: 1 APN profile(s)"), checked.output


def test_cli_names_case_variants_from_before_and_keeps_both(config: Path, db_url: str) -> None:
    migrate(db_url)
    with Store(db_url, None) as store, store.writing() as conn:
        conn.execute(insert(t.apn_profiles), [{**DEFAULT_APN_QOS, "name": "Internet", "qci": 5},
                                              {**DEFAULT_APN_QOS, "name": "internet"}])
    checked = run(config, "apn", "check")
    assert checked.exit_code == 1
    assert checked.stderr.startswith("warning: APN profiles 'Internet' and 'internet' differ only in case")
    listed = run(config, "apn", "list")
    assert listed.exit_code == 0 and "Internet" in listed.stdout and "differ only in case" in listed.stderr
    add = ("subscriber", "add", "--imsi", "001010000000001", "--ki", KI, "--opc", OPC, "--apn")
    refused = run(config, *add, "INTERNET")
    assert refused.exit_code == 2
    assert refused.output == ("error: apn: 'INTERNET' matches APN profiles 'Internet' and 'internet', which differ "
                              "only in case; give one of them exactly\n")
    exact = run(config, *add, "Internet")
    assert exact.exit_code == 0, exact.output
    assert "apn Internet: context 1, qci 5" in run(config, "subscriber", "show", "001010000000001").output
