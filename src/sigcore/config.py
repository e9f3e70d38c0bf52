"""Validated YAML configuration.

The key names `diameter.origin_host`, `diameter.origin_realm`, `diameter.listen`, `database.url`,
`api.listen` and `metrics.snmp.listen` are a contract with deployment scripts: never rename them.
Every section forbids unknown keys so that a typo is reported with its full dotted path instead of
being silently ignored.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from sigcore import config_checks as checks
from sigcore.dra.config import DraConfig, undefined_peers

ENV_CONFIG = "SIGCORE_CONFIG"


class ConfigError(Exception):
    """A configuration file is unreadable or invalid; the message names the bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


U32_MAX = 2**32 - 1


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
    return checks.host_port(value, port_required=False)


class PeerConfig(_Section):
    """A Diameter peer we know by name (its Origin-Host)."""

    name: str
    address: str = "127.0.0.1"
    port: int = Field(3868, gt=0, lt=65536)
    mode: Literal["connect", "accept"] = "accept"
    transport: Literal["tcp", "sctp", "tls", "tls-inband"] = "tcp"
    realm: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _port_in_address(cls, data: Any) -> Any:
        """``address: host:port`` is how every other endpoint of the file is written: take its port (it
        used to be dialled as a host name, failing each Tc), unless ``port`` says another one."""
        if not isinstance(data, dict) or not isinstance(data.get("address"), str) or "," in data["address"]:
            return data  # several addresses (a multi-homed SCTP peer) take the port from ``port``
        try:
            host, port = split_host_port(data["address"], -1)
        except ValueError:
            return data  # the address check below names it
        if port == -1:
            return data
        given = data.get("port")
        if given is not None and str(given) != str(port):
            raise ValueError(f"address {data['address']!r} names port {port} but port is {given}: give it once")
        return {**data, "address": host, "port": port}

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return checks.diameter_identity(value)

    @field_validator("realm")
    @classmethod
    def _realm(cls, value: str | None) -> str | None:
        return None if value is None else checks.diameter_identity(value)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        for one in value.split(","):
            checks.host(one.strip())
        return value

    @model_validator(mode="after")
    def _several_addresses_for_sctp(self) -> PeerConfig:
        if "," in self.address and self.transport != "sctp":
            raise ValueError(f"several addresses ({self.address!r}) need transport: sctp (multi-homing)")
        return self


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

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: list[str]) -> list[str]:
        return [_check_host_port(v) for v in value]

    @model_validator(mode="after")
    def _complete(self) -> TlsConfig:
        """TLS is mutual (RFC 6733 §13): once any of it is set, all three files are needed."""
        if self.listen or self.cert or self.key or self.ca:
            missing = [name for name in ("cert", "key", "ca") if not getattr(self, name)]
            if missing:
                raise ValueError(f"TLS needs cert, key and ca (the CA that signs the peers' certificates); "
                                 f"missing: {', '.join(missing)}")
        return self


class SctpConfig(_Section):
    """SCTP socket settings (docs/transports.md); None keeps the kernel default."""

    streams: int = Field(8, ge=1, le=65535)
    rto_initial_ms: int | None = Field(None, ge=1, le=U32_MAX)
    rto_min_ms: int | None = Field(None, ge=1, le=U32_MAX)
    rto_max_ms: int | None = Field(None, ge=1, le=U32_MAX)
    path_max_retrans: int | None = Field(None, ge=1, le=65535)
    heartbeat_ms: int | None = Field(None, ge=1, le=U32_MAX)

    @model_validator(mode="after")
    def _rto_order(self) -> SctpConfig:
        """The kernel refuses (EINVAL, at listen time) RTO values out of order."""
        given = [(n, v) for n in ("rto_min_ms", "rto_initial_ms", "rto_max_ms") if (v := getattr(self, n)) is not None]
        for (low_name, low), (high_name, high) in itertools.pairwise(given):
            if low > high:
                raise ValueError(f"{low_name} ({low}) is above {high_name} ({high})")
        return self


