"""Status words (ISO/IEC 7816-4 §5.6 and ETSI TS 102 221 §10.2) explained in words.

Cards answer every command with SW1 SW2; a few encode a number in SW2 (61xx, 6Cxx, 63Cx, 9Fxx, 91xx), the
rest are looked up. Anything unknown is still described by its SW1 class rather than shown raw.
"""

from __future__ import annotations

_EXACT: dict[int, str] = {
    0x9000: "normal ending of the command",
    0x9300: "SIM Application Toolkit is busy, command cannot be executed at present",
    0x6200: "warning: no information given, state of non-volatile memory unchanged",
    0x6281: "warning: part of returned data may be corrupted",
    0x6282: "warning: end of file/record reached before reading Le bytes",
    0x6283: "warning: selected file invalidated",
    0x6285: "warning: selected file in termination state",
    0x62F1: "warning: more data available",
    0x62F2: "warning: more data available and proactive command pending",
    0x62F3: "warning: response data available",
    0x63F1: "warning: more data expected",
    0x63F2: "warning: more data expected and proactive command pending",
    0x6400: "execution error: state of non-volatile memory unchanged",
    0x6500: "execution error: state of non-volatile memory changed, no information given",
    0x6581: "execution error: memory problem",
    0x6700: "wrong length (Lc or Le)",
    0x6800: "functions in CLA not supported",
    0x6881: "logical channel not supported",
    0x6882: "secure messaging not supported",
    0x6900: "command not allowed, no information given",
    0x6981: "command incompatible with file structure",
    0x6982: "security status not satisfied (PIN or ADM verification needed)",
    0x6983: "authentication/PIN method blocked",
    0x6984: "referenced data invalidated",
    0x6985: "conditions of use not satisfied",
    0x6986: "command not allowed (no EF selected)",
    0x6989: "command not allowed: secure channel security not satisfied",
    0x6A80: "incorrect parameters in the data field",
    0x6A81: "function not supported",
    0x6A82: "file or application not found",
    0x6A83: "record not found",
    0x6A84: "not enough memory space",
    0x6A86: "incorrect parameters P1 to P2",
    0x6A87: "Lc inconsistent with P1 to P2",
    0x6A88: "referenced data not found",
    0x6B00: "wrong parameter(s) P1-P2",
    0x6D00: "instruction code not supported or invalid",
    0x6E00: "class not supported",
    0x6F00: "technical problem, no precise diagnosis",
    0x9804: "security: access condition not fulfilled",
    0x9850: "security: INCREASE cannot be performed, maximum value reached",
    0x9862: "security: authentication error, incorrect MAC",
    0x9863: "security: security session or association expired",
    0x9864: "security: authentication error, security context not supported",
    0x9865: "security: key freshness failure",
    0x9866: "security: authentication error, no memory space available",
    0x9867: "security: authentication error, no memory space available in EF_MUK",
}

_CLASSES: dict[int, str] = {
    0x62: "warning, state of non-volatile memory unchanged",
    0x63: "warning, state of non-volatile memory changed",
    0x64: "execution error, state of non-volatile memory unchanged",
    0x65: "execution error, state of non-volatile memory changed",
    0x66: "execution error, security related",
    0x67: "checking error: wrong length",
    0x68: "checking error: functions in CLA not supported",
    0x69: "checking error: command not allowed",
    0x6A: "checking error: wrong parameters",
    0x98: "security management error",
}

NORMAL = 0x9000


def explain(sw1: int, sw2: int) -> str:
    """A one-line description such as ``6A82 file or application not found``."""
    word = sw1 << 8 | sw2
    return f"{word:04X} {_meaning(sw1, sw2)}"


def _meaning(sw1: int, sw2: int) -> str:
    word = sw1 << 8 | sw2
    if word in _EXACT:
        return _EXACT[word]
    if sw1 == 0x61:
        return f"normal ending, {sw2} response bytes available (GET RESPONSE)"
    if sw1 == 0x9F:
        return f"normal ending (GSM SIM), {sw2} response bytes available (GET RESPONSE)"
    if sw1 == 0x91:
        return f"normal ending, proactive command pending ({sw2} bytes, FETCH)"
    if sw1 == 0x92:
        return f"normal ending after {sw2 & 0x0F} internal retries" if sw2 < 0x40 else "memory problem"
    if sw1 == 0x6C:
        return f"wrong Le, the card has {sw2} bytes: resend with Le={sw2}"
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        return f"verification failed, {sw2 & 0x0F} retries left"
    if sw1 in _CLASSES:
        return f"{_CLASSES[sw1]} (SW2 {sw2:02X} unknown)"
    return "unknown status word"


def is_success(sw1: int, sw2: int) -> bool:
    """9000, and the 62xx/63xx warnings that still return valid data (e.g. 6282 end of file)."""
    return (sw1, sw2) == (0x90, 0x00) or sw1 == 0x91 or (sw1 == 0x62 and sw2 in (0x82, 0x00))
