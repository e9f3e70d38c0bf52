"""Diameter peers, live request rates by command, and the audit log; JSON feeds for the pages' scripts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from sigcore.console.sessions import Session
from sigcore.console.web import api, checked, headers, render, session

router = APIRouter()
Current = Annotated[Session, Depends(session)]
AUDIT_PAGE = 50


async def peer_rows(request: Request, current: Session) -> list[dict[str, Any]]:
    """Every peer the node knows, with the counters the metrics hold for it."""
    client = api(request, current)
    peers = checked(request, await client.get("/peers"))
    stats = await client.get("/stats/diameter")
    counters = {p["name"]: p for p in (stats.body or {}).get("peers", [])} if stats.ok else {}
    rows = []
    for peer in peers.body if peers.ok else []:
        remote = peer.get("remote") or {}
        counts = counters.get(peer["name"], {})
        rows.append({"name": peer["name"], "state": peer["state"], "open": peer["open"], "suspect": peer["suspect"],
                     "applications": peer["applications"], "product": remote.get("product_name"),
                     "origin_realm": remote.get("origin_realm"), "transitions": counts.get("transitions", 0),
                     "opened": counts.get("connections_opened", 0), "lost": counts.get("connections_lost", 0)})
    return rows


@router.get("/peers")
async def peers(request: Request, current: Current) -> Response:
    return render(request, "peers.html", current, peers=await peer_rows(request, current))


@router.get("/traffic")
async def traffic(request: Request, current: Current) -> Response:
    stats = checked(request, await api(request, current).get("/stats/diameter"))
    return render(request, "traffic.html", current, stats=stats.body if stats.ok else None)


@router.get("/audit")
async def audit(request: Request, current: Current) -> Response:
    page = request.query_params.get("page", "0")
    number = int(page) if page.isdigit() and len(page) < 7 else 0
    actor = request.query_params.get("actor", "").strip() or None
    answer = checked(request, await api(request, current).get("/audit", offset=number * AUDIT_PAGE, limit=AUDIT_PAGE,
                                                              actor=actor))
    return render(request, "audit.html", current, answer.status if not answer.ok else 200,
                  entries=answer.body["items"] if answer.ok else [], total=answer.body.get("total", 0) if answer.ok
                  else 0, refusal=None if answer.ok else answer.message(), page=number, actor=actor or "",
                  page_size=AUDIT_PAGE)


@router.get("/data/peers")
async def peers_data(request: Request, current: Current) -> Response:
    return JSONResponse({"peers": await peer_rows(request, current)}, headers=headers())


@router.get("/data/stats")
async def stats_data(request: Request, current: Current) -> Response:
    answer = checked(request, await api(request, current).get("/stats/diameter"))
    return JSONResponse(answer.body, status_code=answer.status, headers=headers())
