"""`sigcore run` on a Diameter port another program holds: one line naming the address and the key, exit 2."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sigcore_process import Sigcore, fixed_keys_config, wait_exit

pytestmark = [pytest.mark.interop]


def test_a_taken_diameter_port_is_told_in_one_line(tmp_path: Path) -> None:
    node = Sigcore(tmp_path, fixed_keys_config(f"sqlite:///{tmp_path / 'hss.sqlite'}"))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", node.diameter_port))
        holder.listen()
        run = node.start(wait=False)
        try:
            assert wait_exit(run) == 2
        finally:
            node.stop()
    errors = [line for line in run.log_text().splitlines() if " ERROR " in line or line.startswith("invalid")]
    assert errors == [f"invalid configuration: diameter.listen: 127.0.0.1:{node.diameter_port} is already in use "
                      "(another Diameter node, or sigcore itself, listens there)"], run.log_text()
    assert "Traceback" not in run.log_text() and "Errno" not in run.log_text()
