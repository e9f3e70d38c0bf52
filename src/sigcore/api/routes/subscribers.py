"""``/api/v1/subscribers``: create, read (by IMSI or MSISDN), list, update, delete; serving state."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request, Response

from sigcore.api import notify
from sigcore.api.auth import PROVISION, READ, audit_detail, written_fields
from sigcore.api.context import ApiContext, context
from sigcore.api.errors import CONFLICT, NOT_FOUND, UNAVAILABLE
from sigcore.api.schemas import (
    NULLABLE_PROFILE_FIELDS,
    ApnRequestIn,
    Page,
    ServingOut,
    SubscriberCreate,
    SubscriberCreated,
    SubscriberOut,
    SubscriberPatch,
)
from sigcore.store import ApnRequest, SubscriberFilter

router = APIRouter(prefix="/subscribers", tags=["subscribers"])
Ctx = Annotated[ApiContext, Depends(context)]
ImsiPath = Annotated[str, Path(pattern=r"^[0-9]{6,15}$", description="IMSI, 6-15 digits")]


def apn_requests(apns: list[str | ApnRequestIn]) -> list[str | ApnRequest]:
    return [a if isinstance(a, str) else ApnRequest(a.name, a.static_ipv4, a.static_ipv6) for a in apns]


def profile_changes(body: SubscriberPatch | SubscriberCreate, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fields the client set; null clears nullable fields and leaves the others unchanged."""
    given = body.model_dump(exclude_unset=True, exclude=set(exclude) | {"apns"}, mode="json")
    changes = {k: v for k, v in given.items() if v is not None or k in NULLABLE_PROFILE_FIELDS}
    if body.apns is not None:
        changes["apns"] = apn_requests(body.apns)
    return changes


@router.post("", status_code=201, response_model=SubscriberCreated, dependencies=[PROVISION],
             responses={**CONFLICT, **UNAVAILABLE}, summary="Provision a subscriber")
async def create_subscriber(body: SubscriberCreate, ctx: Ctx, request: Request) -> SubscriberCreated:
    """Create a subscriber with its keys (write-only) and APNs; APN names without a profile get the default one."""
    profile = profile_changes(body, exclude=frozenset({"ki", "opc", "op", "amf", "sqn", "imsi"}))
    audit_detail(request, f"imsi {body.imsi}; {written_fields(body.model_dump(exclude_unset=True))}")
    added = await ctx.call(
        ctx.store.add_subscriber, body.imsi, ki=body.ki, opc=body.opc, op=body.op, amf=int(body.amf, 16),
        sqn=body.sqn, **profile,
    )
    out = SubscriberOut.model_validate(added.subscriber).model_dump()
    return SubscriberCreated(**out, created_apns=list(added.created_apns))


@router.get("", response_model=Page[SubscriberOut], dependencies=[READ], summary="List subscribers")
async def list_subscribers(
    ctx: Ctx,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    imsi_prefix: Annotated[str | None, Query(pattern=r"^[0-9]{1,15}$")] = None,
    msisdn_prefix: Annotated[str | None, Query(pattern=r"^[0-9]{1,15}$")] = None,
    enabled: bool | None = None,
    apn: Annotated[str | None, Query(max_length=100)] = None,
    order: Annotated[Literal["imsi", "msisdn"], Query(description="sort key (msisdn: only those with one)")] = "imsi",
    after: Annotated[str | None, Query(pattern=r"^[0-9]{1,15}$",
                                       description="keyset paging: the `next_after` of the previous page")] = None,
    with_total: Annotated[bool, Query(description="false: skip counting the matches (total is -1)")] = True,
) -> Page[SubscriberOut]:
    """A page of subscribers ordered by IMSI (or MSISDN), filtered by IMSI/MSISDN prefix, enabled flag or APN.

    For deep paging pass the previous page's `next_after` as `after` (and keep `offset` 0): it costs the same
    on any page, where a large `offset` walks every row before it."""
    filters = SubscriberFilter(imsi_prefix, msisdn_prefix, enabled, apn)
    items = await ctx.call(ctx.store.list_subscribers, offset, limit, filters, after=after, order=order)
    total = await ctx.call(ctx.store.count_subscribers, filters) if with_total else -1
    page = [SubscriberOut.model_validate(s) for s in items]
    next_after = getattr(items[-1], order) if len(items) == limit else None
    return Page[SubscriberOut](items=page, total=total, offset=offset, limit=limit, next_after=next_after)


@router.get("/by-msisdn/{msisdn}", response_model=SubscriberOut, dependencies=[READ], responses=NOT_FOUND,
            summary="Find a subscriber by MSISDN")
async def get_by_msisdn(msisdn: Annotated[str, Path(pattern=r"^[0-9]{1,15}$")], ctx: Ctx) -> SubscriberOut:
    return SubscriberOut.model_validate(await ctx.call(ctx.store.get_subscriber_by_msisdn, msisdn))


@router.get("/{imsi}", response_model=SubscriberOut, dependencies=[READ], responses=NOT_FOUND,
            summary="Read a subscriber")
async def get_subscriber(imsi: ImsiPath, ctx: Ctx) -> SubscriberOut:
    return SubscriberOut.model_validate(await ctx.call(ctx.store.get_subscriber, imsi))


@router.patch("/{imsi}", response_model=SubscriberOut, dependencies=[PROVISION],
              responses={**NOT_FOUND, **CONFLICT}, summary="Update a subscriber's profile")
async def update_subscriber(imsi: ImsiPath, body: SubscriberPatch, ctx: Ctx, request: Request,
                            background: BackgroundTasks) -> SubscriberOut:
    """Change profile fields; `apns` replaces the list. The serving MME gets an IDR, or a CLR on disabling."""
    changes = profile_changes(body)
    audit_detail(request, written_fields(changes))
    before = await ctx.call(ctx.store.get_subscriber, imsi)
    after = await ctx.call(ctx.store.update_subscriber, imsi, **changes) if changes else before
    background.add_task(notify.profile_updated, ctx, before, after)
    return SubscriberOut.model_validate(after)


@router.delete("/{imsi}", status_code=204, response_class=Response, dependencies=[PROVISION],
               responses=NOT_FOUND, summary="Delete a subscriber")
async def delete_subscriber(imsi: ImsiPath, ctx: Ctx) -> Response:
    """Withdraw the subscription from the serving MME (CLR), then delete every row of the subscriber."""
    await ctx.call(ctx.store.get_subscriber, imsi)  # 404 before anything is sent to the network
    await notify.cancel_location(ctx, imsi)
    await ctx.call(ctx.store.delete_subscriber, imsi)
    return Response(status_code=204)


@router.get("/{imsi}/serving", response_model=ServingOut, dependencies=[READ], responses=NOT_FOUND,
            summary="Where the subscriber is registered (read-only)")
async def get_serving(imsi: ImsiPath, ctx: Ctx) -> ServingOut:
    serving = await ctx.call(ctx.store.get_serving, imsi)
    return ServingOut(imsi=imsi, mme=serving.mme, sgsn=serving.sgsn)

