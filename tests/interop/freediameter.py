"""Run freeDiameterd 1.2.1 (Debian `freediameterd`) as a real Diameter peer in tests.

`FreeDiameterd` writes a complete configuration into a private directory, starts
`freeDiameterd -c <conf> -dd` with its log in a file, and lets tests wait on log lines and read the
peer states freeDiameter itself reports. What freeDiameter prints and sends is documented in
docs/testing.md; the regexes below match those exact lines.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .ports import LOOPBACK, free_tcp_port
from .process import LoggedProcess

BINARY = "freeDiameterd"
# Debian installs the .fdx files here; LoadExtension resolves bare names against it.
DICTIONARY_EXTENSIONS = ("dict_nasreq.fdx", "dict_dcca.fdx", "dict_dcca_3gpp.fdx")  # this order matters
MIN_TW_SECONDS = 6  # freeDiameter refuses a smaller TwTimer (RFC 3539 says Tw >= 6 s)

READY_LINE = r"freeDiameterd daemon initialized\."
# e.g. "07:12:48  NOTI   'STATE_WAITCEA'	-> 'STATE_OPEN'	'b.localdomain'" and the final
# "'STATE_CLOSED'	-> STATE_ZOMBIE (terminated)	'b.localdomain'".
_STATE_CHANGE = re.compile(r"'(STATE_\w+)'\s+->\s+'?(STATE_\w+)'?(?: \(terminated\))?\s+'([^']+)'")


def state_line(peer: str, state: str = "STATE_OPEN") -> str:
    """Regex for freeDiameter's log line announcing that `peer` entered `state`."""
    return rf"->\s+'?{state}'?(?: \(terminated\))?\s+'{re.escape(peer)}'"


_DIRECTIONS = {"sent": "SND to", "received": "RCV from", "either": "(?:SND to|RCV from)"}


def message_line(peer: str, command_name: str, direction: str = "either") -> str:
    """Regex for a message freeDiameter sent to / received from `peer`, as dbg_msg_dumps logs it.

    `command_name` is freeDiameter's name, e.g. "Device-Watchdog-Answer"; direction is "sent",
    "received" or "either". Needs `dump_messages` (on by default).
    """
    return rf"{_DIRECTIONS[direction]} '{re.escape(peer)}':\n\S+\s+NOTI\s+'{re.escape(command_name)}'"


def is_installed() -> bool:
    return shutil.which(BINARY) is not None


@dataclass(frozen=True)
class ConnectPeer:
    """A peer freeDiameterd connects to (and accepts). `name` MUST be the remote Origin-Host, or
    freeDiameter discards the CEA."""

    name: str
    port: int
    address: str = LOOPBACK
    tc_seconds: int | None = None
    tw_seconds: int | None = None

    def render(self) -> str:
        params = [f'ConnectTo = "{self.address}"', f"Port = {self.port}", "No_TLS", "No_SCTP"]
        if self.tc_seconds is not None:
            params.append(f"TcTimer = {self.tc_seconds}")
        if self.tw_seconds is not None:
            params.append(f"TwTimer = {self.tw_seconds}")
        return f'ConnectPeer = "{self.name}" {{ {"; ".join(params)}; }};'


@dataclass(frozen=True)
class RouteRule:
    """One rt_default rule, `CRITERIA : TARGET += SCORE ;` e.g. RouteRule("*", '"hss.localdomain"', "10").

    criteria: `*`, or oh=/or=/dh=/dr=/un=/si= with "exact" or ["regex"];
    target: "peer.id" or rlm="realm"; score: a number or NO_DELIVERY, DEFAULT, REALM, FINALDEST...
    """

    criteria: str
    target: str
    score: str = "10"

    @classmethod
    def default_route_to(cls, peer: str, score: str = "10") -> RouteRule:
        """Send every request to `peer` (if it is open and not already on the Route-Record)."""
        return cls("*", f'"{peer}"', score)

    def render(self) -> str:
        return f"{self.criteria} : {self.target} += {self.score} ;"


