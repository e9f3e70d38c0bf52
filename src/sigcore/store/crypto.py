"""Secrets at rest: Ki, OPc and OP are sealed with AES-256-GCM under a key-encryption key (KEK).

The KEK never enters the database. It is 32 bytes written as 64 hex digits, read from the file named by
``database.key_file`` or else from the environment variable named by ``database.key_env``.

Each blob is ``2 || key id (8 bytes) || nonce (12 bytes) || ciphertext || tag (16 bytes)``; blobs written
before key ids (version 1) lack the key id. The associated data binds a blob to its field and IMSI, so
copying one subscriber's encrypted Ki into another row, or an OP into the OPc column, makes decryption fail
instead of silently authenticating with the wrong key.

The key id is the key-check value (`key_id`): the first 8 bytes of an HMAC of a constant under the KEK.
The database stores the current one (`sigcore.store.keycheck`); a `SecretBox` holds every key it has
seen by id, so that a running HSS keeps opening blobs while `sigcore key rotate` re-seals them under a
new key, and fetches the new key (its `reload` callback) the first time it meets a blob sealed under it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sigcore.store.errors import KeyUnavailable

log = logging.getLogger("sigcore.store.crypto")

KEK_BYTES = 32
_WARNED_MODES: set[tuple[str, int]] = set()
KEY_ID_BYTES = 8
_LEGACY_VERSION = 1
_BLOB_VERSION = 2
_NONCE_BYTES = 12
_HEADER = 1 + KEY_ID_BYTES


def key_id(kek: bytes) -> bytes:
    """The key-check value of `kek`: reveals nothing of the key, tells two keys apart."""
    return hmac.new(kek, b"sigcore key-check value", hashlib.sha256).digest()[:KEY_ID_BYTES]


def parse_kek(text: str, source: str) -> bytes:
    """Decode 64 hex digits (surrounding whitespace allowed); the error names `source`, never the value."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise KeyUnavailable(f"{source}: the key-encryption key is not hexadecimal") from None
    if len(key) != KEK_BYTES:
        raise KeyUnavailable(f"{source}: the key-encryption key must be {KEK_BYTES * 2} hex digits")
    return key


def warn_if_readable_by_others(path: Path) -> None:
    """Warn (once per file and mode) when a key file is readable or writable by group or others: the key
    opens every stored Ki/OPc. Warned, not refused: refusing would stop a running HSS at its next restart
    over a mode an operator can fix while it runs."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077 and (str(path), mode) not in _WARNED_MODES:
        _WARNED_MODES.add((str(path), mode))
        log.warning("the key-encryption key file %s has mode %03o: other users can read it; "
                    "chmod 600 %s", path, mode, path)


def load_kek(key_file: str | os.PathLike[str] | None = None, key_env: str | None = "SIGCORE_KEK") -> bytes:
    """The KEK from `key_file` if one is configured, else from the environment variable `key_env`."""
    if key_file:
        try:
            data = Path(key_file).read_bytes()  # first: a directory or a missing file says only that
            warn_if_readable_by_others(Path(key_file))
        except OSError as err:
            raise KeyUnavailable(
                f"cannot read the key-encryption key file {key_file}: {err.strerror}"
            ) from None
        # bytes decoded leniently: a binary file is "not hexadecimal" (in words), not a UnicodeDecodeError
        return parse_kek(data.decode("utf-8", "replace"), str(key_file))
    if key_env and os.environ.get(key_env):
        return parse_kek(os.environ[key_env], f"${key_env}")
    raise KeyUnavailable(
        "no key-encryption key: set database.key_file to a file holding 64 hex digits, or put them in "
        f"the environment variable ${key_env or 'SIGCORE_KEK'} (`sigcore key create` makes one)"
    )


def create_key_file(path: str | os.PathLike[str], key: bytes | None = None) -> bytes:
    """Create `path` (mode 0600) holding `key` (default: a fresh random KEK), or return the key already in it.

    The file is created exclusively, so two processes racing to create it end up with the same key, and an
    existing key is never overwritten.
    """
    key = key or secrets.token_bytes(KEK_BYTES)
    return key if write_new_key_file(path, key) else load_kek(path)


def write_new_key_file(path: str | os.PathLike[str], key: bytes) -> bool:
    """Write `key` to `path` (mode 0600) unless the file exists; True if this call created it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        out.write(key.hex() + "\n")
        out.flush()
        os.fsync(out.fileno())
    return True


