"""HTTP limits of the API listener: 413 before a large body is read, the role checked before the body,
slow and stalled clients disconnected, a concurrency limit (sigcore.api.limits)."""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from apiserver import ThreadedApi, issue_tokens

from sigcore.config import ApiConfig
from sigcore.store import Store, migrate
from sigcore.store.tokens import Role

LIMITS = ApiConfig(max_body_bytes=1024 * 1024, header_timeout=1.0, idle_timeout=1.0, max_concurrency=4)
MB = 1024 * 1024


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, dict[Role, str]]]:
    url = f"sqlite:///{tmp_path / 'api.sqlite'}"
    migrate(url)
    with Store(url, os.urandom(32)) as store:
        server = ThreadedApi(store, limits=LIMITS)
        server.start()
        try:
            yield server.server.port, issue_tokens(store)
        finally:
            server.stop()


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def head(token: str, extra: str) -> bytes:
    return (f"POST /api/v1/subscribers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\n{extra}\r\n").encode()


def stream_until_answered(port: int, request_head: bytes, total: int, chunked: bool) -> tuple[bytes, int]:
    """Send up to `total` body bytes; stop when the server answers or closes. (status line, bytes sent)."""
    chunk = b"[" + b"0," * (32 * 1024) + b"0]"
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request_head)
        sock.settimeout(10)
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(framed)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            answer = b""
    return answer.split(b"\r\n", 1)[0], sent


def test_a_declared_large_body_gets_413_unread(served: tuple[int, dict[Role, str]]) -> None:
    port, tokens = served
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head(tokens[Role.ADMIN], f"Content-Length: {2 * MB}\r\n"))  # the header alone: no body sent
        sock.settimeout(10)
        assert sock.recv(4096).startswith(b"HTTP/1.1 413 Request Entity Too Large")


def test_a_streamed_large_body_gets_413_once_past_the_limit(served: tuple[int, dict[Role, str]]) -> None:
    port, tokens = served
    status, sent = stream_until_answered(port, head(tokens[Role.ADMIN], "Transfer-Encoding: chunked\r\n"), 2 * MB,
                                         chunked=True)
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert sent > LIMITS.max_body_bytes  # no length declared: counted while it streamed


@pytest.mark.slow
def test_a_read_only_token_is_refused_before_its_300_mb_upload(served: tuple[int, dict[Role, str]]) -> None:
    port, tokens = served
    before = rss_bytes()
    status, sent = stream_until_answered(port, head(tokens[Role.READ], "Transfer-Encoding: chunked\r\n"), 300 * MB,
                                         chunked=True)
    grown = rss_bytes() - before
    assert status == b"HTTP/1.1 403 Forbidden"
    assert sent < 16 * MB, f"{sent} bytes went up before the refusal"
    assert grown < 16 * MB, f"RSS grew by {grown} bytes"


def test_a_slow_client_is_disconnected_after_the_header_timeout(served: tuple[int, dict[Role, str]]) -> None:
    port, _ = served
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        closed_after = None
        for byte in b"GET /api/v1/peers HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable and sock.recv(1024) == b"":
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None, "the trickling client was never disconnected"
    assert LIMITS.header_timeout * 0.9 <= closed_after < LIMITS.header_timeout + 4, closed_after


def test_a_stalled_body_is_dropped_after_the_idle_timeout(served: tuple[int, dict[Role, str]]) -> None:
    port, tokens = served
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head(tokens[Role.ADMIN], "Content-Length: 100\r\n") + b'{"imsi": ')
        started = time.monotonic()
        sock.settimeout(LIMITS.idle_timeout + 5)
        assert sock.recv(1024) == b""
        assert time.monotonic() - started < LIMITS.idle_timeout + 2


def test_beyond_the_concurrency_limit_requests_get_503(served: tuple[int, dict[Role, str]]) -> None:
    port, tokens = served
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(LIMITS.max_concurrency)]
    try:
        for sock in idle:
            sock.sendall(b"GET /api/v1/peers HTTP/1.1\r\n")  # headers not finished: each holds a connection
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port)) as extra:
            extra.sendall(f"GET /api/v1/peers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tokens[Role.READ]}"
                          "\r\n\r\n".encode())
            extra.settimeout(5)
            assert extra.recv(1024).startswith(b"HTTP/1.1 503")
    finally:
        for sock in idle:
            sock.close()
