"""Fixtures that start real outside programs (freeDiameterd, tshark) and always stop them.

Each fixture is a factory: call it to start one more program; everything it started is stopped at
teardown, whether the test passed or failed. Missing programs skip the test with the Debian package
to install, rather than fail with a FileNotFoundError.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from . import freediameter, tshark
from .freediameter import FreeDiameterFactory
from .tshark import TsharkFactory


@pytest.fixture
def freediameterd(tmp_path: Path) -> Iterator[FreeDiameterFactory]:
    """`freediameterd(FreeDiameterConfig(identity=...))` starts a freeDiameterd and returns it."""
    if not freediameter.is_installed():
        pytest.skip("freeDiameterd not installed (apt-get install freediameterd freediameter-extensions)")
    factory = FreeDiameterFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def tshark_capture(tmp_path: Path) -> Iterator[TsharkFactory]:
    """`tshark_capture([port, ...])` starts capturing those TCP ports on lo and returns the capture.

    Request this fixture BEFORE the programs it records, so pytest tears it down after them: their
    closing DPR/DPA is then in the pcap.
    """
    if not tshark.is_installed():
        pytest.skip("tshark not installed (apt-get install tshark)")
    factory = TsharkFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()
