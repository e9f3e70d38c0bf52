"""Logging for sigcore processes: text, JSON or key=value lines; secrets redacted; level changeable live.

* ``configure(cfg.logging)`` installs one handler on the root logger with the chosen format and a
  ``RedactingFilter`` that masks secret-looking fields (Ki, OPc, OP, K, keys, passwords) in messages,
  arguments and ``extra`` fields, so a careless ``log.info("%s", subscriber)`` cannot leak a key.
* ``dump_message(log, direction, msg)`` logs the decoded tree of a Diameter message at DEBUG, only
  when ``logging.dump_messages`` is on and DEBUG is enabled (the tree is built lazily).
* ``set_level("DEBUG")`` changes the level at run time; ``install_signal_handlers()`` maps SIGUSR1 to
  one step more verbose and SIGUSR2 to one step quieter.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import sys
import time
from typing import Any

from sigcore.diameter import DICTIONARY
from sigcore.diameter.message import Message

_SECRET_NAMES = r"(?:ki|k|opc|op|amf_key|kek|key|secret|password|passwd|auth_key|priv_key|v3_auth_key|v3_priv_key)"
#: ``name=value``, ``name: value``, ``"name": "value"``, ``'name': 'value'``: the value is masked.
_SECRET_PAIR = re.compile(
    r"(?i)(?P<name>[\"']?\b" + _SECRET_NAMES + r"\b[\"']?\s*[:=]\s*)(?P<q>[\"']?)(?P<value>[^\s,;\"'}\)]+)")
#: AVP lines of a message dump carrying key material or an expected response (KASME, CK, IK, Kc; XRES and
#: SRES in S6a vectors, SIP-Authorization: the XRES of a Cx vector; Digest-HA1: a password equivalent).
#: RAND and AUTN are sent in clear to the UE anyway.
_SECRET_AVP = re.compile(r"(?im)^(?P<pad>\s*(?:KASME|Confidentiality-Key|Integrity-Key|CK|IK|Kc|XRES|SRES|"
                         r"SIP-Authorization|Digest-HA1)\s*:\s*)\S+$")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
REDACTED = "***"
LEVELS = ["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]

_dump_enabled = False


def redact(text: str) -> str:
    text = _SECRET_PAIR.sub(lambda m: f"{m['name']}{m['q']}{REDACTED}", text)
    return _SECRET_AVP.sub(lambda m: f"{m['pad']}{REDACTED}", text)


class RedactingFilter(logging.Filter):
    """Masks secrets in the formatted message and in ``extra`` fields whose name is a secret's."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args or "=" in str(record.msg) or ":" in str(record.msg):
            record.msg = redact(record.getMessage())
            record.args = None
        for name in list(vars(record)):
            if name not in _STANDARD and re.fullmatch(_SECRET_NAMES, name, re.IGNORECASE):
                setattr(record, name, REDACTED)
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname, "logger": record.name,
                               "msg": record.getMessage()}
        out.update({k: v if isinstance(v, int | float | bool | type(None)) else str(v)
                    for k, v in _extras(record).items()})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """logfmt: ``ts=... level=INFO logger=... msg="..." key=value``."""

    @staticmethod
    def _value(value: Any) -> str:
        text = str(value)
        if text and not re.search(r'[\s="]', text):
            return text
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    def format(self, record: logging.LogRecord) -> str:
        pairs = {"ts": _timestamp(record), "level": record.levelname, "logger": record.name,
                 "msg": record.getMessage(), **_extras(record)}
        if record.exc_info:
            pairs["exc"] = self.formatException(record.exc_info)
        return " ".join(f"{k}={self._value(v)}" for k, v in pairs.items())


FORMATTERS: dict[str, logging.Formatter] = {
    "text": logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"),
    "json": JsonFormatter(),
    "kv": KeyValueFormatter(),
}


class _AlembicChatter(logging.Filter):
    """Alembic's INFO lines that tell an operator nothing: the dialect it picked, at every schema check.
    Its "Running upgrade a -> b" lines pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Context impl", "Will assume"))


def _quiet_third_party() -> None:
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # plugin set-up, on import
    migration = logging.getLogger("alembic.runtime.migration")
    if not any(isinstance(f, _AlembicChatter) for f in migration.filters):
        migration.addFilter(_AlembicChatter())


def configure(logging_cfg: Any, stream: Any = None) -> logging.Handler:
    """Replace the root handlers by one stream handler with the configured format, level and redaction."""
    global _dump_enabled
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(FORMATTERS[logging_cfg.format])
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    set_level(logging_cfg.level)
    _quiet_third_party()
    _dump_enabled = bool(logging_cfg.dump_messages)
    return handler


def label_records(label: str) -> None:
    """Start every message of this process with ``[label] `` (the worker of ``sigcore run --workers``)."""
    prefix = f"[{label}] "

    class _Label(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if not str(record.msg).startswith(prefix):
                record.msg = prefix + str(record.msg)
            return True

    for handler in logging.getLogger().handlers:
        handler.addFilter(_Label())


def set_level(level: str | int) -> str:
    """Change the root level now (``"DEBUG"``, ``"info"``, 10...); returns the new level's name."""
    value = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {level!r}")
    logging.getLogger().setLevel(value)
    return logging.getLevelName(value)


def step_level(more_verbose: bool) -> str:
    current = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    i = LEVELS.index(current) if current in LEVELS else LEVELS.index("INFO")
    return set_level(LEVELS[min(i + 1, len(LEVELS) - 1)] if more_verbose else LEVELS[max(i - 1, 0)])


def install_signal_handlers() -> None:
    """SIGUSR1: one level more verbose; SIGUSR2: one level quieter (logged at WARNING so it shows)."""

    def handler(signum: int, _frame: Any) -> None:
        level = step_level(signum == signal.SIGUSR1)
        logging.getLogger("sigcore").warning("log level now %s", level)

    signal.signal(signal.SIGUSR1, handler)
    signal.signal(signal.SIGUSR2, handler)


def enable_message_dumps(on: bool = True) -> None:
    global _dump_enabled
    _dump_enabled = on


def dump_message(log: logging.Logger, direction: str, msg: Message) -> None:
    """Log ``msg`` as a decoded tree at DEBUG (freeDiameter-style), if dumps are on; secrets masked."""
    if _dump_enabled and log.isEnabledFor(logging.DEBUG):
        log.debug("%s\n%s", direction, redact(DICTIONARY.dump(msg)))


def message_dump_tap(log: logging.Logger) -> Any:
    """A ``Node.taps`` callable dumping every message in and out (decoding only when dumps are on)."""

    def tap(direction: str, conn: Any, data: bytes) -> None:
        if _dump_enabled and log.isEnabledFor(logging.DEBUG):
            dump_message(log, f"{direction} {getattr(conn, 'remote', '')}", Message.decode(data))

    return tap
