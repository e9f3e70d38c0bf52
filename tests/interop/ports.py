"""Free loopback ports for outside programs started by interop tests.

The kernel picks the port (bind to port 0) so parallel test runs do not collide. There is a small window
between closing our probe socket and the outside program binding the port; `wait_tcp_listening` lets a
test notice quickly if another process won that race.
"""

from __future__ import annotations

import socket
import time

LOOPBACK = "127.0.0.1"


def _free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    return _free_port(socket.SOCK_STREAM)


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nobody is bound to right now."""
    return _free_port(socket.SOCK_DGRAM)


def free_tcp_ports(count: int) -> list[int]:
    """`count` distinct free TCP ports (held open together while choosing, so they differ)."""
    probes = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((LOOPBACK, 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def wait_tcp_listening(port: int, host: str = LOOPBACK, timeout: float = 10.0) -> None:
    """Block until something accepts TCP connections on host:port, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)
