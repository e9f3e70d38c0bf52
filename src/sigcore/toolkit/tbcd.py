"""TBCD-STRING (3GPP TS 29.002, also TS 24.008 BCD numbers): two digits per octet, low nibble first.

Digits 0-9 map to themselves, ``*`` to 1010, ``#`` to 1011, ``a``/``b``/``c`` to 1100/1101/1110, and an odd
number of digits is padded with the filler 1111 in the last high nibble. (The seed's code mapped ``c`` to
1100, colliding with ``a``; the table below is the spec's.)
"""

from __future__ import annotations

FILLER = 0xF

_SPECIAL = {"*": 0xA, "#": 0xB, "a": 0xC, "b": 0xD, "c": 0xE}
_NIBBLE_OF: dict[str, int] = {str(d): d for d in range(10)} | _SPECIAL
_CHAR_OF: dict[int, str] = {nibble: char for char, nibble in _NIBBLE_OF.items()}

ALPHABET = "".join(_NIBBLE_OF)


def nibble_of(char: str) -> int:
    """The 4-bit code of one TBCD character (case-insensitive letters); ValueError names a bad one."""
    try:
        return _NIBBLE_OF[char.lower()]
    except KeyError:
        raise ValueError(f"invalid TBCD character {char!r} (allowed: 0-9 * # a b c)") from None


def encode(digits: str) -> bytes:
    """Pack ``digits`` two per octet, first digit in the low nibble; pad odd lengths with the F filler."""
    nibbles = [nibble_of(char) for char in digits]
    if len(nibbles) % 2:
        nibbles.append(FILLER)
    return bytes(low | high << 4 for low, high in zip(nibbles[::2], nibbles[1::2], strict=True))


def decode(data: bytes) -> str:
    """Unpack TBCD octets; a filler nibble ends the string (it may only appear as the very last nibble)."""
    chars: list[str] = []
    nibbles = [n for octet in data for n in (octet & 0x0F, octet >> 4)]
    for index, nibble in enumerate(nibbles):
        if nibble == FILLER:
            if index != len(nibbles) - 1:
                raise ValueError(f"TBCD filler F at nibble {index} is not at the end of {data.hex()}")
            break
        chars.append(_CHAR_OF[nibble])
    return "".join(chars)
