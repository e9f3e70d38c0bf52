"""Key material on the command line without putting it in the process list: ``--ki @FILE`` reads the value
from a file, ``--ki -`` from standard input (one line per option given as ``-``, in the order of the options),
anything else is the value itself (visible in ``ps`` and shell history: fine for test keys only)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

SECRET_HELP = "32 hex digits; '@FILE' reads it from a file, '-' from stdin (keeps it out of `ps`)"


class SecretInputError(ValueError):
    """The file or stdin could not give the value; the message names the option, never a value."""


def read_secret(value: str | None, option: str, stdin: TextIO | None = None) -> str | None:
    if value is None:
        return None
    if value == "-":
        line = (stdin or sys.stdin).readline().strip()
        if not line:
            raise SecretInputError(f"{option} -: standard input gave no line for it")
        return line
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text().strip()
        except OSError as err:
            raise SecretInputError(f"{option} @{path}: {err.strerror}") from None
        except UnicodeDecodeError:  # a binary key file: the message says so, never what it holds
            raise SecretInputError(f"{option} @{path}: not text (expected hex digits)") from None
        if not text:
            raise SecretInputError(f"{option} @{path}: the file is empty")
        return text
    return value
