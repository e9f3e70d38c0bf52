"""Fixtures for the DRA tests: `sigcore run` processes (`nodes`) and the interop harness's freeDiameterd and
tshark factories."""

from interop.conftest import freediameterd, tshark_capture

from .nodes import nodes

__all__ = ["freediameterd", "nodes", "tshark_capture"]