class LimitsConfig(_Section):
    """Bounds on connections that have not completed the capabilities exchange (docs/transports.md)."""

    pre_cer_connections: int = Field(256, ge=1, description="accepted connections without a CER yet, in all")
    pre_cer_per_address: int = Field(16, ge=1, description="the same, from one source address")


class DiameterConfig(_Section):
    origin_host: str = "hss.localdomain"
    origin_realm: str = "localdomain"
    listen: list[str] = Field(default_factory=lambda: ["127.0.0.1:3868"])
    host_ip_addresses: list[str] = Field(default_factory=list)
    product_name: str = Field("sigcore", min_length=1, description="Product-Name of CER/CEA")
    vendor_id: int = Field(0, ge=0, le=U32_MAX, description="Vendor-Id of CER/CEA (Unsigned32)")
    firmware_revision: int = Field(1, ge=0, le=U32_MAX, description="Firmware-Revision of CER/CEA (Unsigned32)")
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
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    mirror: str | None = Field(None, description="'host:port' of a TZSP collector that receives a copy of "
                                                 "every Diameter message (Wireshark on udp/37008)")
    dictionaries: list[str] = Field(default_factory=list, description="JSON dictionary files (the format of "
                                    "sigcore/diameter/dictdata/*.json) merged over the built-in ones")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: list[str]) -> list[str]:
        return [_check_host_port(v) for v in value]

    @field_validator("origin_host", "origin_realm")
    @classmethod
    def _identity(cls, value: str) -> str:
        return checks.diameter_identity(value)

    @field_validator("bind")
    @classmethod
    def _bind(cls, value: list[str]) -> list[str]:
        return [checks.host(v) for v in value]

    @field_validator("mirror")
    @classmethod
    def _mirror(cls, value: str | None) -> str | None:
        return None if value is None else _check_host_port(value)

    @field_validator("peers")
    @classmethod
    def _peers_once(cls, value: list[PeerConfig]) -> list[PeerConfig]:
        """A peer is known by its name (Origin-Host): a second entry of the same name would be ignored."""
        first: dict[str, int] = {}
        for index, peer in enumerate(value):
            known = first.setdefault(peer.name.lower(), index)
            if known != index:
                raise ValueError(f"{peer.name!r} is configured twice (entries {known} and {index})")
        return value

    @field_validator("host_ip_addresses")
    @classmethod
    def _host_ips(cls, value: list[str]) -> list[str]:
        """Host-IP-Address carries addresses, not names: a name failed every CER/CEA's encoding."""
        for address in value:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"expected IP addresses, got {address!r}") from None
        return value

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
    pool_size: int = Field(5, ge=1)
    _config_dir: Path | None = PrivateAttr(None)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return checks.database_url(value)

    @field_validator("key_env")
    @classmethod
    def _key_env(cls, value: str) -> str:
        return checks.env_name(value)

    @property
    def config_dir(self) -> Path | None:
        """The folder of the config file this was read from (None: built-in defaults or a dict); a server
        database's default key file lives there, whatever the working directory (`sigcore.store.keysource`)."""
        return self._config_dir

    def read_from(self, config_file: str | os.PathLike[str]) -> None:
        self._config_dir = Path(config_file).resolve().parent


class ApiConfig(_Section):
    listen: str = "127.0.0.1:8080"
    enabled: bool = True
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="larger request bodies get 413, unread")
    header_timeout: float = Field(10.0, gt=0, description="seconds for a request line and headers to arrive")
    idle_timeout: float = Field(30.0, gt=0, description="seconds a request body may stall")
    keepalive_timeout: float = Field(5.0, gt=0, description="seconds an idle kept-alive connection stays open")
    max_concurrency: int = Field(100, ge=1, description="connections and requests at once; more get 503")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return checks.host_port(value, port_required=True)


