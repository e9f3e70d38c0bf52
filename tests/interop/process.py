"""A started outside program whose output goes to a log file that tests can wait on.

Shared by the freeDiameterd and tshark runners: both are judged by what they print, both must be stopped
with SIGINT (so freeDiameterd sends DPR and tshark flushes its pcap) and killed if they do not obey.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import IO


class ProcessLogTimeout(AssertionError):
    """The awaited log line never appeared; the message carries the log tail to explain why."""


class LoggedProcess:
    """One outside program, its combined stdout/stderr captured in `log_path`."""

    def __init__(self, argv: list[str], log_path: Path, cwd: Path | None = None) -> None:
        self.argv = argv
        self.log_path = log_path
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError(f"{self.argv[0]} already started")
        self._log_file = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C on pytest must not reach it before our orderly stop
        )

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_for(self, pattern: str, timeout: float = 15.0, after: int = 0) -> re.Match[str]:
        """Wait until `pattern` (a regex, multiline) matches the log from character `after` on.

        Returns the match, so callers can pass `match.end()` as `after` to wait for the next occurrence.
        Fails early, with the log tail, if the program exits first.
        """
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.log_text(), after)
            if match:
                return match
            if not self.is_running():
                raise ProcessLogTimeout(
                    f"{self.argv[0]} exited (rc={self.returncode}) before /{pattern}/ appeared:\n{self.log_tail()}"
                )
            if time.monotonic() >= deadline:
                raise ProcessLogTimeout(f"/{pattern}/ not in {self.log_path} after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGINT, then SIGTERM, then SIGKILL; always reaps the process and closes the log. Idempotent."""
        proc = self._proc
        if proc is None:
            return None
        try:
            for sig, grace in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                if proc.poll() is not None:
                    break
                self._signal_group(proc, sig)
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    continue
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
        return proc.returncode

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        # The program runs in its own session (start_new_session), so its group id is its pid:
        # this reaches helpers it forks (tshark runs dumpcap) and nothing else.
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
