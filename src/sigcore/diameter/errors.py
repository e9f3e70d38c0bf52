"""Typed errors of the codec. Each carries the Result-Code and the Failed-AVP content RFC 6733 asks for,
so the node can answer any malformed request without knowing what went wrong in detail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sigcore.diameter.constants import ResultCode, is_protocol_error

if TYPE_CHECKING:
    from sigcore.diameter.avp import Avp
    from sigcore.diameter.message import Header


class DiameterError(Exception):
    """A request cannot be served as sent; answer it with ``result_code`` (or, when ``experimental`` is set,
    with that (vendor, code) Experimental-Result instead). ``answer_avps`` go into the answer as well (e.g.
    the Auth-Session-State a command's ABNF requires in every answer)."""

    experimental: tuple[int, int] | None = None
    answer_avps: tuple[Any, ...] = ()

    def __init__(self, result_code: int, message: str, failed_avps: list[Avp] | None = None) -> None:
        super().__init__(message)
        self.result_code = int(result_code)
        self.error_message = message
        self.failed_avps: list[Avp] = failed_avps or []

    @property
    def is_protocol_error(self) -> bool:
        """Only a Result-Code 3xxx sets the E-bit; an Experimental-Result never does."""
        return self.experimental is None and is_protocol_error(self.result_code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.result_code}, {self.error_message!r})"


class DecodeError(DiameterError):
    """Bytes that do not form a valid Diameter message.

    ``header`` is set when the 20-byte header itself was readable, so an answer can still be routed back.
    ``fatal`` means the stream cannot be re-synchronised (the length field cannot be trusted): the
    connection must be closed after answering.
    """

    def __init__(
        self,
        result_code: int,
        message: str,
        failed_avps: list[Avp] | None = None,
        header: Header | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(result_code, message, failed_avps)
        self.header = header
        self.fatal = fatal


class InvalidAvpLength(DecodeError):
    def __init__(self, message: str, failed_avps: list[Avp] | None = None) -> None:
        super().__init__(ResultCode.INVALID_AVP_LENGTH, message, failed_avps)


class InvalidAvpValue(DiameterError):
    def __init__(self, message: str, failed_avps: list[Avp] | None = None) -> None:
        super().__init__(ResultCode.INVALID_AVP_VALUE, message, failed_avps)


class EncodeError(ValueError):
    """A value cannot be encoded as the AVP's type (a programming error on our side, never a peer's)."""