@dataclass
class FreeDiameterConfig:
    identity: str
    realm: str = "localdomain"
    port: int = field(default_factory=free_tcp_port)
    tc_seconds: int = 3
    tw_seconds: int = MIN_TW_SECONDS
    connect_peers: list[ConnectPeer] = field(default_factory=list)
    # Peers allowed to connect without a ConnectPeer entry (acl_wl; "*.localdomain" wildcards work).
    allowed_peers: list[str] = field(default_factory=list)
    routes: list[RouteRule] = field(default_factory=list)
    relay: bool = True  # False writes NoRelay: no 0xffffffff in CER/CEA, no forwarding
    dump_messages: bool = True  # dbg_msg_dumps: every message as a tree in the log
    extra_lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.tw_seconds < MIN_TW_SECONDS:
            raise ValueError(f"freeDiameter needs TwTimer >= {MIN_TW_SECONDS}, got {self.tw_seconds}")

    def render(self, directory: Path) -> str:
        """The freeDiameter.conf text; writes the extension files it names into `directory`."""
        lines = [
            f'Identity = "{self.identity}";',
            f'Realm = "{self.realm}";',
            f"Port = {self.port};",
            "SecPort = 0;",  # no TLS listener, so no certificate needed
            "No_SCTP;",  # this kernel has no SCTP: freeDiameter would fail with "Protocol not supported"
            "No_IPv6;",
            f"TcTimer = {self.tc_seconds};",
            f"TwTimer = {self.tw_seconds};",
        ]
        if not self.relay:
            lines.append("NoRelay;")
        lines += [f'LoadExtension = "{name}";' for name in DICTIONARY_EXTENSIONS]
        if self.dump_messages:
            lines.append('LoadExtension = "dbg_msg_dumps.fdx" : "0x8888";')
        if self.allowed_peers:
            whitelist = directory / "acl_wl.conf"
            # ALLOW_IPSEC accepts a cleartext CER (Inband-Security-Id NO_INBAND_SECURITY).
            whitelist.write_text("ALLOW_IPSEC " + " ".join(self.allowed_peers) + "\n")
            lines.append(f'LoadExtension = "acl_wl.fdx" : "{whitelist}";')
        if self.routes:
            rules = directory / "rt_default.conf"
            rules.write_text("".join(rule.render() + "\n" for rule in self.routes))
            lines.append(f'LoadExtension = "rt_default.fdx" : "{rules}";')
        lines += self.extra_lines
        lines += [peer.render() for peer in self.connect_peers]
        return "\n".join(lines) + "\n"


def parse_peer_states(log: str) -> dict[str, str]:
    """Last state freeDiameter logged for each peer, e.g. {"b.localdomain": "STATE_OPEN"}."""
    states: dict[str, str] = {}
    for match in _STATE_CHANGE.finditer(log):
        states[match.group(3)] = match.group(2)
    return states


class FreeDiameterd(LoggedProcess):
    """A freeDiameterd process in `directory` (freeDiameter.conf, extension configs, freeDiameterd.log)."""

    def __init__(self, config: FreeDiameterConfig, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.directory = directory
        self.conf_path = directory / "freeDiameter.conf"
        super().__init__([BINARY, "-c", str(self.conf_path), "-dd"], directory / "freeDiameterd.log", directory)

    @property
    def identity(self) -> str:
        return self.config.identity

    @property
    def port(self) -> int:
        return self.config.port

    def start(self, wait_ready: float = 15.0) -> None:
        """Write the config, start the daemon and wait until it has loaded everything and listens."""
        self.conf_path.write_text(self.config.render(self.directory))
        super().start()
        if wait_ready:
            self.wait_for(READY_LINE, wait_ready)

    def wait_for_state(self, peer: str, state: str = "STATE_OPEN", timeout: float = 15.0, after: int = 0) -> int:
        """Wait until freeDiameter logs that `peer` entered `state`; returns the log offset after that line."""
        return self.wait_for(state_line(peer, state), timeout, after).end()

    def peer_states(self) -> dict[str, str]:
        return parse_peer_states(self.log_text())


def connect_pair(
    make: FreeDiameterFactory, a_identity: str = "a.localdomain", b_identity: str = "b.localdomain"
) -> tuple[FreeDiameterd, FreeDiameterd]:
    """Start B (accepting A through acl_wl), then A with a ConnectPeer to B. Does not wait for the open state."""
    b = make(FreeDiameterConfig(identity=b_identity, allowed_peers=[a_identity]))
    a = make(FreeDiameterConfig(identity=a_identity, connect_peers=[ConnectPeer(b_identity, b.port)]))
    return a, b


class FreeDiameterFactory:
    """Starts freeDiameterd instances under one base directory and stops all of them in `close()`."""

    def __init__(self, base_directory: Path) -> None:
        self.base_directory = base_directory
        self.started: list[FreeDiameterd] = []

    def __call__(self, config: FreeDiameterConfig, start: bool = True) -> FreeDiameterd:
        daemon = FreeDiameterd(config, self.base_directory / f"fd-{len(self.started)}-{config.identity}")
        self.started.append(daemon)
        if start:
            daemon.start()
        return daemon

    def close(self) -> None:
        """Stop in reverse start order (clients first, so their DPR reaches a server that still runs)."""
        errors: list[BaseException] = []
        for daemon in reversed(self.started):
            try:
                daemon.stop()
            except Exception as error:  # keep stopping the others
                errors.append(error)
        if errors:
            raise errors[0]


__all__ = [
    "ConnectPeer",
    "FreeDiameterConfig",
    "FreeDiameterFactory",
    "FreeDiameterd",
    "RouteRule",
    "connect_pair",
    "is_installed",
    "message_line",
    "parse_peer_states",
    "state_line",
]
