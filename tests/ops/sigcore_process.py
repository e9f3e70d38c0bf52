"""`sigcore` as an operator runs it: a config file with only the fixed keys, CLI commands in a subprocess,
``sigcore run`` as a logged process. Shared by the key, package, two-node and container tests."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from interop.ports import free_tcp_port, free_udp_port, wait_tcp_listening
from interop.process import LoggedProcess

ROOT = Path(__file__).parents[2]
HSS_HOST = "hss.localdomain"  # what tests/support/s6a.py's MMEs expect
REALM = "localdomain"


def fixed_keys_config(db_url: str, **extra: Any) -> dict[str, Any]:
    """Only the contract keys (`diameter.*`, `database.url`, `api.listen`, `metrics.snmp.listen`), random
    loopback ports."""
    config: dict[str, Any] = {
        "diameter": {"origin_host": HSS_HOST, "origin_realm": REALM, "listen": [f"127.0.0.1:{free_tcp_port()}"]},
        "database": {"url": db_url},
        "api": {"listen": f"127.0.0.1:{free_tcp_port()}"},
        "metrics": {"snmp": {"listen": f"127.0.0.1:{free_udp_port()}"}},
    }
    for section, values in extra.items():
        config.setdefault(section, {}).update(values)
    return config


@dataclass
class Sigcore:
    """One config file in `workdir` and the commands run against it (``python -m sigcore.cli`` of `python`)."""

    workdir: Path
    config: dict[str, Any]
    python: str = sys.executable
    env: dict[str, str] | None = None  # for `command`; `start` inherits the test's environment
    name: str = "sigcore"
    processes: list[LoggedProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config))

    @property
    def config_path(self) -> Path:
        return self.workdir / f"{self.name}.yaml"

    @property
    def diameter_port(self) -> int:
        return int(self.config["diameter"]["listen"][0].rsplit(":", 1)[1])

    @property
    def api_url(self) -> str:
        return f"http://{self.config['api']['listen']}"

    def command(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.python, "-m", "sigcore.cli", *args, "--config", str(self.config_path)],
                              cwd=self.workdir, capture_output=True, text=True, timeout=timeout, env=self.env,
                              check=False)

    def start(self, *args: str, wait: bool = True) -> LoggedProcess:
        process = LoggedProcess([self.python, "-m", "sigcore.cli", "run", "--config", str(self.config_path), *args],
                                self.workdir / f"{self.name}-run-{len(self.processes)}.log", cwd=self.workdir)
        process.start()
        self.processes.append(process)
        if wait:
            process.wait_for(r"sigcore \S+ \(\S+\) running", timeout=60)
            wait_tcp_listening(self.diameter_port, timeout=10)
        return process

    def stop(self) -> None:
        for process in self.processes:
            process.stop(timeout=20)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exactly one line on stderr and no traceback; that line."""
    assert done.returncode != 0, done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "sigcore.store." not in lines[0]
    return lines[0]


def wait_exit(process: LoggedProcess, timeout: float = 60.0) -> int:
    """The exit status of a process expected to stop on its own."""
    deadline = time.monotonic() + timeout
    while process.returncode is None:
        assert time.monotonic() < deadline, f"still running:\n{process.log_tail()}"
        time.sleep(0.05)
    return process.returncode


def run_checked(argv: list[str], cwd: Path | None = None, timeout: float = 900,
                env: dict[str, str] | None = None) -> str:
    """Run a command that must succeed; its stdout (the failure shows the end of both streams)."""
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    assert done.returncode == 0, f"{argv}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def worker_of(log: str, peer: str) -> int | None:
    """Which worker of ``sigcore run --workers N`` holds `peer`'s connection, from the run's log."""
    found = re.findall(rf"\[worker (\d+)\] peer {re.escape(peer)} open", log)
    return int(found[-1]) if found else None
