"""``/api/v1/ims``: private identities (IMPI), public identities (IMPU, PSI) and service profiles.

Changes reach the S-CSCFs through the IMS HSS (``services.cx``): a changed public identity or profile
is pushed (PPR) after the answer is sent; an administrative deregistration is an RTR, also sent after
the answer (202). Deleting an IMPI sends its RTRs first and then deletes, because the RTR is built from
the stored identities (as deleting a subscriber sends its CLR first).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, HTTPException, Path, Query, Request, Response

from sigcore.api import ims_notify
from sigcore.api.auth import PROVISION, READ, audit_detail, written_fields
from sigcore.api.context import ApiContext, context
from sigcore.api.errors import CONFLICT, NOT_FOUND
from sigcore.api.ims_schemas import (
    KIND_CODES,
    NULLABLE_IMPU_FIELDS,
    PATH_URI_PATTERN,
    PROFILE_LISTS,
    PROFILE_NAME_PATTERN,
    AuthMethod,
    DeregisterAccepted,
    DeregisterIn,
    PrivateIdentityCreate,
    PrivateIdentityOut,
    PublicIdentityCreate,
    PublicIdentityOut,
    PublicIdentityPatch,
    ServiceProfileCreate,
    ServiceProfileFields,
    ServiceProfileOut,
)
from sigcore.api.schemas import ErrorOut, Page
from sigcore.store.errors import Conflict
from sigcore.store.ims import PrivateIdentity, RegState
from sigcore.store.ims_admin import ImsAdmin, ProfileParts

router = APIRouter(prefix="/ims", tags=["IMS"])
Ctx = Annotated[ApiContext, Depends(context)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Prefix = Annotated[str | None, Query(min_length=1, max_length=255, pattern=r"^[!-~]+$")]
ImpiPath = Annotated[str, Path(pattern=PATH_URI_PATTERN, description="private identity, e.g. alice@ims.example.org")]
ImpuPath = Annotated[str, Path(pattern=PATH_URI_PATTERN, description="public identity (URL-encoded)")]
ProfilePath = Annotated[str, Path(pattern=PROFILE_NAME_PATTERN, description="service profile name")]
NO_CX: dict[int | str, dict[str, Any]] = {503: {"model": ErrorOut, "description": "the IMS HSS (Cx) is not running"}}


def ims(ctx: Ctx) -> ImsAdmin:
    return ImsAdmin(ctx.store)


Ims = Annotated[ImsAdmin, Depends(ims)]


async def _push_later(ctx: ApiContext, background: BackgroundTasks, served_impis: list[str]) -> None:
    """PPRs for these IMPIs once the answer is sent (none if nobody affected is at an S-CSCF)."""
    if served_impis:
        background.add_task(ims_notify.push_profiles, ctx, served_impis)


# --- private identities ------------------------------------------------------------------------------


def _methods(impi: PrivateIdentity) -> list[AuthMethod]:
    """Which authentication the IMPI can do; says that an HA1 exists, never what it is."""
    methods: list[AuthMethod] = ["digest"] if impi.digest_ha1 else []
    return methods + (["aka"] if impi.imsi else [])


async def _private_out(ctx: ApiContext, store: ImsAdmin, found: list[PrivateIdentity]) -> list[PrivateIdentityOut]:
    uris = await ctx.call(store.public_uris_of, [p.id for p in found])
    return [PrivateIdentityOut(impi=p.impi, imsi=p.imsi, digest_realm=p.digest_realm, authentication=_methods(p),
                               roaming_allowed=p.roaming_allowed, public_identities=uris[p.id]) for p in found]


@router.get("/private-identities", response_model=Page[PrivateIdentityOut], dependencies=[READ],
            summary="List private identities (IMPI)")
async def list_private_identities(ctx: Ctx, store: Ims, offset: Offset = 0, limit: Limit = 100,
                                  impi_prefix: Prefix = None,
                                  imsi: Annotated[str | None, Query(pattern=r"^[0-9]{6,15}$")] = None,
                                  ) -> Page[PrivateIdentityOut]:
    found, total = await ctx.call(store.page_impis, offset, limit, prefix=impi_prefix, imsi=imsi)
    return Page[PrivateIdentityOut](items=await _private_out(ctx, store, found), total=total, offset=offset,
                                    limit=limit)


@router.post("/private-identities", status_code=201, response_model=PrivateIdentityOut, dependencies=[PROVISION],
             responses=CONFLICT, summary="Create a private identity with its public identities")
async def create_private_identity(body: PrivateIdentityCreate, ctx: Ctx, store: Ims,
                                  request: Request) -> PrivateIdentityOut:
    """The password is stored as HA1 = MD5(impi:realm:password) only and never shown again."""
    audit_detail(request, f"impi {body.impi}; {written_fields(body.model_dump(exclude_unset=True))}")
    created = await ctx.call(
        store.add_private_identity, body.impi, body.public_identities, imsi=body.imsi,
        profile=body.service_profile, password=body.password, realm=body.realm, scscf=body.preferred_scscf,
        barred=body.barred, roaming_allowed=body.roaming_allowed)
    return (await _private_out(ctx, store, [created]))[0]


@router.get("/private-identities/{impi}", response_model=PrivateIdentityOut, dependencies=[READ],
            responses=NOT_FOUND, summary="Read a private identity (never its password or HA1)")
async def get_private_identity(impi: ImpiPath, ctx: Ctx, store: Ims) -> PrivateIdentityOut:
    return (await _private_out(ctx, store, [await ctx.call(store.get_impi, impi)]))[0]


@router.delete("/private-identities/{impi}", status_code=204, response_class=Response, dependencies=[PROVISION],
               responses=NOT_FOUND, summary="Delete a private identity and its unshared public identities")
async def delete_private_identity(impi: ImpiPath, ctx: Ctx, store: Ims) -> Response:
    """S-CSCFs serving its identities get an RTR (permanent termination) first, then everything is deleted."""
    found = await ctx.call(store.get_impi, impi)  # 404 before anything is sent to the network
    if any(i.scscf_host for i in await ctx.call(store.impus_of, found)):
        await ims_notify.deregister(ctx, [impi], DeregisterIn().reason_code, "subscription deleted")
    await ctx.call(store.delete_user, impi)
    return Response(status_code=204)


# --- public identities -------------------------------------------------------------------------------


@router.get("/public-identities", response_model=Page[PublicIdentityOut], dependencies=[READ],
            summary="List public identities (IMPU and PSI)")
async def list_public_identities(
    ctx: Ctx, store: Ims, offset: Offset = 0, limit: Limit = 100, impu_prefix: Prefix = None,
    impi: Annotated[str | None, Query(pattern=PATH_URI_PATTERN)] = None, reg_state: RegState | None = None,
    service_profile: Annotated[str | None, Query(pattern=PROFILE_NAME_PATTERN)] = None, barred: bool | None = None,
) -> Page[PublicIdentityOut]:
    """Ordered by URI; filters: URI prefix, an IMPI they belong to, registration state, profile, barring."""
    found, total = await ctx.call(store.page_impus, offset, limit, prefix=impu_prefix, impi=impi,
                                  reg_state=reg_state, profile=service_profile, barred=barred)
    views = await ctx.call(store.views, found)
    return Page[PublicIdentityOut](items=[PublicIdentityOut.of(v) for v in views], total=total, offset=offset,
                                   limit=limit)


@router.post("/public-identities", status_code=201, response_model=PublicIdentityOut, dependencies=[PROVISION],
             responses=CONFLICT, summary="Create a public identity of existing IMPIs, or a PSI")
async def create_public_identity(body: PublicIdentityCreate, ctx: Ctx, store: Ims,
                                 request: Request) -> PublicIdentityOut:
    audit_detail(request, f"impu {body.impu}; {written_fields(body.model_dump(exclude_unset=True))}")
    view = await ctx.call(
        store.add_public_identity, body.impu, private_identities=body.private_identities,
        kind=KIND_CODES[body.kind], wildcard=body.wildcard, profile=body.service_profile or "default",
        implicit_set_with=body.implicit_set_with, display_name=body.display_name, barred=bool(body.barred),
        preferred_scscf=body.preferred_scscf)
    return PublicIdentityOut.of(view)


@router.get("/public-identities/{impu}", response_model=PublicIdentityOut, dependencies=[READ],
            responses=NOT_FOUND, summary="Read a public identity with its registration state")
async def get_public_identity(impu: ImpuPath, ctx: Ctx, store: Ims) -> PublicIdentityOut:
    return PublicIdentityOut.of(await ctx.call(store.view, impu))


@router.patch("/public-identities/{impu}", response_model=PublicIdentityOut, dependencies=[PROVISION],
              responses={**NOT_FOUND, **CONFLICT}, summary="Change a public identity (barring, profile, set…)")
async def update_public_identity(impu: ImpuPath, body: PublicIdentityPatch, ctx: Ctx, store: Ims, request: Request,
                                 background: BackgroundTasks) -> PublicIdentityOut:
    """A registered identity's S-CSCF gets a PPR with the new User-Data (barring, profile) after the answer."""
    given = body.model_dump(exclude_unset=True)
    changes = {k: v for k, v in given.items() if v is not None or k in NULLABLE_IMPU_FIELDS}
    audit_detail(request, written_fields(changes))
    before = await ctx.call(store.view, impu)
    after = await ctx.call(store.update_public_identity, impu, changes)
    if after != before:
        await _push_later(ctx, background, await ctx.call(store.served_impis, impu=after.identity))
    return PublicIdentityOut.of(after)


