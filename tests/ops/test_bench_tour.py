"""The README's tour: `sigcore bench` against `sigcore run`'s HSS, with the demo's users and with others."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from sigcore_process import Sigcore

from support.s6a import OPC, K

pytestmark = [pytest.mark.interop, pytest.mark.slow]
IMSI = "001010000000001"


def _bench(port: int, *args: str) -> tuple[dict[int, int], str]:
    done = subprocess.run([sys.executable, "-m", "sigcore.cli", "bench", "-t", f"127.0.0.1:{port}", "--mix",
                           "air=3,ulr=1", "-n", "2", "-r", "200", "-d", "1", "-q", *args],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    codes = re.search(r"Result-Codes (.*)$", done.stdout.splitlines()[-1])
    assert codes is not None, done.stdout
    return {int(c): int(n) for c, n in re.findall(r"(\d+): (\d+)", codes[1])}, done.stderr


def test_bench_answers_the_provisioned_users_and_names_the_unknown_ones(sigcore: Sigcore) -> None:
    added = sigcore.command("subscriber", "add", "--imsi", IMSI, "--ki", K.hex(), "--opc", OPC.hex(),
                            "--apn", "internet")
    assert added.returncode == 0, added.stderr
    sigcore.start()
    known, hint = _bench(sigcore.diameter_port, "--imsi-first", IMSI, "--users", "1")
    assert list(known) == [2001] and known[2001] > 100 and hint == ""

    unknown, hint = _bench(sigcore.diameter_port, "--imsi-first", "001010000000000", "--users", "4")
    assert set(unknown) == {2001, 5001} and unknown[5001] > unknown[2001] > 0  # one IMSI of four is provisioned
    assert hint.strip() == (
        f"{unknown[5001]} answers were 5001 (DIAMETER_ERROR_USER_UNKNOWN): the node does not know the IMSIs "
        "001010000000000 to 001010000000003; provision them there, or choose others with --imsi-first and --users")
