"""schemathesis against the live server's OpenAPI document: no 5xx, and every answer matches the schema.

Runs the schemathesis CLI (examples, coverage and fuzzing phases; positive and negative data) with a
fixed seed and a bounded number of examples per operation, so that it finishes well within two minutes.
Token revocation is left out: fuzzing it would revoke the admin token the run itself uses (it is covered
by test_api_admin).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from apiserver import KI, OPC, LiveApi, secret_spellings

from sigcore.store.tokens import Role

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MAX_EXAMPLES = 10


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(api: LiveApi, tmp_path: Path) -> None:
    api.store.add_subscriber("001010000000001", ki=KI, opc=OPC, msisdn="15550001", apns=["internet"])
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert executable, "schemathesis is a test dependency"
    argv = [
        executable, "run", f"{api.url}/api/v1/openapi.json",
        "--header", f"Authorization: Bearer {api.tokens[Role.ADMIN]}",
        "--checks", CHECKS, "--phases", "examples,coverage,fuzzing", "--mode", "all",
        "--max-examples", str(MAX_EXAMPLES), "--seed", "4242", "--generation-database", "none",
        "--exclude-path-regex", "^/api/v1/tokens/", "--workers", "1", "--no-color",
        "--request-timeout", "20", "--report", "junit", "--report-dir", str(tmp_path),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "passed" in output.lower()
    assert not any(secret in output for secret in secret_spellings())