class SnmpConfig(_Section):
    listen: str = "127.0.0.1:1161"
    community: str | None = Field("public", description="SNMPv2c community; null (or empty) turns v2c off")
    v3_user: str | None = Field(None, min_length=1, max_length=32, description="USM user name (SnmpAdminString)")
    v3_auth_key: str | None = Field(None, min_length=8, description="HMAC-SHA-96 passphrase (RFC 3414: 8 or more)")
    v3_priv_key: str | None = Field(None, min_length=8, description="AES-128 passphrase (RFC 3414: 8 or more)")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return checks.host_port(value, port_required=True)

    @model_validator(mode="after")
    def _v3_complete(self) -> SnmpConfig:
        """SNMPv3 is authPriv only: a user needs both passphrases, and a passphrase without a user is unused."""
        if self.v3_user and not (self.v3_auth_key and self.v3_priv_key):
            raise ValueError("SNMPv3 needs both v3_auth_key and v3_priv_key with v3_user (authPriv only)")
        if not self.v3_user and (self.v3_auth_key or self.v3_priv_key):
            raise ValueError("v3_auth_key and v3_priv_key need v3_user")
        return self


class RedisConfig(_Section):
    url: str | None = None
    flush_interval: float = Field(1.0, ge=0.05, description="seconds between flushes of the counts to Redis")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return checks.redis_url(value)


class MetricsConfig(_Section):
    enabled: bool = True
    snmp: SnmpConfig = Field(default_factory=SnmpConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)


class LoggingConfig(_Section):
    level: str = "INFO"
    format: Literal["text", "json", "kv"] = "text"
    dump_messages: bool = False

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        return checks.log_level(value)


class SlhConfig(_Section):
    allowed_gmlcs: list[str] = Field(default_factory=list, description="GMLC hosts or realms allowed besides our "
                                                                       "own realm ('*' = any); others get 5490")

    @field_validator("allowed_gmlcs")
    @classmethod
    def _gmlcs(cls, value: list[str]) -> list[str]:  # a typo would refuse that GMLC without a word
        return [v if v == "*" else checks.diameter_identity(v) for v in value]


class EirConfig(_Section):
    unknown_status: Literal["whitelisted", "greylisted", "blacklisted"] | None = Field(
        None, description="Equipment-Status for an IMEI no rule matches; unset = 5422 EQUIPMENT_UNKNOWN")


class HssConfig(_Section):
    enabled: bool = Field(True, description="false: no HSS applications (e.g. a DRA-only node)")
    home_plmns: list[str] = Field(default_factory=lambda: ["00101"], description="MCC+MNC digits")
    slh: SlhConfig = Field(default_factory=SlhConfig)
    eir: EirConfig = Field(default_factory=EirConfig)
    ind_bits: int = Field(5, ge=0, le=10, description="IND length of TS 33.102 Annex C")
    max_vectors: int = Field(5, ge=1, le=32)
    mme_peer_timeout: float = Field(5.0, gt=0)

    @field_validator("home_plmns")
    @classmethod
    def _plmns(cls, value: list[str]) -> list[str]:
        return [checks.plmn(v) for v in value]


class RunConfig(_Section):
    workers: int = Field(1, ge=1, le=64, description="processes sharing the Diameter and API listeners "
                                                     "(SO_REUSEPORT); `sigcore run --workers N` overrides it")


class GyConfig(_Section):
    """Diameter Gy/Ro credit control (docs/charging.md)."""

    enabled: bool = True
    validity_time: int = Field(300, ge=1, description="Validity-Time of each grant, seconds")
    session_timeout: float = Field(900.0, gt=0, description="an open session's reservations are released "
                                                           "this long after its last CCR")
    default_time: int = Field(300, ge=1, description="seconds granted when a CCR asks for time without a value")
    default_octets: int = Field(10_000_000, ge=1, description="octets granted when asked without a value")
    default_units: int = Field(10, ge=1, description="service-specific units granted when asked without a value")
    final_unit_action: Literal["TERMINATE", "REDIRECT"] = "TERMINATE"
    redirect_address: str | None = Field(None, description="Redirect-Server-Address for REDIRECT (a URL)")
    service_specific_balance: str = Field("*generic", min_length=1,
                                          description="balance type spending CC-Service-Specific-Units")

    @field_validator("redirect_address")
    @classmethod
    def _redirect(cls, value: str | None) -> str | None:  # sent as Redirect-Address-Type URL (2)
        return checks.url(value)

    @model_validator(mode="after")
    def _redirect_needs_a_target(self) -> GyConfig:
        """REDIRECT without an address used to be TERMINATE without a word (RFC 4006 §8.34: a REDIRECT
        Final-Unit-Action comes with a Redirect-Server)."""
        if self.final_unit_action == "REDIRECT" and not self.redirect_address:
            raise ValueError("final_unit_action REDIRECT needs redirect_address (the top-up portal's URL)")
        return self


