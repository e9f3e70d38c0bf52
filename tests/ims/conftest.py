"""IMS tests reuse the interop fixtures (tshark capture)."""

from interop.conftest import tshark_capture  # noqa: F401  (fixture)
