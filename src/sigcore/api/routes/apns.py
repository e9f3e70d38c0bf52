"""``/api/v1/apns``: APN profiles (QoS, APN-AMBR, PGW); a change reaches registered subscribers by IDR."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request, Response

from sigcore.api import notify
from sigcore.api.auth import PROVISION, READ, audit_detail, written_fields
from sigcore.api.context import ApiContext, context
from sigcore.api.errors import CONFLICT, NOT_FOUND
from sigcore.api.schemas import NULLABLE_APN_FIELDS, ApnCreate, ApnFields, ApnOut, Page

router = APIRouter(prefix="/apns", tags=["APN profiles"])
Ctx = Annotated[ApiContext, Depends(context)]
NamePath = Annotated[str, Path(pattern=r"^\S{1,100}$", description="APN name")]


def apn_changes(body: ApnFields) -> dict[str, object]:
    given = body.model_dump(exclude_unset=True, exclude={"name"}, mode="json")
    return {k: v for k, v in given.items() if v is not None or k in NULLABLE_APN_FIELDS}


@router.get("", response_model=Page[ApnOut], dependencies=[READ], summary="List APN profiles")
async def list_apns(
    ctx: Ctx,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    name_prefix: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[ApnOut]:
    prefix = (name_prefix or "").lower()  # APN names ignore case (TS 23.003 §9.1)
    profiles = [p for p in await ctx.call(ctx.store.list_apns) if p.name.lower().startswith(prefix)]
    page = profiles[offset:offset + limit]
    return Page[ApnOut](items=[ApnOut.model_validate(p) for p in page], total=len(profiles), offset=offset, limit=limit)


@router.post("", status_code=201, response_model=ApnOut, dependencies=[PROVISION], responses=CONFLICT,
             summary="Create an APN profile")
async def create_apn(body: ApnCreate, ctx: Ctx, request: Request) -> ApnOut:
    """Fields left out take the defaults: QCI 9, ARP 8, no pre-emption capability, pre-emptable, IPv4."""
    changes = apn_changes(body)
    audit_detail(request, f"apn {body.name}; {written_fields(changes)}")
    return ApnOut.model_validate(await ctx.call(ctx.store.add_apn, body.name, **changes))


@router.get("/{name}", response_model=ApnOut, dependencies=[READ], responses=NOT_FOUND, summary="Read an APN profile")
async def get_apn(name: NamePath, ctx: Ctx) -> ApnOut:
    return ApnOut.model_validate(await ctx.call(ctx.store.get_apn, name))


@router.patch("/{name}", response_model=ApnOut, dependencies=[PROVISION], responses=NOT_FOUND,
              summary="Update an APN profile")
async def update_apn(name: NamePath, body: ApnFields, ctx: Ctx, request: Request,
                     background: BackgroundTasks) -> ApnOut:
    """Subscribers listing this APN and registered at an MME get an IDR with the new APN-Configuration."""
    changes = apn_changes(body)
    audit_detail(request, written_fields(changes))
    before = await ctx.call(ctx.store.get_apn, name)
    after = await ctx.call(ctx.store.update_apn, name, **changes)
    if after != before:
        background.add_task(notify.apn_profile_updated, ctx, after.name)  # as stored: `name` may differ in case
    return ApnOut.model_validate(after)


@router.delete("/{name}", status_code=204, response_class=Response, dependencies=[PROVISION],
               responses={**NOT_FOUND, **CONFLICT}, summary="Delete an unused APN profile")
async def delete_apn(name: NamePath, ctx: Ctx) -> Response:
    """409 while any subscriber still lists the profile."""
    await ctx.call(ctx.store.delete_apn, name)
    return Response(status_code=204)
