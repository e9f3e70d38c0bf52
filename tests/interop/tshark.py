"""Capture loopback traffic with tshark and judge what crossed the wire.

`TsharkCapture` records a pcap while a test runs; `check_pcap` lists what Wireshark's dissector calls
malformed or warns about (the issue's acceptance: zero of both), and `diameter_messages` lists every
decoded Diameter message, so a test can assert which commands, flags and Result-Codes were exchanged.
Diameter on a port other than 3868 is only dissected with a decode-as (`-d tcp.port==N,diameter`),
which both readers add for the ports given.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .ports import LOOPBACK, free_udp_port
from .process import LoggedProcess

BINARY = "tshark"
FLAG_REQUEST, FLAG_PROXIABLE, FLAG_ERROR, FLAG_RETRANSMIT = 0x80, 0x40, 0x20, 0x10
_PROBE_PAYLOAD = "sigcore interop capture probe"
# The capture's own UDP probes (see TsharkCapture.start) are not Diameter: a probe whose random port is one a
# Wireshark dissector owns (PFCP 8805, DNS 53...) is dissected as that protocol and reported malformed.
_PROBLEM_FILTER = f'(_ws.malformed || _ws.expert.severity >= warning) && !(udp && frame contains "{_PROBE_PAYLOAD}")'
# Keys of a dissected AVP that describe the AVP itself rather than carry its value.
_AVP_STRUCTURE_KEYS = {"avp.code", "avp.flags", "avp.flags_tree", "avp.len", "avp.vendorId", "avp.pad", "avp"}


def is_installed() -> bool:
    return shutil.which(BINARY) is not None


def port_filter(ports: Iterable[int], transport: str = "tcp") -> str:
    """A BPF capture filter for the given ports, e.g. "tcp port 3868 or tcp port 3870"."""
    return " or ".join(f"{transport} port {port}" for port in ports)


class TsharkCapture(LoggedProcess):
    """`tshark -i lo -f BPF -w PCAP`, started and stopped around the traffic to record.

    The capture filter also takes UDP datagrams to a private probe port: `start()` sends them until
    one reaches the pcap, which is the only reliable sign that dumpcap really captures. They appear in
    the pcap as a few small UDP packets that are not Diameter.
    """

    PROBE_PAYLOAD = _PROBE_PAYLOAD.encode()

    def __init__(self, pcap_path: Path, bpf: str, interface: str = "lo") -> None:
        self.pcap_path = pcap_path
        self.probe_port = free_udp_port()
        super().__init__(
            [BINARY, "-i", interface, "-f", f"({bpf}) or (udp port {self.probe_port})", "-w", str(pcap_path)],
            pcap_path.with_suffix(".tshark.log"),
        )

    def start(self, wait_ready: float = 15.0) -> None:
        """Start, then probe until dumpcap really captures (packets sent before that would be lost).

        "Capturing on 'Loopback: lo'" and even the pcap header are written before the capture is
        active, so neither is enough to go on.
        """
        super().start()
        self.wait_for(r"Capturing on", wait_ready)
        _wait_until(lambda: self._pcap_size() > 0, wait_ready, f"{self.pcap_path} never written")
        empty_size = self._pcap_size()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            deadline = time.monotonic() + wait_ready
            while self._pcap_size() == empty_size:
                if time.monotonic() >= deadline or not self.is_running():
                    raise TimeoutError(f"tshark captured no probe in {wait_ready}s:\n{self.log_tail()}")
                probe.sendto(self.PROBE_PAYLOAD, (LOOPBACK, self.probe_port))
                time.sleep(0.1)

    def stop(self, timeout: float = 20.0, quiet_seconds: float = 1.5) -> int | None:
        """Let dumpcap write what it has read, then SIGINT so tshark closes the pcap properly.

        dumpcap gets packets from the kernel in blocks with up to ~1 s delay (no immediate mode in
        tshark 4.0) and loses the unread block when interrupted, so we first wait until the pcap has
        not grown for `quiet_seconds`.
        """
        if self.is_running():
            self._wait_pcap_quiet(quiet_seconds, max_wait=timeout)
        return super().stop(timeout)

    def _pcap_size(self) -> int:
        try:
            return self.pcap_path.stat().st_size
        except FileNotFoundError:
            return 0

    def _wait_pcap_quiet(self, quiet_seconds: float, max_wait: float) -> None:
        deadline = time.monotonic() + max_wait
        size, since = self._pcap_size(), time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - since < quiet_seconds:
            time.sleep(0.05)
            if (new_size := self._pcap_size()) != size:
                size, since = new_size, time.monotonic()


def _wait_until(condition: Callable[[], bool], timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(failure)
        time.sleep(0.02)


def _decode_as_args(ports: Iterable[int]) -> list[str]:
    args: list[str] = []
    for port in ports:
        if port != 3868:
            args += ["-d", f"tcp.port=={port},diameter"]
    return args


def _run_tshark(pcap: Path, ports: Iterable[int], extra: list[str]) -> str:
    result = subprocess.run(
        [BINARY, "-r", str(pcap), *_decode_as_args(ports), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"tshark failed reading {pcap} (rc={result.returncode}): {result.stderr}")
    return result.stdout


SEVERITY_WARNING, SEVERITY_ERROR = 0x00600000, 0x00800000  # Wireshark's PI_WARN / PI_ERROR


@dataclass(frozen=True)
class PcapProblem:
    frame: int
    protocol: str  # the layer that raised it ("diameter", "tcp"...), or "malformed"
    message: str


def _problems_in(frame: int, layer_name: str, tree: Any) -> Iterator[PcapProblem]:
    for item in _as_list(tree):
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            if key == "_ws.malformed":
                yield PcapProblem(frame, "malformed", f"{layer_name}: {_expert_message(value) or 'malformed'}")
            elif key == "_ws.expert":
                for expert in _as_list(value):
                    if int(expert.get("_ws.expert.severity", 0)) >= SEVERITY_WARNING:
                        yield PcapProblem(frame, layer_name, _expert_message(expert))
            elif isinstance(value, dict | list):
                yield from _problems_in(frame, layer_name, value)


def _expert_message(tree: Any) -> str:
    for item in _as_list(tree):
        if isinstance(item, dict):
            if "_ws.expert.message" in item:
                return str(item["_ws.expert.message"])
            found = _expert_message(list(item.values()))
            if found:
                return found
    return ""


def check_pcap(pcap: Path, ports: Iterable[int], protocols: Iterable[str] | None = ("diameter",)) -> list[PcapProblem]:
    """Malformed packets (any protocol) and expert infos of severity warning or worse raised by
    `protocols` (None: by any protocol). A clean capture gives [].

    The default looks at Diameter's expert infos only: TCP flags a reset connection as a warning too, and
    resets at teardown are normal for some peers (see docs/testing.md).
    """
    wanted = None if protocols is None else set(protocols)
    output = _run_tshark(pcap, ports, ["-Y", _PROBLEM_FILTER, "-T", "json", "--no-duplicate-keys"])
    problems = []
    for packet in json.loads(output) if output.strip() else []:
        layers = packet["_source"]["layers"]
        frame = int(layers["frame"]["frame.number"])
        for layer_name, tree in layers.items():
            if layer_name == "_ws.malformed":
                problems.append(PcapProblem(frame, "malformed", _expert_message(tree) or "malformed"))
                continue
            problems += [
                problem
                for problem in _problems_in(frame, layer_name, tree)
                if wanted is None or problem.protocol in wanted or problem.protocol == "malformed"
            ]
    return problems


@dataclass(frozen=True)
class DiameterPdu:
    """One Diameter message as Wireshark decoded it."""

    frame: int
    src_port: int
    dst_port: int
    command_code: int
    flags: int
    application_id: int
    hop_by_hop: int
    end_to_end: int
    # Every AVP value Wireshark named, at any depth: {"Origin-Host": ["a.localdomain"], ...}.
    avps: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_request(self) -> bool:
        return bool(self.flags & FLAG_REQUEST)

    @property
    def is_error(self) -> bool:
        return bool(self.flags & FLAG_ERROR)

    @property
    def result_code(self) -> int | None:
        """Result-Code, else the Experimental-Result-Code inside Experimental-Result; None in requests."""
        for name in ("Result-Code", "Experimental-Result-Code"):
            if self.avps.get(name):
                return int(self.avps[name][0])
        return None

    def avp(self, name: str) -> str | None:
        values = self.avps.get(name)
        return values[0] if values else None

    @property
    def label(self) -> str:
        """Short name for assertions and messages, e.g. "257R" (CER) or "257A" (CEA)."""
        return f"{self.command_code}{'R' if self.is_request else 'A'}"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _collect_avp_values(avp_trees: Any, into: dict[str, list[str]]) -> None:
    for avp in _as_list(avp_trees):
        for key, value in avp.items():
            name = key.removeprefix("diameter.")
            if name == "avp_tree":
                _collect_avp_values(value, into)
            elif name not in _AVP_STRUCTURE_KEYS and not name.endswith("_tree") and isinstance(value, str):
                into.setdefault(name, []).append(value)


def _pdus_of_frame(layers: dict[str, Any]) -> Iterator[DiameterPdu]:
    frame = int(layers["frame"]["frame.number"])
    tcp = layers.get("tcp", {})
    for layer in _as_list(layers.get("diameter")):
        if "diameter.cmd.code" not in layer:
            continue  # a reassembly fragment, not a message
        avps: dict[str, list[str]] = {}
        _collect_avp_values(layer.get("diameter.avp_tree"), avps)
        yield DiameterPdu(
            frame=frame,
            src_port=int(tcp.get("tcp.srcport", 0)),
            dst_port=int(tcp.get("tcp.dstport", 0)),
            command_code=int(layer["diameter.cmd.code"]),
            flags=int(layer["diameter.flags"], 16),
            application_id=int(layer["diameter.applicationId"]),
            hop_by_hop=int(layer["diameter.hopbyhopid"], 16),
            end_to_end=int(layer["diameter.endtoendid"], 16),
            avps=avps,
        )


def diameter_messages(pcap: Path, ports: Iterable[int]) -> list[DiameterPdu]:
    """Every Diameter message in the capture, in wire order (several per frame are all listed)."""
    output = _run_tshark(
        pcap, ports, ["-Y", "diameter", "-T", "json", "--no-duplicate-keys", "-J", "frame tcp diameter"]
    )
    packets = json.loads(output) if output.strip() else []
    return [pdu for packet in packets for pdu in _pdus_of_frame(packet["_source"]["layers"])]


class TsharkFactory:
    """Starts captures into one directory and stops every one of them in `close()`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[TsharkCapture] = []

    def __call__(self, ports: Iterable[int], name: str = "capture", transport: str = "tcp") -> TsharkCapture:
        capture = TsharkCapture(self.directory / f"{name}-{len(self.started)}.pcap", port_filter(ports, transport))
        self.started.append(capture)
        capture.start()
        return capture

    def close(self) -> None:
        for capture in self.started:
            capture.stop()
