"""``/api/v1/subscribers/{imsi}/auth``: authentication data without the keys; rotate, reset SQN, resync."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from sigcore.api.auth import PROVISION, READ, audit_detail, written_fields
from sigcore.api.context import ApiContext, context
from sigcore.api.errors import NOT_FOUND, UNAVAILABLE
from sigcore.api.schemas import AuthInfo, AuthUpdate, Resync, SqnReset
from sigcore.hss.auc import derive_opc, resync
from sigcore.store import AuthMaterial

router = APIRouter(prefix="/subscribers/{imsi}/auth", tags=["authentication data"])
Ctx = Annotated[ApiContext, Depends(context)]
ImsiPath = Annotated[str, Path(pattern=r"^[0-9]{6,15}$", description="IMSI, 6-15 digits")]
RESPONSES = {**NOT_FOUND, **UNAVAILABLE}


def _info(material: AuthMaterial) -> AuthInfo:
    return AuthInfo(imsi=material.imsi, algorithm=material.algorithm.value, amf=f"{material.amf:04X}",
                    sqn=material.sqn, key_type="opc" if material.opc is not None else "op")


async def _current(ctx: ApiContext, imsi: str) -> AuthInfo:
    return _info(await ctx.call(ctx.store.get_auth_material, imsi))


@router.get("", response_model=AuthInfo, dependencies=[READ], responses=RESPONSES,
            summary="Algorithm, AMF and SQN (never the keys)")
async def get_auth(imsi: ImsiPath, ctx: Ctx) -> AuthInfo:
    return await _current(ctx, imsi)


@router.patch("", response_model=AuthInfo, dependencies=[PROVISION], responses=RESPONSES,
              summary="Rotate keys or change the AMF")
async def rotate_keys(imsi: ImsiPath, body: AuthUpdate, ctx: Ctx, request: Request) -> AuthInfo:
    """Give `ki`, `opc` or `op` (not both of these two; one clears the other) and/or `amf`."""
    given = body.model_dump(exclude_none=True)
    audit_detail(request, written_fields(given))
    amf = int(body.amf, 16) if body.amf is not None else None
    await ctx.call(ctx.store.set_auth, imsi, ki=body.ki, opc=body.opc, op=body.op, amf=amf)
    return await _current(ctx, imsi)


@router.post("/sqn", response_model=AuthInfo, dependencies=[PROVISION], responses=RESPONSES,
             summary="Reset the stored SQN")
async def reset_sqn(imsi: ImsiPath, body: SqnReset, ctx: Ctx, request: Request) -> AuthInfo:
    audit_detail(request, f"sqn {body.sqn}")
    await ctx.call(ctx.store.set_sqn, imsi, body.sqn)
    return await _current(ctx, imsi)


@router.post("/resync", response_model=AuthInfo, dependencies=[PROVISION], responses=RESPONSES,
             summary="Resynchronise the SQN from a USIM's RAND and AUTS")
async def resync_sqn(imsi: ImsiPath, body: Resync, ctx: Ctx, request: Request) -> AuthInfo:
    """Verify MAC-S of AUTS (422 if wrong: nothing changes) and store the SQN the next vector needs."""
    material = await ctx.call(ctx.store.get_auth_material, imsi)
    opc = material.opc if material.opc is not None else derive_opc(material.ki, material.op or b"")
    new_sqn = resync(material.ki, opc, bytes.fromhex(body.rand), bytes.fromhex(body.auts), material.sqn,
                     ind_bits=ctx.ind_bits)
    audit_detail(request, f"sqn {material.sqn} -> {new_sqn}")
    if new_sqn != material.sqn:
        await ctx.call(ctx.store.set_sqn, imsi, new_sqn)
    return await _current(ctx, imsi)
