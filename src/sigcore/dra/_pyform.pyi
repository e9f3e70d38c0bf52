"""Types of the compiled transform walk (_pyform.c); see `PyformTransform.apply`."""

from collections.abc import Callable
from typing import Any, Literal

from sigcore.dra.script_errors import ScriptErrors

def walk(frame: bytes | bytearray, func: Callable[..., Any], kinds: bytes, errors: ScriptErrors, label: str,
         /) -> tuple[bytes | Literal[False] | None, int, bool]: ...
