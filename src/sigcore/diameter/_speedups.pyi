"""Types of the compiled walks (_speedups.c): the CCF check (`Dictionary.check_raw`) and the relay's reads
(`relay.Routing`, `relay.result_code`)."""

from collections.abc import Callable
from typing import Any, Literal

def check(buf: bytes, off: int, end: int, rules: Any, out: list[Any] | None, unlisted: Callable[..., Any],
          any_rules: Any, avp_type: type, /) -> bool: ...
def relay_facts(buf: bytes | bytearray, own: bytes, /) -> tuple[bytes | None, bytes | None, bool] | None: ...
def result_code(buf: bytes | bytearray, /) -> int | Literal[False] | None: ...