@router.delete("/public-identities/{impu}", status_code=204, response_class=Response, dependencies=[PROVISION],
               responses={**NOT_FOUND, **CONFLICT}, summary="Delete an unregistered public identity")
async def delete_public_identity(impu: ImpuPath, ctx: Ctx, store: Ims) -> Response:
    """409 while it is registered (deregister it first) or when it is an IMPI's last one (delete the IMPI)."""
    await ctx.call(store.delete_public_identity, impu)
    return Response(status_code=204)


@router.post("/public-identities/{impu}/deregister", status_code=202, response_model=DeregisterAccepted,
             dependencies=[PROVISION], responses={**NOT_FOUND, **CONFLICT, **NO_CX},
             summary="Administrative deregistration (RTR to the serving S-CSCF)")
async def deregister_public_identity(impu: ImpuPath, ctx: Ctx, store: Ims, request: Request,
                                     background: BackgroundTasks,
                                     body: Annotated[DeregisterIn | None, Body()] = None) -> DeregisterAccepted:
    """The RTR is sent after the answer, per IMPI, and names every identity the IMPI has at that S-CSCF."""
    order = body or DeregisterIn()
    audit_detail(request, f"reason {order.reason}")
    view = await ctx.call(store.view, impu)
    if view.identity.reg_state == RegState.NOT_REGISTERED or not view.identity.scscf_host:
        raise Conflict(f"{impu} is not registered at an S-CSCF")
    if ims_notify.cx_of(ctx) is None:
        raise HTTPException(503, "the IMS HSS (Cx) is not running in this process")
    impis = list(view.private_identities)
    background.add_task(ims_notify.deregister, ctx, impis, order.reason_code, order.info)
    return DeregisterAccepted(impu=impu, private_identities=impis, scscf_host=view.identity.scscf_host)


