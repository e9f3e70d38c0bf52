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
from typing import Any

from sigcore.config import Config, ConfigError
from sigcore.diameter.aio import Node


class ApplicationError(ConfigError):
    """An ``applications`` entry cannot be loaded or installed; the message names it."""


@dataclass
class Services:
    """What the running process shares with applications. ``starters`` run (in order) once the node is open,
    ``stoppers`` (in reverse order) when it stops."""

    starters: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    stoppers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


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
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")) \
            or not function_name.isidentifier():
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
