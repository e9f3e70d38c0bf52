"""Node fixtures for the stack's TCP tests (helpers live in nodefixtures.py)."""

from nodefixtures import server  # noqa: F401