def replace_key_file(path: str | os.PathLike[str], key: bytes) -> None:
    """Write `key` to `path` atomically (a 0600 temporary file renamed over it)."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key.hex() + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)


class SecretBox:
    """Seals under the current key, opens under any key it holds (by the blob's key id).

    One AESGCM object per key: no per-call key schedule setup. `reload` (optional) returns the keys the
    configured source holds now; it is called when a blob names a key id the box does not hold, at most
    once per unknown id, so a running process picks up a rotated key without a restart.
    """

    __slots__ = ("_current", "_keys", "_lock", "_reload", "_tried")

    def __init__(self, kek: bytes, reload: Callable[[], list[bytes]] | None = None) -> None:
        if len(kek) != KEK_BYTES:
            raise KeyUnavailable(f"the key-encryption key must be {KEK_BYTES} bytes")
        self._keys: dict[bytes, AESGCM] = {}
        self._current = self.add(kek)
        self._reload = reload
        self._lock = threading.Lock()
        self._tried: set[bytes] = set()

    def __repr__(self) -> str:
        return f"SecretBox(<key {self._current.hex()}>)"

    @property
    def current_id(self) -> bytes:
        """The key id new blobs are sealed under."""
        return self._current

    def add(self, kek: bytes) -> bytes:
        """Hold `kek` too (for opening); returns its id."""
        kid = key_id(kek)
        self._keys.setdefault(kid, AESGCM(kek))
        return kid

    def holds(self, kid: bytes) -> bool:
        return kid in self._keys or self._fetch(kid)

    def use(self, kid: bytes) -> None:
        """Seal under the held key `kid` from now on (the database's key changed)."""
        if not self.holds(kid):
            raise KeyUnavailable(f"no key with id {kid.hex()} is held")
        self._current = kid

    @staticmethod
    def _aad(column: str, imsi: str) -> bytes:
        return f"sigcore/{column}/{imsi}".encode()

    def seal(self, column: str, imsi: str, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._keys[self._current].encrypt(nonce, plaintext, self._aad(column, imsi))
        return bytes([_BLOB_VERSION]) + self._current + nonce + sealed

    def sealed_under(self, blob: bytes) -> bytes | None:
        """The key id a blob names (None for a version 1 blob, which names none)."""
        return bytes(blob[1:_HEADER]) if blob and blob[0] == _BLOB_VERSION else None

    def open(self, column: str, imsi: str, blob: bytes) -> bytes:
        if not blob or blob[0] not in (_BLOB_VERSION, _LEGACY_VERSION):
            raise KeyUnavailable(f"{column} of {imsi}: unknown encryption format")
        if blob[0] == _LEGACY_VERSION:
            aead, body = self._keys[self._current], blob[1:]
        else:
            kid = bytes(blob[1:_HEADER])
            if kid not in self._keys and not self._fetch(kid):
                raise KeyUnavailable(f"{column} of {imsi} is sealed under key {kid.hex()}, which the configured "
                                     "key source does not hold")
            aead, body = self._keys[kid], blob[_HEADER:]
        nonce, sealed = body[:_NONCE_BYTES], body[_NONCE_BYTES:]
        try:
            return aead.decrypt(nonce, sealed, self._aad(column, imsi))
        except InvalidTag:
            raise KeyUnavailable(
                f"{column} of {imsi} does not decrypt: wrong key-encryption key, or the value was moved"
            ) from None

    def _fetch(self, kid: bytes) -> bool:
        """Ask the key source for `kid` (once per id: a blob under a key nobody has must not re-read the file
        on every request)."""
        if self._reload is None:
            return False
        with self._lock:
            if kid in self._keys:
                return True
            if kid in self._tried:
                return False
            self._tried.add(kid)
            try:
                for kek in self._reload():
                    self.add(kek)
            except KeyUnavailable:
                return False
            return kid in self._keys
