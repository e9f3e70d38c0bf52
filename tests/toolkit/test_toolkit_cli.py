"""The toolkit's sub-commands through a local Typer app with ``register`` (as src/sigcore/cli.py does)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sigcore.toolkit.cli import register


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    root = typer.Typer()
    register(root)
    return root


def run(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(("args", "expected"), [
    (("tbcd", "encode", "123456"), "214365"),
    (("tbcd", "decode", "21f3"), "123"),
    (("tbcd", "encode", "*21"), "2af1"),
    (("plmn", "encode", "001", "01"), "00f110"),
    (("plmn", "decode", "130014"), "MCC 310 MNC 410"),
    (("fteid", "encode", "7", "0x01020304", "--ipv4", "192.0.2.1"), "570009008701020304c0000201"),
])
def test_commands_print_the_result(app: typer.Typer, args: tuple[str, ...], expected: str) -> None:
    assert run(app, *args) == (0, expected + "\n")


def test_fteid_decode_names_the_interface(app: typer.Typer) -> None:
    code, out = run(app, "fteid", "decode", "570009008701020304c0000201")
    assert code == 0
    assert "interface type 7 (S5/S8 PGW GTP-C interface)" in out and "IPv4 192.0.2.1" in out


def test_fteid_types_lists_the_whole_table(app: typer.Typer) -> None:
    code, out = run(app, "fteid", "types")
    assert code == 0 and len(out.splitlines()) == 41 and "S2b-U PGW GTP-U interface" in out


@pytest.mark.parametrize("args", [("tbcd", "encode", "12x"), ("tbcd", "decode", "zz"), ("plmn", "encode", "1", "2"),
                                  ("plmn", "decode", "00f1"), ("fteid", "decode", "5700"),
                                  ("fteid", "encode", "64", "1", "--ipv4", "192.0.2.1")])
def test_bad_input_is_an_error_message_not_a_traceback(app: typer.Typer, args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 2  # bad input, as for every other command (was 1)
    assert result.output.startswith("error: ")
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(("args", "error"), [
    (("tbcd", "encode", ""), "no digits to encode"),  # was an empty line, exit 0
    (("tbcd", "decode", ""), "no octets in ''"),
    (("tbcd", "decode", "  "), "no octets in '  '"),
    (("plmn", "decode", ""), "no octets in ''"),
    (("fteid", "decode", " "), "no octets in ' '"),
    (("fteid", "encode", "7", "1", "--ipv4", ""), "--ipv4: not an IPv4 address: ''"),  # "Address cannot be empty"
    (("fteid", "encode", "7", "1", "--ipv6", "192.0.2.1"), "--ipv6: not an IPv6 address: '192.0.2.1'"),
    (("fteid", "encode", "7", "1_0", "--ipv4", "192.0.2.1"), "TEID must be decimal or 0x-hex, got '1_0'"),  # was 10
    (("fteid", "encode", "7", "\uff11", "--ipv4", "192.0.2.1"), "TEID must be decimal or 0x-hex, got '\uff11'"),
    (("fteid", "encode", "7", "9" * 5000, "--ipv4", "192.0.2.1"), "TEID must fit 32 bits, got 5000 digits"),
])
def test_toolkit_refuses_empty_and_odd_values_in_a_line(app: typer.Typer, args: tuple[str, ...], error: str) -> None:
    code, out = run(app, *args)
    assert (code, out) == (2, f"error: {error}\n")


@pytest.mark.parametrize(("teid", "encoded"), [("010", "0000000a"), ("0X1f", "0000001f"), ("4294967295", "ffffffff")])
def test_fteid_encode_reads_a_decimal_teid_with_leading_zeros(app: typer.Typer, teid: str, encoded: str) -> None:
    # int(teid, 0) refused '010' as "not decimal or 0x-hex"
    assert run(app, "fteid", "encode", "7", teid, "--ipv4", "192.0.2.1") == (0, f"5700090087{encoded}c0000201\n")


@pytest.mark.parametrize("instance", ["16", "-1"])
def test_fteid_encode_refuses_an_instance_past_4_bits_in_a_line(app: typer.Typer, instance: str) -> None:
    result = CliRunner().invoke(app, ["fteid", "encode", "10", "1", "--ipv4", "192.0.2.1", "--instance", instance])
    assert result.exit_code == 2 and "--instance" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # was a ValueError traceback


@pytest.mark.parametrize("teid", ["zz", ""])
def test_fteid_encode_names_the_teid_it_cannot_read(app: typer.Typer, teid: str) -> None:
    assert run(app, "fteid", "encode", "10", teid, "--ipv4", "192.0.2.1") == (
        2, f"error: TEID must be decimal or 0x-hex, got {teid!r}\n")


@pytest.mark.parametrize("path", ["", "/", "3F00/10000", "3F00/-1", "3F00/2FEZ", "3F00/2F"])
def test_sim_read_refuses_a_bad_file_path_before_the_card(app: typer.Typer, path: str) -> None:
    # "" and FIDs past 2 octets or negative were read from the card after the whole report: tracebacks
    code, out = run(app, "sim", "read", "--file", path)
    assert code == 2 and out.startswith("error: --file: a file path is 4-hex-digit FIDs"), out


KI, OPC = "000102030405060708090a0b0c0d0e0f", "f0e0d0c0b0a090807060504030201000"


@pytest.mark.parametrize(("args", "error"), [
    (("--ki", "zz", "--opc", OPC), "--ki: not hexadecimal"),
    (("--ki", KI, "--opc", OPC[:30]), "--opc: expected 16 bytes (32 hex digits)"),
    (("--ki", KI, "--opc", OPC, "--apn", "internet", "--apn", "my apn"), "apn: "),
    (("--ki", KI, "--opc", OPC, "--config", "missing.yaml"), "invalid configuration: cannot read missing.yaml"),
])
def test_sim_provision_checks_every_argument_before_the_card(tmp_path: Path, args: tuple[str, ...],
                                                             error: str) -> None:
    """The real `sigcore` with no PC/SC daemon behind its socket: a bad --ki, --opc, --apn or --config was
    named only after the card had been read (here: a 'cannot talk to the PC/SC daemon' instead)."""
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm")}
    done = subprocess.run([sys.executable, "-m", "sigcore.cli", "sim", "provision", *args], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path, env=env)
    assert done.returncode == 2 and done.stderr.startswith(f"error: {error}"), done.stderr
    assert len(done.stderr.splitlines()) == 1 and not done.stdout
    assert not (tmp_path / "sigcore.sqlite").exists() and not list(tmp_path.iterdir())  # no store made either


def test_sim_provision_names_a_key_file_that_is_not_text(tmp_path: Path) -> None:
    """`--ki @FILE` with a binary file ended in a UnicodeDecodeError traceback."""
    key_file = tmp_path / "ki.bin"
    key_file.write_bytes(bytes.fromhex(KI) + b"\xff\xfe")
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm")}
    done = subprocess.run([sys.executable, "-m", "sigcore.cli", "sim", "provision", "--ki", f"@{key_file}",
                           "--opc", OPC], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert (done.returncode, done.stderr) == (2, f"error: --ki @{key_file}: not text (expected hex digits)\n")


@pytest.mark.parametrize("command", [["sim", "read"], ["sim", "provision", "--ki", KI, "--opc", OPC]])
def test_a_negative_reader_index_is_refused_at_the_option(app: typer.Typer, command: list[str]) -> None:
    # was looked up among the PC/SC readers: "reader -1 does not exist" once the daemon answered
    code, out = run(app, *command, "--reader", "-1")
    assert code == 2 and "Invalid value for '--reader'" in out, out
