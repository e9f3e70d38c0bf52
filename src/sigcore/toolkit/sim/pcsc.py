"""PC/SC access through pyscard (optional dependency ``sigcore[smartcard]``)."""

from __future__ import annotations

from typing import Any

from sigcore.toolkit.sim.apdu import Card


class ReaderError(RuntimeError):
    """No pyscard, no PC/SC daemon, no such reader or no card: the message says which."""


def _pyscard() -> Any:
    try:
        from smartcard import System  # type: ignore[import-untyped]
    except ImportError:
        raise ReaderError("pyscard is not installed: pip install 'sigcore[smartcard]' "
                          "(needs libpcsclite-dev and swig to build)") from None
    return System


def list_readers() -> list[str]:
    system = _pyscard()
    try:
        return [str(reader) for reader in system.readers()]
    except Exception as err:  # pyscard raises its own hierarchy, e.g. EstablishContextException
        raise ReaderError(f"cannot talk to the PC/SC daemon (is pcscd running?): {err}") from None


def connect(index: int) -> tuple[str, Card]:
    """Connect to reader ``index`` (as listed by :func:`list_readers`) and return its name and a Card."""
    system = _pyscard()
    readers = list_readers()
    if not readers:
        raise ReaderError("no smart card readers found")
    if not 0 <= index < len(readers):
        raise ReaderError(f"reader {index} does not exist; readers: " +
                          ", ".join(f"{i}: {name}" for i, name in enumerate(readers)))
    connection = system.readers()[index].createConnection()
    try:
        connection.connect()
    except Exception as err:
        raise ReaderError(f"cannot connect to the card in {readers[index]!r}: {err}") from None
    return readers[index], Card(connection)
