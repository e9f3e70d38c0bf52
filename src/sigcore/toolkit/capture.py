"""`sigcore capture`: stream packets matching a BPF filter to a remote Wireshark as TZSP (Scratch'n'Sniff).

libpcap access is delegated to ``tcpdump -U --immediate-mode -w -`` run as a subprocess, and its pcap stream
is parsed here (see docs/toolkit.md for why): tcpdump is packaged everywhere, maintained, compiles the BPF
filter, and drops root privileges after opening the interface.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sigcore.toolkit import frames, pcap, tzsp

_SLL_HEADER = 16
_SLL2_HEADER = 20
_RAW_LINKTYPES = {pcap.LINKTYPE_RAW, 12, 14}


class CaptureError(RuntimeError):
    """The capture could not start or tcpdump failed; the message says why in words."""


@dataclass
class CaptureStats:
    packets: int = 0
    octets: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        """Packets per second since the start."""
        elapsed = time.monotonic() - self.started
        return self.packets / elapsed if elapsed > 0 else 0.0


def parse_destination(value: str, default_port: int = tzsp.TZSP_PORT) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``[V6]:PORT`` or bare ``V6`` into ``(host, port)``; CaptureError naming
    ``--dst`` for anything else (a bad port was a traceback, or "cannot resolve" for a port past 65535)."""
    host, port = value, str(default_port)
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise CaptureError(f"--dst: expected [IPV6]:PORT, got {value!r}")
        port = rest[1:] if rest else port
    elif value.count(":") == 1:
        host, port = value.split(":")
    if not host.strip():  # ' ' was looked up: "cannot resolve the collector  : ..."
        raise CaptureError(f"--dst: no collector host in {value!r}")
    if any(c.isspace() or not c.isprintable() for c in host):
        raise CaptureError(f"--dst: a host name has no spaces or control characters, got {value!r}")
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise CaptureError(f"--dst: the port must be 1-65535, got {port!r}")
    return host, int(port)


def exclusion_filter(user_filter: str, collector: tuple[str, int]) -> str:
    """The user's filter minus our own TZSP stream, which would otherwise be captured and resent forever, and
    minus the ICMP "unreachable" errors the collector's host answers it with while nothing listens there:
    each of those, captured and resent, drew another (about 30,000 a second on loopback)."""
    host, port = collector
    own = (f"(udp and dst host {host} and dst port {port})"
           f" or (icmp and icmp[icmptype] == icmp-unreach and src host {host})"
           f" or (icmp6 and ip6[40] == 1 and src host {host})")  # ICMPv6 type 1: destination unreachable
    if not user_filter.strip():
        return f"not ({own})"
    return f"({user_filter}) and not ({own})"


def tcpdump_command(interface: str, bpf: str, count: int | None = None) -> list[str]:
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        raise CaptureError("tcpdump not found: install it (Debian: apt install tcpdump)")
    command = [tcpdump, "-i", interface, "-n", "-U", "--immediate-mode", "-s", "0", "-w", "-"]
    if count is not None:
        command += ["-c", str(count)]
    return [*command, bpf]


def to_ethernet(linktype: int, data: bytes) -> bytes | None:
    """Re-frame a captured packet as Ethernet (TZSP encapsulation 1); None for link types we cannot map."""
    if linktype == pcap.LINKTYPE_ETHERNET:
        return data
    if linktype == pcap.LINKTYPE_LINUX_SLL and len(data) >= _SLL_HEADER:
        return frames.ethernet(data[_SLL_HEADER:], int.from_bytes(data[14:16], "big"))
    if linktype == pcap.LINKTYPE_LINUX_SLL2 and len(data) >= _SLL2_HEADER:
        return frames.ethernet(data[_SLL2_HEADER:], int.from_bytes(data[0:2], "big"))
    if linktype in _RAW_LINKTYPES and data:
        version = data[0] >> 4
        return frames.ethernet(data, frames.ETHERTYPE_IPV4 if version == 4 else frames.ETHERTYPE_IPV6)
    return None


def stream(interface: str, bpf: str, collector: tuple[str, int], count: int | None = None,
           on_listening: Callable[[str], None] | None = None,
           on_packet: Callable[[CaptureStats], None] | None = None) -> CaptureStats:
    """Capture on ``interface`` and send each packet to ``collector`` as TZSP until tcpdump ends.

    Raises :class:`CaptureError` with tcpdump's own words when it fails (bad filter, no permission), and
    when the collector's name does not resolve.
    KeyboardInterrupt propagates after tcpdump has been stopped, so Ctrl-C ends the capture cleanly.
    """
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(collector[0], collector[1], type=socket.SOCK_DGRAM)[0]
    except socket.gaierror as err:
        why = (err.strerror or str(err)).lower()
        raise CaptureError(f"cannot resolve the collector {collector[0]}: {why}") from None
    resolved = (str(sockaddr[0]), int(sockaddr[1]))
    command = tcpdump_command(interface, exclusion_filter(bpf, resolved), count)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    errors: list[str] = []
    watcher = threading.Thread(target=_watch_stderr, args=(process.stderr, errors, on_listening), daemon=True)
    watcher.start()
    stats = CaptureStats()
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sender:
            reader = pcap.PcapReader(process.stdout)
            for packet in reader:
                frame = to_ethernet(reader.linktype, packet.data)
                if frame is None:
                    stats.skipped += 1
                    continue
                sender.sendto(tzsp.encode(frame), sockaddr)
                stats.packets += 1
                stats.octets += len(frame)
                if on_packet is not None:
                    on_packet(stats)
    except ValueError as err:
        _stop(process, watcher)
        raise CaptureError("; ".join(errors) or str(err)) from None
    finally:
        _stop(process, watcher)
    if process.returncode not in (0, -2, -15):
        raise CaptureError("; ".join(errors) or f"tcpdump exited with {process.returncode}")
    return stats


def _watch_stderr(stderr: object, errors: list[str], on_listening: Callable[[str], None] | None) -> None:
    for raw in stderr:  # type: ignore[attr-defined]
        line = raw.decode(errors="replace").strip()
        if "listening on" in line:
            if on_listening is not None:
                on_listening(line)
        elif line and "packets" not in line:
            errors.append(line)


def _stop(process: subprocess.Popen[bytes], watcher: threading.Thread) -> None:
    """Terminate tcpdump (idempotent), let the stderr watcher drain, then close the pipes."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    watcher.join(timeout=2)
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
