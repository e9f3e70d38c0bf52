"""The richer DRA hook (``dra.hooks``): Python functions that see each relayed message decoded.

A hook is ``hook(message: MessageView, peers: list[str]) -> list[str] | None``. ``message`` reads and edits
top-level AVPs by dictionary name (``get``, ``get_all``, ``set``, ``add``, ``remove``) and, for a request,
``answer(result_code)`` answers it here instead of forwarding. ``peers`` are the candidate peers in order
(empty for answers); the hook may re-order or trim that list in place or return a new one.
A hook that raises changes nothing (its edits are dropped), the error is counted and logged rarely, and the
message goes on, as with the pyform transforms.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sigcore.diameter.avp import Avp
from sigcore.diameter.dictionary import Dictionary
from sigcore.diameter.errors import EncodeError
from sigcore.diameter.message import Message
from sigcore.dra.script_errors import ScriptErrors
from sigcore.dra.scriptmodule import ScriptLoadError

Hook = Callable[["MessageView", list[str]], "list[str] | None"]


class MessageView:
    """One relayed message as a hook sees it. Edits go to a copy of the AVP list, kept only if every hook
    returns normally."""

    __slots__ = ("_dictionary", "_local_answer", "avps", "changed", "end_to_end", "hop_by_hop", "message")

    def __init__(self, message: Message, dictionary: Dictionary) -> None:
        self.message = message
        self.hop_by_hop = message.hop_by_hop
        self.end_to_end = message.end_to_end
        self.avps: list[Avp] = list(message.avps)
        self.changed = False
        self._dictionary = dictionary
        self._local_answer: tuple[int, str | None] | None = None

    @property
    def app_id(self) -> int:
        return self.message.app_id

    @property
    def command_code(self) -> int:
        return self.message.code

    @property
    def flags(self) -> int:
        return self.message.flags

    @property
    def is_request(self) -> bool:
        return self.message.is_request

    def names(self) -> list[str]:
        """The top-level AVPs' names in order (``AVP-<code>[/<vendor>]`` for those not in the dictionary)."""
        return [self._dictionary.name_of(a) for a in self.avps]

    def get(self, name: str, default: Any = None) -> Any:
        return self._dictionary.get_value(self.avps, name, default)

    def get_all(self, name: str) -> list[Any]:
        return self._dictionary.get_values(self.avps, name)

    def add(self, name: str, value: Any) -> None:
        """Append an AVP (grouped values as for `Dictionary.build`)."""
        self.avps.append(self._build(name, value))
        self.changed = True

    def set(self, name: str, value: Any) -> None:
        """Replace the first ``name`` AVP in place (its flags kept), or append one if there is none."""
        key = self._dictionary.avp(name).key
        for i, a in enumerate(self.avps):
            if a.key == key:
                self.avps[i] = self._dictionary.build(name, value, a.flags)
                self.changed = True
                return
        self.add(name, value)

    def remove(self, name: str) -> int:
        """Remove every ``name`` AVP; returns how many there were."""
        key = self._dictionary.avp(name).key
        kept = [a for a in self.avps if a.key != key]
        removed = len(self.avps) - len(kept)
        if removed:
            self.avps = kept
            self.changed = True
        return removed

    def answer(self, result_code: int, error_message: str | None = None) -> None:
        """Answer this request here with ``result_code`` instead of forwarding it."""
        if not self.message.is_request:
            raise ValueError("only a request can be answered")
        self._local_answer = (int(result_code), error_message)

    @property
    def local_answer(self) -> tuple[int, str | None] | None:
        return self._local_answer

    def _build(self, name: str, value: Any) -> Avp:
        try:
            return self._dictionary.build(name, value)
        except (EncodeError, KeyError) as err:
            raise ValueError(f"cannot build {name}: {err}") from None


@dataclass(slots=True)
class HookOutcome:
    peers: list[str]
    changed: bool = False
    local_answer: tuple[int, str | None] | None = None


def load_hook(spec: str) -> tuple[ModuleType, Hook]:
    """``package.module:function`` imported from ``sys.path``."""
    module_name, _, func_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # whatever the operator's module raises is a load error
        raise ScriptLoadError(f"dra.hooks: cannot import {module_name}: {type(err).__name__}: {err}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ScriptLoadError(f"dra.hooks: {module_name} has no function {func_name!r}")
    return module, func


class HookChain:
    """The configured hooks, run in order on each relayed message."""

    def __init__(self, specs: list[str], dictionary: Dictionary, errors: ScriptErrors) -> None:
        self.specs = specs
        self.dictionary = dictionary
        self.errors = errors
        self.hooks: list[tuple[str, ModuleType, Hook]] = [(s, *load_hook(s)) for s in specs]

    def reload(self) -> None:
        """SIGHUP: re-import each hook's module; a failing one keeps its running code."""
        fresh = []
        for spec, module, func in self.hooks:
            try:
                module = importlib.reload(module)
                func = getattr(module, spec.partition(":")[2])
            except Exception as err:  # any error in operator code: counted, logged rarely, never fatal
                self.errors.exception(spec, err)
            fresh.append((spec, module, func))
        self.hooks = fresh

    def run(self, message: Message, peers: list[str]) -> HookOutcome:
        """Run every hook; edits of a hook that raised are dropped, the others' are applied to ``message``."""
        outcome = HookOutcome(peers)
        for spec, _, func in self.hooks:
            view = MessageView(message, self.dictionary)
            candidates = list(outcome.peers)
            try:
                returned = func(view, candidates)
                if returned is not None:
                    if not isinstance(returned, list) or not all(isinstance(p, str) for p in returned):
                        self.errors.bad_value(spec, f"{type(returned).__name__}, not a list of peer names")
                        continue
                    candidates = returned
            except Exception as err:  # any error in operator code: counted, logged rarely, never fatal
                self.errors.exception(spec, err)
                continue
            outcome.peers = [p.lower() for p in candidates]
            if view.changed:
                message.avps = view.avps
                outcome.changed = True
            if view.local_answer is not None:
                outcome.local_answer = view.local_answer
                break
        return outcome
