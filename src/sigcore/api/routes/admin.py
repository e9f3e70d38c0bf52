"""``/api/v1/tokens`` and ``/api/v1/audit``: token management and the audit log, for admin tokens only."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from sigcore.api.auth import ADMIN, audit_detail
from sigcore.api.context import ApiContext, context
from sigcore.api.errors import NOT_FOUND
from sigcore.api.schemas import Page, TokenCreate, TokenIssued
from sigcore.store.tokens import ApiToken, AuditEntry

router = APIRouter(tags=["administration"], dependencies=[ADMIN])
Ctx = Annotated[ApiContext, Depends(context)]


@router.get("/tokens", response_model=list[ApiToken], summary="List API tokens (never their secrets)")
async def list_tokens(ctx: Ctx, include_revoked: bool = False) -> list[ApiToken]:
    return await ctx.call(ctx.tokens.list, include_revoked)


@router.post("/tokens", status_code=201, response_model=TokenIssued, summary="Create an API token")
async def create_token(body: TokenCreate, ctx: Ctx, request: Request) -> TokenIssued:
    """The answer holds the token itself; it is shown this once (only its SHA-256 digest is stored)."""
    issued = await ctx.call(ctx.tokens.create, body.role, body.name)
    audit_detail(request, f"token #{issued.token.id} {issued.token.name} role {issued.token.role.value}")
    return TokenIssued(secret=issued.secret, token=issued.token)


@router.delete("/tokens/{token_id}", response_model=ApiToken, responses=NOT_FOUND, summary="Revoke an API token")
async def revoke_token(token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], ctx: Ctx, request: Request) -> ApiToken:
    audit_detail(request, f"token #{token_id}")
    return await ctx.call(ctx.tokens.revoke, token_id)


@router.get("/audit", response_model=Page[AuditEntry], summary="The audit log, newest first")
async def audit_log(
    ctx: Ctx,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    actor: Annotated[str | None, Query(max_length=120)] = None,
    since: dt.datetime | None = None,
) -> Page[AuditEntry]:
    entries, total = await ctx.call(ctx.tokens.audit_entries, offset, limit, actor, since)
    return Page[AuditEntry](items=entries, total=total, offset=offset, limit=limit)
