"""Secrets at rest: Ki, OPc and OP are sealed with AES-256-GCM under a key-encryption key (KEK).

The KEK never enters the database. It is 32 bytes written as 64 hex digits, read from the file named by
``database.key_file`` or else from the environment variable named by ``database.key_env``.

Each blob is ``version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)``. The associated data
binds a blob to its field and IMSI, so copying one subscriber's encrypted Ki into another row, or an OP
into the OPc column, makes decryption fail instead of silently authenticating with the wrong key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sigcore.store.errors import KeyUnavailable

KEK_BYTES = 32
_BLOB_VERSION = 1
_NONCE_BYTES = 12


def parse_kek(text: str, source: str) -> bytes:
    """Decode 64 hex digits (surrounding whitespace allowed); the error names `source`, never the value."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise KeyUnavailable(f"{source}: the key-encryption key is not hexadecimal") from None
    if len(key) != KEK_BYTES:
        raise KeyUnavailable(f"{source}: the key-encryption key must be {KEK_BYTES * 2} hex digits")
    return key


def load_kek(key_file: str | os.PathLike[str] | None = None, key_env: str | None = "SIGCORE_KEK") -> bytes:
    """The KEK from `key_file` if one is configured, else from the environment variable `key_env`."""
    if key_file:
        try:
            return parse_kek(Path(key_file).read_text(), str(key_file))
        except OSError as err:
            raise KeyUnavailable(
                f"cannot read the key-encryption key file {key_file}: {err.strerror}"
            ) from None
    if key_env and os.environ.get(key_env):
        return parse_kek(os.environ[key_env], f"${key_env}")
    raise KeyUnavailable(
        "no key-encryption key: set database.key_file to a file holding 64 hex digits, or put them in "
        f"the environment variable ${key_env or 'SIGCORE_KEK'} (create one with "
        "sigcore.store.create_key_file)"
    )


def create_key_file(path: str | os.PathLike[str]) -> bytes:
    """Create `path` (mode 0600) holding a fresh random KEK, or return the key already in it.

    Meant for ``make run``'s demo and first installs; the file is created exclusively, so two processes
    racing to create it end up with the same key.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEK_BYTES)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_kek(target)
    with os.fdopen(fd, "w") as out:
        out.write(key.hex() + "\n")
    return key


class SecretBox:
    """Seals and opens key columns. One AESGCM object per store: no per-call key schedule setup."""

    __slots__ = ("_aead",)

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEK_BYTES:
            raise KeyUnavailable(f"the key-encryption key must be {KEK_BYTES} bytes")
        self._aead = AESGCM(kek)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    @staticmethod
    def _aad(column: str, imsi: str) -> bytes:
        return f"sigcore/{column}/{imsi}".encode()

    def seal(self, column: str, imsi: str, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, self._aad(column, imsi))
        return bytes([_BLOB_VERSION]) + nonce + sealed

    def open(self, column: str, imsi: str, blob: bytes) -> bytes:
        if not blob or blob[0] != _BLOB_VERSION:
            raise KeyUnavailable(f"{column} of {imsi}: unknown encryption format")
        nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, self._aad(column, imsi))
        except InvalidTag:
            raise KeyUnavailable(
                f"{column} of {imsi} does not decrypt: wrong key-encryption key, or the value was moved"
            ) from None
