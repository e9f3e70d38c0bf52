"""Types of the compiled CCF walk (_speedups.c); see `Dictionary.check_raw`."""

from collections.abc import Callable
from typing import Any

def check(buf: bytes, off: int, end: int, rules: Any, out: list[Any] | None, unlisted: Callable[..., Any],
          any_rules: Any, avp_type: type, /) -> bool: ...
