"""Operator Python modules loaded from a file, imported once and reloaded when the file changes.

rt_pyform re-imports its module on every call; here the module is imported once, the file's
mtime/size are checked at most every ``check_every`` seconds (a clock read per message, no system call),
and `reload` (SIGHUP) forces a fresh import. A failed reload keeps the previous code running.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger("sigcore.dra.scripts")


class ScriptLoadError(Exception):
    """The script's file is missing, does not import, or lacks the function."""


class ScriptModule:
    def __init__(self, directory: str, module: str, function: str, check_every: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(directory) / f"{module}.py"
        self.module_name = module
        self.function_name = function
        self.check_every = check_every
        self.clock = clock
        self.label = f"{module}.{function}"
        self.loads = 0
        self._stamp: tuple[int, int] | None = None
        self._next_check = 0.0
        self.function: Callable[..., Any] = self._load()

    def _file_stamp(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return st.st_mtime_ns, st.st_size

    def _load(self) -> Callable[..., Any]:
        try:
            stamp = self._file_stamp()
            # A private name: the operator's module must not replace (or be replaced by) an installed one.
            spec = importlib.util.spec_from_file_location(f"sigcore_script_{self.module_name}", self.path)
            if spec is None or spec.loader is None:
                raise ScriptLoadError(f"{self.path}: not a Python module")
            mod: ModuleType = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
        except ScriptLoadError:
            raise
        except OSError as err:
            raise ScriptLoadError(f"{self.path}: {err.strerror or err}") from None
        except Exception as err:  # whatever the operator's module raises is a load error
            raise ScriptLoadError(f"{self.path}: {type(err).__name__}: {err}") from None
        func = getattr(mod, self.function_name, None)
        if not callable(func):
            raise ScriptLoadError(f"{self.path}: no function {self.function_name!r}")
        self._stamp = stamp
        self.loads += 1
        return func  # type: ignore[no-any-return]

    def reload(self) -> bool:
        """Import the file again (SIGHUP); on failure log why and keep the running code."""
        try:
            self.function = self._load()
        except ScriptLoadError as err:
            log.error("reload failed, keeping the previous code: %s", err)
            return False
        log.info("reloaded %s", self.path)
        return True

    def maybe_reload(self) -> None:
        """Reload if the file changed; checks the file at most every ``check_every`` seconds."""
        if not self.check_every:
            return
        now = self.clock()
        if now < self._next_check:
            return
        self._next_check = now + self.check_every
        try:
            stamp = self._file_stamp()
        except OSError:
            return  # a file being replaced: keep the running code, look again later
        if stamp != self._stamp:
            self.reload()
