"""CGrateS's error strings, as the JSON-RPC ``error`` member carries them."""

from __future__ import annotations


class RpcError(Exception):
    """Answered as ``{"result": null, "error": str(self)}``."""


def mandatory_missing(*fields: str) -> RpcError:
    """Go's ``%v`` of a string slice: ``MANDATORY_IE_MISSING: [Tenant Account]``."""
    return RpcError(f"MANDATORY_IE_MISSING: [{' '.join(fields)}]")


NOT_FOUND = "NOT_FOUND"
EXISTS = "EXISTS"
PARTIALLY_EXECUTED = "PARTIALLY_EXECUTED"
SERVER_NOT_FOUND = "SERVER_ERROR: NOT_FOUND"