# --- service profiles --------------------------------------------------------------------------------


def _profile_changes(body: ServiceProfileFields) -> tuple[dict[str, Any], ProfileParts]:
    given = body.model_dump(exclude_unset=True, exclude={"name"})
    columns = {k: v for k, v in given.items() if k not in PROFILE_LISTS}
    ifcs = [i.to_ifc() for i in body.ifcs] if body.ifcs is not None else None
    parts = ProfileParts(ifcs, given.get("shared_ifc_sets"), given.get("mandatory_capabilities"),
                         given.get("optional_capabilities"))
    return columns, parts


@router.get("/service-profiles", response_model=Page[ServiceProfileOut], dependencies=[READ],
            summary="List IMS service profiles")
async def list_service_profiles(ctx: Ctx, store: Ims, offset: Offset = 0, limit: Limit = 100,
                                name_prefix: Annotated[str | None, Query(max_length=100, pattern=r"^[!-~]+$")] = None,
                                ) -> Page[ServiceProfileOut]:
    found, total = await ctx.call(store.page_profiles, offset, limit, name_prefix)
    return Page[ServiceProfileOut](items=[ServiceProfileOut.of(p) for p in found], total=total, offset=offset,
                                   limit=limit)


@router.post("/service-profiles", status_code=201, response_model=ServiceProfileOut, dependencies=[PROVISION],
             responses=CONFLICT, summary="Create an IMS service profile with its iFCs")
async def create_service_profile(body: ServiceProfileCreate, ctx: Ctx, store: Ims,
                                 request: Request) -> ServiceProfileOut:
    columns, parts = _profile_changes(body)
    audit_detail(request, f"profile {body.name}; {written_fields(body.model_dump(exclude_unset=True))}")
    return ServiceProfileOut.of(await ctx.call(store.create_profile, body.name, columns, parts))


@router.get("/service-profiles/{name}", response_model=ServiceProfileOut, dependencies=[READ],
            responses=NOT_FOUND, summary="Read an IMS service profile")
async def get_service_profile(name: ProfilePath, ctx: Ctx, store: Ims) -> ServiceProfileOut:
    return ServiceProfileOut.of(await ctx.call(store.profile_named, name))


@router.patch("/service-profiles/{name}", response_model=ServiceProfileOut, dependencies=[PROVISION],
              responses=NOT_FOUND, summary="Change an IMS service profile")
async def update_service_profile(name: ProfilePath, body: ServiceProfileFields, ctx: Ctx, store: Ims,
                                 request: Request, background: BackgroundTasks) -> ServiceProfileOut:
    """A list given (`ifcs`, …) replaces the stored one; null clears a column. Registered users get a PPR."""
    columns, parts = _profile_changes(body)
    audit_detail(request, written_fields(body.model_dump(exclude_unset=True)))
    before = await ctx.call(store.profile_named, name)
    after = await ctx.call(store.change_profile, name, columns, parts)
    if after != before:
        await _push_later(ctx, background, await ctx.call(store.served_impis, profile_id=after.id))
    return ServiceProfileOut.of(after)


@router.delete("/service-profiles/{name}", status_code=204, response_class=Response, dependencies=[PROVISION],
               responses={**NOT_FOUND, **CONFLICT}, summary="Delete an unused IMS service profile")
async def delete_service_profile(name: ProfilePath, ctx: Ctx, store: Ims) -> Response:
    """409 while a public identity uses it."""
    await ctx.call(store.delete_profile, name)
    return Response(status_code=204)
