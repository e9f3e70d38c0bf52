"""The test's own SIP Digest arithmetic, to judge the Authorization header sipp answered a challenge with.

RFC 2617 §3.2.2 gives the MD5 request-digest; RFC 3310 §3.1 makes Digest-AKAv1-MD5 out of it: the nonce is
base64(RAND ‖ AUTN ‖ server data) and the password is the USIM's RES, as raw octets. Written from the RFCs,
not from sipp or Kamailio, so a mistake shared with either is unlikely.
"""

from __future__ import annotations

import base64
import hashlib
import re

# name = "quoted string" | token, in a challenge or credentials (RFC 2617 §1.2, §3.2.1, §3.2.2)
_AUTH_PARAM = re.compile(r'([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')


def auth_params(value: str) -> dict[str, str]:
    """The parameters of a ``Digest ...`` challenge or credentials header value, names lower-cased."""
    scheme, _, rest = value.strip().partition(" ")
    assert scheme.lower() == "digest", value
    return {name.lower(): quoted if token == "" else token for name, quoted, token in _AUTH_PARAM.findall(rest)}


def _md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def request_digest(*, username: str, realm: str, password: bytes, method: str, uri: str, nonce: str,
                   qop: str | None = None, nc: str = "", cnonce: str = "", body: bytes = b"") -> str:
    """The ``response`` of RFC 2617 §3.2.2.1 (algorithm MD5): with a qop (auth or auth-int) or without one."""
    ha1 = _md5_hex(f"{username}:{realm}:".encode() + password)
    a2 = f"{method}:{uri}" + (f":{_md5_hex(body)}" if qop == "auth-int" else "")
    ha2 = _md5_hex(a2.encode())
    if qop is None:
        return _md5_hex(f"{ha1}:{nonce}:{ha2}".encode())
    return _md5_hex(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode())


def aka_rand_autn(nonce: str) -> tuple[bytes, bytes]:
    """RAND and AUTN from a Digest-AKAv1-MD5 nonce: base64(RAND ‖ AUTN ‖ server data), RFC 3310 §3.2."""
    raw = base64.b64decode(nonce)
    assert len(raw) >= 32, f"an AKA nonce holds at least RAND and AUTN, got {len(raw)} octets"
    return raw[:16], raw[16:32]
