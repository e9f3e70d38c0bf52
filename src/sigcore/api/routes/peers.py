"""``/api/v1/peers``: the Diameter peers of the running node and their state (read-only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from sigcore.api.auth import READ
from sigcore.api.context import ApiContext, context
from sigcore.api.errors import NOT_FOUND
from sigcore.api.schemas import PeerOut, RemoteCapabilities
from sigcore.store import NotFound

router = APIRouter(prefix="/peers", tags=["Diameter peers"])
Ctx = Annotated[ApiContext, Depends(context)]


def peer_out(peer: Any) -> PeerOut:
    remote = RemoteCapabilities.model_validate(peer.remote) if peer.remote else None
    return PeerOut(name=peer.name, state=peer.state.value, open=bool(peer.is_open), suspect=bool(peer.suspect),
                   applications=sorted(peer.applications), remote=remote)


def _peers(ctx: ApiContext) -> dict[str, Any]:
    return dict(getattr(ctx.node, "peers", {}) or {})


@router.get("", response_model=list[PeerOut], dependencies=[READ], summary="List Diameter peers")
async def list_peers(ctx: Ctx) -> list[PeerOut]:
    return [peer_out(p) for _, p in sorted(_peers(ctx).items())]


@router.get("/{name}", response_model=PeerOut, dependencies=[READ], responses=NOT_FOUND,
            summary="One Diameter peer")
async def get_peer(name: Annotated[str, Path(max_length=255)], ctx: Ctx) -> PeerOut:
    peer = _peers(ctx).get(name.lower())
    if peer is None:
        raise NotFound(f"no Diameter peer named {name!r}")
    return peer_out(peer)
