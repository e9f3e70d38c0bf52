"""The API inside `sigcore run`: uvicorn serving `create_app` in the same asyncio loop as the Diameter node.

uvicorn's own signal capture is switched off: `sigcore.service.serve` owns SIGINT/SIGTERM and stops the
API through the stopper registered here. A port that cannot be bound fails `sigcore run` with a
`RuntimeError` (one line: a probe binds the address first) instead of uvicorn's ``sys.exit``. (uvicorn
binds the socket itself: a socket made with `socket.create_server` and handed to it met Nagle against
delayed ACKs, tens of milliseconds a request.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from sigcore.api.limits import SHUTDOWN_GRACE, BodyLimit, guarded_protocol
from sigcore.applications import AppContext
from sigcore.config import ApiConfig, ConfigError, split_host_port
from sigcore.preflight import bind_failure

log = logging.getLogger("sigcore.api")
DEFAULT_PORT = 8080


class ListenError(ConfigError, RuntimeError):
    """The API cannot listen where ``api.listen`` says: `sigcore run` reports it in one line."""


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ApiServer:
    """One uvicorn server for `app` on `host:port` (port 0: any free port, see `port`), in the running loop.
    ``label`` names what it serves when that is not the REST API (the metrics paths alone, with
    ``api.enabled: false``): the same limits, the same one-line refusal of a taken port."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 limits: ApiConfig | None = None, reuse_port: bool = False, label: str | None = None) -> None:
        self.app, self.host, self.port = app, host, port
        self.limits = limits or ApiConfig()
        self.reuse_port = reuse_port  # several workers accept on the one port (``run.workers``)
        self.label = label
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        if not self.reuse_port:
            self._probe()
        limits = self.limits
        config = uvicorn.Config(BodyLimit(self.app, limits.max_body_bytes), host=self.host, port=self.port,
                                log_config=None, lifespan="off", server_header=False,
                                timeout_graceful_shutdown=SHUTDOWN_GRACE,
                                http=guarded_protocol(limits.header_timeout, limits.idle_timeout),
                                timeout_keep_alive=int(limits.keepalive_timeout) or 1,
                                limit_concurrency=limits.max_concurrency)
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._serve(self._server), name="sigcore-api")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises why it stopped
                raise RuntimeError(f"the REST API stopped while starting on {self.host}:{self.port}")
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        if self.label is None:
            log.info("REST API on %s/api/v1 (docs: %s/api/v1/docs)", self.url, self.url)
        else:
            log.info("%s on %s", self.label, self.url)

    async def _serve(self, server: uvicorn.Server) -> None:
        try:
            await server.serve(sockets=[self._shared_socket()] if self.reuse_port else None)
        except OSError as err:  # our own bind (the workers' shared socket)
            raise self._listen_error(err) from None
        except SystemExit:  # uvicorn's answer to a bind error; it has logged the reason
            raise ListenError(f"api.listen: {self.label or 'the REST API'} could not start on {self.host}:{self.port} "
                              "(the log says why)") from None

    def _probe(self) -> None:
        """Bind where uvicorn is about to, and let go: a port taken or not ours is told in one line here
        (uvicorn would log its ``[Errno 98]`` line and exit). Bound, never listening, the probe leaves no
        trace; should another program take the port in between, the fallback in `_serve` still applies."""
        if self.port == 0:
            return
        with socket.socket(self._family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's: TIME_WAIT is no conflict
            try:
                probe.bind((self.host, self.port))
            except OSError as err:
                raise self._listen_error(err) from None

    @property
    def _family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def _listen_error(self, err: OSError) -> ListenError:
        return ListenError(f"api.listen: {bind_failure(err, f'{self.host}:{self.port}')}")

    def _shared_socket(self) -> socket.socket:
        """The listening socket with SO_REUSEPORT (uvicorn cannot set it); asyncio sets TCP_NODELAY on
        each accepted connection, as on uvicorn's own."""
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self.host, self.port))
        sock.listen(2048)
        sock.setblocking(False)
        return sock

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server = self._task = None


def shared_by_workers() -> bool:
    """Whether this process is one of several workers accepting on the same ports (`sigcore.workers.ENV`)."""
    from sigcore.workers import ENV

    return ENV in os.environ


def install(_node: Any, ctx: AppContext) -> None:
    """Add the API to `sigcore run` (unless ``api.enabled`` is false), sharing the HSS's store if it has one."""
    cfg, services = ctx.config, ctx.services
    if not cfg.api.enabled:
        return
    from sigcore.api.app import create_app

    host, port = split_host_port(cfg.api.listen, DEFAULT_PORT)
    server = ApiServer(create_app(services.shared_store(cfg), services, ind_bits=cfg.hss.ind_bits), host, port,
                       cfg.api, reuse_port=shared_by_workers())
    services.api = server
    services.starters.append(server.start)
    services.stoppers.append(server.stop)