class ChargingConfig(_Section):
    """The online charging engine; it runs when the config has a ``charging`` section."""

    listen: str = Field("127.0.0.1:2080", description="JSON-RPC over HTTP (POST /jsonrpc)")
    listen_tcp: str | None = Field(None, description="JSON-RPC over raw TCP, 'host:port' (off when unset)")
    default_tenant: str = Field("cgrates.org", min_length=1, description="the tenant of a request that names none")
    auth: bool = Field(False, description="require the REST API's bearer tokens on /jsonrpc")
    allow_remote: bool = Field(False, description="allow non-loopback JSON-RPC listeners without auth")
    http_post_url: str | None = Field(None, description="URL of *http_post actions whose ExtraParameters is empty")
    scheduler_interval: float = Field(1.0, gt=0, description="seconds between action plan scheduler passes")
    gy: GyConfig = Field(default_factory=GyConfig)

    @field_validator("listen", "listen_tcp")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        """'host:port'; port 0 binds any free port (tests)."""
        if value is not None:
            host, port = split_host_port(value, 2080)
            if not host or not 0 <= port < 65536:
                raise ValueError(f"expected 'host:port', got {value!r}")
        return value

    @field_validator("http_post_url")
    @classmethod
    def _post_url(cls, value: str | None) -> str | None:  # each *http_post to it would fail at run time
        return checks.url(value, ("http", "https"))

    @model_validator(mode="after")
    def _exposure(self) -> ChargingConfig:
        """Loopback-only unless auth is on or the operator says otherwise; raw TCP has no way to carry tokens.
        Here rather than at start so that `sigcore config check` says it too."""
        for where in [self.listen] + ([self.listen_tcp] if self.listen_tcp else []):
            if not checks.loopback(split_host_port(where, 2080)[0]) and not self.auth and not self.allow_remote:
                raise ValueError(f"{where} is not a loopback address; set charging.auth (bearer tokens) or "
                                 "charging.allow_remote to expose JSON-RPC")
        if self.auth and self.listen_tcp:
            raise ValueError("listen_tcp cannot be used with auth: raw TCP JSON-RPC carries no bearer token")
        return self


class Config(_Section):
    diameter: DiameterConfig = Field(default_factory=DiameterConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    hss: HssConfig = Field(default_factory=HssConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    charging: ChargingConfig | None = None
    applications: list[str] = Field(default_factory=list, description="import paths 'package.module' (its "
                                    "install function) or 'package.module:function', each called once at start")
    dra: DraConfig | None = None  # a Diameter Routing Agent runs when this section is present

    @field_validator("applications")
    @classmethod
    def _applications(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not checks.import_path(entry):
                raise ValueError(f"{entry!r} is not 'package.module' or 'package.module:function'")
        return value


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        what = "unknown key" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {what}")
    return "; ".join(lines)


def parse_config(data: dict[str, Any] | None) -> Config:
    try:
        cfg = Config.model_validate(data or {})
    except ValidationError as err:
        raise ConfigError(_describe(err)) from None
    if cfg.dra is not None:
        problems = undefined_peers(cfg.dra, {p.name for p in cfg.diameter.peers})
        if problems:
            raise ConfigError("; ".join(f"dra.{p}" for p in problems))
    return cfg


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load ``path``, else ``$SIGCORE_CONFIG``, else the built-in defaults."""
    if path is not None and not str(path):  # `--config "$UNSET"` meant a file, not a new database in the cwd
        raise ConfigError("--config: an empty path (leave --config out for $SIGCORE_CONFIG or the defaults)")
    path = path or os.environ.get(ENV_CONFIG)
    if not path:
        return Config()
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (octet {err.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    except RecursionError:  # the parser recurses per level of nesting
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    cfg = parse_config(data)
    cfg.database.read_from(path)
    return cfg
