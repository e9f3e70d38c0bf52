"""Applications from outside the package: the ``applications`` config key.

Each entry is an import path, ``package.module`` (its ``install`` function) or ``package.module:function``.
At start, before the node opens, each is called once as ``install(node, ctx)`` with an `AppContext` and
registers its handlers (see `sigcore.diameter.application.Application`). Any failure to find or run one is
reported as an `ApplicationError` naming the entry, never as a traceback to the user.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sigcore import config_checks as checks
from sigcore.config import Config, ConfigError
from sigcore.diameter.aio import Node

if TYPE_CHECKING:
    from sigcore.api.context import HssNotifier
    from sigcore.api.service import ApiServer
    from sigcore.charging.service import Charging
    from sigcore.hss.cx.handlers import CxService
    from sigcore.hss.s6a.install import Hss
    from sigcore.hss.s13.handlers import S13Server
    from sigcore.hss.sh.handlers import ShService
    from sigcore.hss.slh.handlers import SlhServer
    from sigcore.metrics.http import OpsEndpoint
    from sigcore.metrics.redis_store import RedisFlusher
    from sigcore.store import Store


class ApplicationError(ConfigError):
    """An ``applications`` entry cannot be loaded or installed; the message names it."""


@dataclass
class Services:
    """What the running process shares between its areas and with applications. ``starters`` run (in order)
    once the node is open, ``stoppers`` (in reverse order) when it stops, ``reloaders`` on SIGHUP. The rest
    is filled in by the installers that provide it (None: that area is not running); areas that read
    another's service at request time (the API) see what was installed after them too."""

    starters: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    stoppers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: run on SIGHUP (``kill -HUP``; under ``--workers`` the supervisor passes it to every worker)
    reloaders: list[Callable[[], None]] = field(default_factory=list)
    node: Node | None = None  # the Diameter node, for areas that outlive their installer (the API lists peers)
    store: Store | None = None  # the subscriber store, opened by the first area that needs it (`shared_store`)
    s6a: Hss | None = None  # the S6a/S6d HSS: its batch worker and SQN reservation are shared with Cx
    notifier: HssNotifier | None = None  # S6a's IDR/CLR/DSR on provisioning changes (the API calls it)
    cx: CxService | None = None  # Cx/Dx; the API calls its RTR/PPR (``deregister``, ``push_profile``)
    sh: ShService | None = None
    slh: SlhServer | None = None
    s13: S13Server | None = None
    api: ApiServer | None = None
    charging: Charging | None = None  # the online-charging engine (JSON-RPC, Gy/Ro), when configured
    metrics: OpsEndpoint | None = None  # /metrics, /healthz, /readyz
    metrics_app: Any = None  # the ASGI app serving `metrics`, for the API to mount
    metrics_flusher: RedisFlusher | None = None  # pushes the counters to Redis (``metrics.redis.url``)
    db_check: Callable[[], Awaitable[bool]] | None = None  # feeds /readyz when an area provides it

    def shared_store(self, config: Config) -> Store:
        """The store every area shares: the one already open, else opened from ``config.database`` with
        its key (created on first need; a wrong or unreadable key stops `sigcore run` with one line) and its
        schema brought to head, whichever area asks first (without the HSS, the API or charging does)."""
        if self.store is None:
            from sigcore.store import Store

            self.store = Store.from_config(config.database, auto_migrate=True, key="create")
        return self.store


@dataclass(frozen=True)
class AppContext:
    """Handed to every installer: the whole configuration, the node, and the shared services."""

    config: Config
    node: Node
    services: Services


Installer = Callable[[Node, AppContext], None]


def resolve(entry: str) -> Installer:
    """The function an entry names; `ApplicationError` if the module or function is not there."""
    module_name, _, function_name = entry.partition(":")
    function_name = function_name or "install"
    if not checks.import_path(entry):
        raise ApplicationError(f"applications: {entry!r} is not 'package.module' or 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ApplicationError(f"applications: {entry!r}: cannot import {module_name}: {err}") from None
    except Exception as err:
        raise ApplicationError(f"applications: {entry!r}: importing {module_name} failed: "
                               f"{type(err).__name__}: {err}") from None
    fn = getattr(module, function_name, None)
    if not callable(fn):
        raise ApplicationError(f"applications: {entry!r}: {module_name} has no function {function_name}")
    if inspect.iscoroutinefunction(fn):
        raise ApplicationError(f"applications: {entry!r}: {function_name} must be a plain function "
                               "(put start-up work in ctx.services.starters)")
    installer: Installer = fn
    return installer


def install_applications(entries: list[str], ctx: AppContext) -> None:
    """Resolve every entry first (so a typo stops the start before anything is installed), then call each."""
    installers = [(entry, resolve(entry)) for entry in entries]
    for entry, install in installers:
        try:
            result: Any = install(ctx.node, ctx)
        except ApplicationError:
            raise
        except Exception as err:
            raise ApplicationError(f"applications: {entry!r} failed to install: {type(err).__name__}: {err}") \
                from None
        if inspect.isawaitable(result):
            raise ApplicationError(f"applications: {entry!r} returned an awaitable; put start-up work in "
                                   "ctx.services.starters")
