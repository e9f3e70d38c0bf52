"""Value checks of the configuration (`sigcore.config`): each raises ``ValueError`` saying what is expected,
which pydantic reports under the key's dotted path. Only the form is checked here, nothing on disk or the
network: `sigcore config check` may run on another machine than the one the file is for."""

from __future__ import annotations

import ipaddress
import re

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
REDIS_SCHEMES = ("redis", "rediss", "unix")
#: RFC 6733 §4.3.1 DiameterIdentity: an FQDN (RFC 1035 labels; '_' tolerated as many deployments use it).
_FQDN = re.compile(r"(?i)^(?=.{1,255}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}"
                   r"[a-z0-9_])?)*\.?$")
_ABSENT = -1
_PLMN = re.compile(r"^[0-9]{5,6}$")


def diameter_identity(value: str) -> str:
    if not _FQDN.match(value):
        raise ValueError(f"expected a DiameterIdentity (an FQDN such as 'hss.example.net'), got {value!r}")
    return value


def plmn(value: str) -> str:
    if not _PLMN.match(value):
        raise ValueError(f"expected MCC+MNC as 5 or 6 digits (e.g. '00101'), got {value!r}")
    return value


def log_level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return value.upper()


def database_url(value: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise ValueError("expected a database URL such as 'sqlite:///var/sigcore.sqlite' or "
                         "'postgresql://user@host/db'") from None
    if url.get_backend_name() not in ("sqlite", "postgresql", "mysql", "mariadb", "mssql"):
        raise ValueError(f"unsupported database {url.get_backend_name()!r} (sqlite, postgresql, mysql, mariadb, mssql)")
    return value


def redis_url(value: str | None) -> str | None:
    if value is None:
        return None
    scheme, sep, rest = value.partition("://")
    if not sep or scheme not in REDIS_SCHEMES or not rest:
        raise ValueError(f"expected a Redis URL ('redis://host:6379/0', 'rediss://…' or 'unix:///path'), "
                         f"got {value!r}")
    return value


def url(value: str | None, schemes: tuple[str, ...] = ()) -> str | None:
    """An absolute URL with a host (of one of ``schemes`` when given), its port if any in range."""
    if value is None:
        return None
    from urllib.parse import urlsplit

    wanted = f"a URL ({' or '.join(schemes)})" if schemes else "a URL"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError when out of range or not a number)
    except ValueError:
        raise ValueError(f"expected {wanted} such as 'https://topup.example.net/', got {value!r}") from None
    if not parts.scheme or not parts.hostname or (schemes and parts.scheme not in schemes) \
            or any(c.isspace() for c in value):
        raise ValueError(f"expected {wanted} such as 'https://topup.example.net/', got {value!r}")
    return value


def env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(f"expected an environment variable name such as 'SIGCORE_KEK', got {value!r}")
    return value


def import_path(value: str) -> bool:
    """``package.module`` or ``package.module:function`` (the form only; the import happens at start)."""
    module_name, _, function_name = value.partition(":")
    return bool(module_name) and all(part.isidentifier() for part in module_name.split(".")) \
        and (function_name or "install").isidentifier()


def loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def host(value: str) -> str:
    """An IP address or a host name."""
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not _FQDN.match(value):
        raise ValueError(f"{value!r} is neither an IP address nor a host name")
    return value


def host_port(value: str, *, port_required: bool) -> str:
    """``host:port``, ``[v6]:port`` (or without the port when it is optional)."""
    from sigcore.config import split_host_port

    expected = "'host:port' (e.g. '127.0.0.1:8080', '[::1]:8080')" if port_required else "'host' or 'host:port'"
    try:
        name, port = split_host_port(value, _ABSENT)
    except ValueError:
        raise ValueError(f"expected {expected}, got {value!r}") from None
    if port == _ABSENT and port_required:
        raise ValueError(f"expected {expected}: the port is missing in {value!r}")
    if not name or not (port == _ABSENT or 0 < port < 65536):
        raise ValueError(f"expected {expected}, got {value!r}")
    host(name)
    return value
