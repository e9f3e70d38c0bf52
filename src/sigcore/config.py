"""Validated YAML configuration.

The key names `diameter.origin_host`, `diameter.origin_realm`, `diameter.listen`, `database.url`,
`api.listen` and `metrics.snmp.listen` are a contract with deployment scripts: never rename them.
Every section forbids unknown keys so that a typo is reported with its full dotted path instead of
being silently ignored.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_CONFIG = "SIGCORE_CONFIG"


class ConfigError(Exception):
    """A configuration file is unreadable or invalid; the message names the bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """Split ``host:port``, ``[v6]:port``, a bare host or a bare IPv6 address."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if text.count(":") > 1:  # bare IPv6 address
        return text, default_port
    host, _, port = text.partition(":")
    return host, int(port) if port else default_port


def _check_host_port(value: str) -> str:
    host, port = split_host_port(value, 1)
    if not host or not 0 < port < 65536:
        raise ValueError(f"expected 'host:port', got {value!r}")
    return value


class PeerConfig(_Section):
    """A Diameter peer we know by name (its Origin-Host)."""

    name: str
    address: str = "127.0.0.1"
    port: int = 3868
    mode: Literal["connect", "accept"] = "accept"
    transport: Literal["tcp", "sctp", "tls", "tls-inband"] = "tcp"
    realm: str | None = None


class TimersConfig(_Section):
    """RFC 6733 / RFC 3539 timers, in seconds."""

    tw: float = Field(30.0, gt=0, description="watchdog interval (DWR after this much silence)")
    tc: float = Field(30.0, gt=0, description="reconnect interval for configured peers")
    cer_timeout: float = Field(10.0, gt=0)
    request_timeout: float = Field(10.0, gt=0)
    dpa_timeout: float = Field(5.0, gt=0)


class TlsConfig(_Section):
    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    listen: list[str] = Field(default_factory=list, description="TLS listeners (RFC 6733: TLS from the first byte)")
    inband: bool = Field(False, description="the tls.listen endpoints use RFC 3588 in-band TLS after CER/CEA")


class SctpConfig(_Section):
    """SCTP socket settings (docs/transports.md); None keeps the kernel default."""

    streams: int = Field(8, ge=1, le=65535)
    rto_initial_ms: int | None = None
    rto_min_ms: int | None = None
    rto_max_ms: int | None = None
    path_max_retrans: int | None = None
    heartbeat_ms: int | None = None


class DiameterConfig(_Section):
    origin_host: str = "hss.localdomain"
    origin_realm: str = "localdomain"
    listen: list[str] = Field(default_factory=lambda: ["127.0.0.1:3868"])
    host_ip_addresses: list[str] = Field(default_factory=list)
    product_name: str = "sigcore"
    vendor_id: int = 0
    firmware_revision: int = 1
    peers: list[PeerConfig] = Field(default_factory=list)
    allow: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="networks from which unconfigured peers may connect",
    )
    timers: TimersConfig = Field(default_factory=TimersConfig)
    transport: Literal["tcp", "sctp", "both"] = "tcp"
    bind: list[str] = Field(default_factory=list)
    tls: TlsConfig = Field(default_factory=TlsConfig)
    sctp: SctpConfig = Field(default_factory=SctpConfig)
    mirror: str | None = Field(None, description="'host:port' of a TZSP collector that receives a copy of "
                                                 "every Diameter message (Wireshark on udp/37008)")
    dictionaries: list[str] = Field(default_factory=list, description="JSON dictionary files (the format of "
                                    "sigcore/diameter/dictdata/*.json) merged over the built-in ones")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: list[str]) -> list[str]:
        return [_check_host_port(v) for v in value]

    @field_validator("allow")
    @classmethod
    def _allow(cls, value: list[str]) -> list[str]:
        for net in value:
            ipaddress.ip_network(net, strict=False)
        return value


class DatabaseConfig(_Section):
    url: str = "sqlite:///var/sigcore.sqlite"
    key_file: str | None = Field(None, description="file holding the key-encryption key (hex)")
    key_env: str = Field("SIGCORE_KEK", description="environment variable holding the KEK (hex)")
    pool_size: int = 5


class ApiConfig(_Section):
    listen: str = "127.0.0.1:8080"
    enabled: bool = True

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return _check_host_port(value)


class SnmpConfig(_Section):
    listen: str = "127.0.0.1:1161"
    community: str = "public"
    v3_user: str | None = None
    v3_auth_key: str | None = None
    v3_priv_key: str | None = None


class RedisConfig(_Section):
    url: str | None = None
    flush_interval: float = 1.0


class MetricsConfig(_Section):
    enabled: bool = True
    snmp: SnmpConfig = Field(default_factory=SnmpConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)


class LoggingConfig(_Section):
    level: str = "INFO"
    format: Literal["text", "json", "kv"] = "text"
    dump_messages: bool = False


class SlhConfig(_Section):
    allowed_gmlcs: list[str] = Field(default_factory=list, description="GMLC hosts or realms allowed besides our "
                                                                       "own realm ('*' = any); others get 5490")


class EirConfig(_Section):
    unknown_status: Literal["whitelisted", "greylisted", "blacklisted"] | None = Field(
        None, description="Equipment-Status for an IMEI no rule matches; unset = 5422 EQUIPMENT_UNKNOWN")


class HssConfig(_Section):
    home_plmns: list[str] = Field(default_factory=lambda: ["00101"], description="MCC+MNC digits")
    slh: SlhConfig = Field(default_factory=SlhConfig)
    eir: EirConfig = Field(default_factory=EirConfig)
    ind_bits: int = Field(5, ge=0, le=10, description="IND length of TS 33.102 Annex C")
    max_vectors: int = Field(5, ge=1, le=32)
    mme_peer_timeout: float = 5.0


class Config(_Section):
    diameter: DiameterConfig = Field(default_factory=DiameterConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    hss: HssConfig = Field(default_factory=HssConfig)
    applications: list[str] = Field(default_factory=list, description="import paths 'package.module' (its "
                                    "install function) or 'package.module:function', each called once at start")


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        what = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"{where}: {what}")
    return "; ".join(lines)


def parse_config(data: dict[str, Any] | None) -> Config:
    try:
        return Config.model_validate(data or {})
    except ValidationError as err:
        raise ConfigError(_describe(err)) from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load ``path``, else ``$SIGCORE_CONFIG``, else the built-in defaults."""
    path = path or os.environ.get(ENV_CONFIG)
    if not path:
        return Config()
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return parse_config(data)
