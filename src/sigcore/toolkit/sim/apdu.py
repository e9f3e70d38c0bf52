"""Command APDUs (ISO/IEC 7816-4 §5.1) and a card session that handles the T=0 transport status words.

A :class:`Transport` is anything with ``transmit(apdu) -> (data, sw1, sw2)``: pyscard's connection or a test
double. :class:`Card` answers 61xx with GET RESPONSE and 6Cxx by resending with the exact Le, so callers only
ever see final data or an :class:`ApduError` whose message explains the status word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sigcore.toolkit.sim import sw

CLA_UICC = 0x00  # TS 102 221 §10.1.1; GSM SIMs (TS 51.011) use 0xA0
INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_READ_RECORD = 0xB2
INS_GET_RESPONSE = 0xC0

SELECT_BY_FID = 0x00
SELECT_BY_AID = 0x04
SELECT_RETURN_FCP = 0x04
READ_RECORD_ABSOLUTE = 0x04

_MAX_RETRIES = 8


class Transport(Protocol):
    def transmit(self, apdu: list[int]) -> tuple[list[int], int, int]: ...


class CardIOError(Exception):
    """The reader or card did not answer at all (card removed, reader gone)."""


class ApduError(Exception):
    """A command ended with a non-success status word; ``str()`` explains it."""

    def __init__(self, what: str, sw1: int, sw2: int) -> None:
        super().__init__(f"{what}: {sw.explain(sw1, sw2)}")
        self.sw1, self.sw2 = sw1, sw2


@dataclass(frozen=True)
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def to_bytes(self) -> bytes:
        """Short APDU encoding: header, then Lc+data when there is data, then Le (0 meaning 256)."""
        if len(self.data) > 255:
            raise ValueError("extended-length APDUs are not needed for SIM files")
        encoded = bytes((self.cla, self.ins, self.p1, self.p2))
        if self.data:
            encoded += bytes((len(self.data),)) + self.data
        if self.le is not None:
            encoded += bytes((self.le & 0xFF,))
        return encoded

    def with_le(self, le: int) -> Command:
        return Command(self.cla, self.ins, self.p1, self.p2, self.data, le)


class Card:
    """A session with one card: sends commands, chases GET RESPONSE / wrong-Le, raises on failure."""

    def __init__(self, transport: Transport, cla: int = CLA_UICC) -> None:
        self._transport = transport
        self.cla = cla

    def _transmit(self, command: Command, what: str) -> tuple[bytes, int, int]:
        try:
            data, sw1, sw2 = self._transport.transmit(list(command.to_bytes()))
        except Exception as err:  # pyscard's exceptions share no useful base class
            raise CardIOError(f"{what}: no answer from the card: {err}") from None
        return bytes(data), sw1, sw2

    def send(self, command: Command, what: str) -> bytes:
        """Send ``command``; return its response data or raise :class:`ApduError` naming ``what``."""
        response, sw1, sw2 = self._transmit(command, what)
        for _ in range(_MAX_RETRIES):
            if sw1 == 0x61 or sw1 == 0x9F:
                get_response = Command(self.cla, INS_GET_RESPONSE, 0, 0, le=sw2)
                more, sw1, sw2 = self._transmit(get_response, what)
                response += more
            elif sw1 == 0x6C:
                response, sw1, sw2 = self._transmit(command.with_le(sw2), what)
            else:
                break
        if not sw.is_success(sw1, sw2):
            raise ApduError(what, sw1, sw2)
        return response

    def select_fid(self, fid: int, what: str) -> bytes:
        """SELECT by file identifier asking for the FCP template (P2=04), relative to the current DF."""
        command = Command(self.cla, INS_SELECT, SELECT_BY_FID, SELECT_RETURN_FCP, fid.to_bytes(2, "big"))
        return self.send(command, f"SELECT {what} ({fid:04X})")

    def select_aid(self, aid: bytes, what: str) -> bytes:
        command = Command(self.cla, INS_SELECT, SELECT_BY_AID, SELECT_RETURN_FCP, aid)
        return self.send(command, f"SELECT {what} ({aid.hex().upper()})")

    def read_binary(self, length: int, what: str, offset: int = 0) -> bytes:
        """READ BINARY of ``length`` octets (0 asks for up to 256; a 6Cxx answer gives the real size)."""
        command = Command(self.cla, INS_READ_BINARY, offset >> 8 & 0x7F, offset & 0xFF, le=length & 0xFF)
        return self.send(command, f"READ BINARY {what}")

    def read_record(self, number: int, length: int, what: str) -> bytes:
        command = Command(self.cla, INS_READ_RECORD, number, READ_RECORD_ABSOLUTE, le=length & 0xFF)
        return self.send(command, f"READ RECORD {number} {what}")
