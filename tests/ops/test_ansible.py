"""deploy/ansible: the role run with ansible-playbook against localhost (``connection: local``) into a
throw-away prefix, twice: the first run installs the wheel, makes the key and the config, the second
changes nothing; a changed variable changes the config and notifies the restart handler; the key file is
never overwritten; the config it writes passes `sigcore config check` and the venv it makes runs."""

from __future__ import annotations

import getpass
import grp
import os
import re
import stat
import sys
from pathlib import Path

import pytest
from sigcore_process import ROOT, run_checked

pytestmark = [pytest.mark.interop, pytest.mark.slow]
PLAYBOOK = ROOT / "deploy" / "ansible" / "site.yml"


def _playbook(prefix: Path, wheel: Path, *extra: str) -> tuple[str, dict[str, int]]:
    inventory = prefix.parent / "inventory.ini"
    inventory.write_text(f"[sigcore]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    # without PYTHONPATH: a checkout on it (src/sigcore.egg-info) made pip in the role's venv find sigcore
    # installed already and skip the wheel, leaving no bin/sigcore
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(prefix.parent / "ansible-tmp"),
           "ANSIBLE_HOME": str(prefix.parent / "ansible-home"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    user = getpass.getuser()
    out = run_checked([str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory), str(PLAYBOOK),
                       "-e", f"sigcore_prefix={prefix}", "-e", f"sigcore_wheel={wheel}",
                       "-e", f"sigcore_python={sys.executable}",
                       "-e", "sigcore_systemd=false", "-e", "sigcore_manage_user=false", "-e", f"sigcore_user={user}",
                       "-e", f"sigcore_group={grp.getgrgid(os.getgid()).gr_name}", "-e", "sigcore_become=false",
                       "-e", '{"sigcore_diameter_listen": ["127.0.0.1:3868"]}', *extra], env=env)
    recap = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", out)
    assert recap, out
    return out, dict(zip(("ok", "changed", "unreachable", "failed"), map(int, recap.groups()), strict=True))


def test_role_is_idempotent_and_keeps_the_key(tmp_path: Path, built_wheel: Path) -> None:
    prefix = tmp_path / "root"
    first, counts = _playbook(prefix, built_wheel)
    assert counts["failed"] == 0 and counts["changed"] > 0, first
    assert "RUNNING HANDLER [sigcore : Restart sigcore]" in first
    key_file = prefix / "etc" / "sigcore" / "kek.hex"
    key = key_file.read_text()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key.strip()) == 64
    config = prefix / "etc" / "sigcore" / "sigcore.yaml"
    unit = (prefix / "etc" / "systemd" / "system" / "sigcore.service").read_text()
    assert f"ExecStart={prefix}/opt/sigcore/bin/sigcore run --config {config}" in unit
    for hardening in ("NoNewPrivileges=yes", "ProtectSystem=strict", f"ReadWritePaths={prefix}/var/lib/sigcore",
                      "CapabilityBoundingSet=", "SystemCallFilter=@system-service", "KillSignal=SIGINT"):
        assert hardening in unit
    sigcore = str(prefix / "opt" / "sigcore" / "bin" / "sigcore")
    assert "ok: localhost (localdomain)" in run_checked([sigcore, "config", "check", str(config)])

    second, counts = _playbook(prefix, built_wheel)
    assert counts["changed"] == 0 and counts["failed"] == 0, second
    assert "RUNNING HANDLER" not in second
    assert key_file.read_text() == key

    third, counts = _playbook(prefix, built_wheel, "-e", "sigcore_log_level=DEBUG")
    assert counts["changed"] == 1 and "RUNNING HANDLER [sigcore : Restart sigcore]" in third, third
    assert "level: DEBUG" in config.read_text() and key_file.read_text() == key
