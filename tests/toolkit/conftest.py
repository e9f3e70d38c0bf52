"""Shared fixtures for the toolkit tests: tshark as the independent decoder of what we produce."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from sigcore.toolkit import pcap

Dissector = Callable[..., list[dict[str, str]]]


def write_pcap(path: Path, frames: Iterable[bytes]) -> Path:
    with path.open("wb") as stream:
        writer = pcap.PcapWriter(stream)
        for index, frame in enumerate(frames):
            writer.write(frame, timestamp=1_700_000_000 + index / 1000)
    return path


def _decode_as_args(decode_as: Iterable[str]) -> list[str]:
    return [arg for rule in decode_as for arg in ("-d", rule)]


@pytest.fixture
def tshark() -> Dissector:
    """``tshark(pcap, fields, decode_as=(), display_filter=None)``: one dict per packet, field -> text.

    Repeated fields (e.g. the outer and the TZSP-inner ``udp.dstport``) come back comma-separated.
    """
    binary = shutil.which("tshark")
    if binary is None:
        pytest.skip("tshark is not installed (Debian package tshark)")

    def dissect(path: Path, fields: list[str], decode_as: Iterable[str] = (),
                display_filter: str | None = None) -> list[dict[str, str]]:
        command = [binary, "-n", "-r", str(path), *_decode_as_args(decode_as), "-T", "fields",
                   "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
        if display_filter:
            command += ["-Y", display_filter]
        for name in fields:
            command += ["-e", name]
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout
        return [dict(zip(fields, line.split("\t"), strict=True)) for line in out.splitlines()]

    return dissect


@pytest.fixture
def tshark_problems(tshark: Dissector) -> Callable[..., list[dict[str, str]]]:
    """Malformed packets and expert warnings or worse: what must be empty for a clean trace."""

    def problems(path: Path, decode_as: Iterable[str] = ()) -> list[dict[str, str]]:
        return tshark(path, ["frame.number", "_ws.col.Protocol", "_ws.expert.message"], decode_as,
                      display_filter="_ws.malformed || _ws.expert.severity >= warning")

    return problems
