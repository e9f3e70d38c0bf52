"""The null responder (`python -m sigcore.loadgen.responder`: 2001 to everything) as a process on a free
loopback port, for tests that put it behind `sigcore bench` or a DRA."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from interop.ports import free_tcp_port, wait_tcp_listening


@contextmanager
def null_responder(origin_host: str = "hss.localdomain") -> Iterator[int]:
    """Its port while it runs."""
    port = free_tcp_port()
    proc = subprocess.Popen([sys.executable, "-m", "sigcore.loadgen.responder", "--port", str(port),
                             "--origin-host", origin_host], stdout=subprocess.DEVNULL)
    try:
        wait_tcp_listening(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
