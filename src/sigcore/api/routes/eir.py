"""``/api/v1/eir``: equipment rules (IMEI, IMEI prefix/TAC, optionally bound to an IMSI) and the history of
ME identity checks (read-only). Which rule wins a check is `sigcore.hss.s13.eir`'s business (docs/slh-s13.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sigcore.api.auth import PROVISION, READ, audit_detail, written_fields
from sigcore.api.context import ApiContext, context
from sigcore.api.errors import CONFLICT, NOT_FOUND
from sigcore.api.schemas import Imsi, Page
from sigcore.hss.s13.eir import InvalidImei, normalise_imei
from sigcore.store.eir import EirCheck, EirRule, EquipmentStatus
from sigcore.store.eir_admin import EirAdmin
from sigcore.store.errors import InvalidValue

router = APIRouter(prefix="/eir", tags=["EIR"])
Ctx = Annotated[ApiContext, Depends(context)]
RuleId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Comment = Annotated[str, Field(max_length=255, pattern=r"^[^\x00-\x1f\x7f]*$")]
ImeiText = Annotated[str, Field(pattern=r"^[0-9]{14,15}$", description="14 digits, or 15 with the check digit")]


class EirRuleCreate(BaseModel):
    """A rule for one IMEI (`imei`) or every IMEI starting with `prefix` (e.g. the 8-digit TAC)."""

    model_config = ConfigDict(extra="forbid")
    status: EquipmentStatus
    imei: ImeiText | None = None
    prefix: Annotated[str, Field(pattern=r"^[0-9]{1,14}$")] | None = None
    imsi: Imsi | None = Field(None, description="the rule applies only when this IMSI uses the device")
    comment: Comment | None = None

    @model_validator(mode="after")
    def _one_pattern(self) -> EirRuleCreate:
        if (self.imei is None) == (self.prefix is None):
            raise ValueError("give exactly one of imei and prefix")
        return self


class EirRulePatch(BaseModel):
    """Change the status or the comment (null clears it); the pattern and IMSI binding are the rule."""

    model_config = ConfigDict(extra="forbid")
    status: EquipmentStatus | None = None
    comment: Comment | None = None


class EirRuleOut(BaseModel):
    id: int
    kind: str = Field(description="'imei' (exact) or 'prefix'")
    pattern: str = Field(description="the 14-digit IMEI, or the prefix")
    imsi: str | None
    status: EquipmentStatus
    comment: str | None
    created_at: dt.datetime | None

    @classmethod
    def of(cls, rule: EirRule) -> EirRuleOut:
        return cls(id=rule.id, kind="imei" if rule.exact else "prefix", pattern=rule.pattern, imsi=rule.imsi,
                   status=rule.status, comment=rule.comment, created_at=rule.created_at)


class EirCheckOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    checked_at: dt.datetime | None
    imei: str
    software_version: str | None
    imsi: str | None
    status: EquipmentStatus | None = Field(description="null: the equipment was unknown")
    rule_id: int | None = Field(description="the rule that decided (it may since have been deleted)")
    origin_host: str | None


def eir(ctx: Ctx) -> EirAdmin:
    return EirAdmin(ctx.store)


Eir = Annotated[EirAdmin, Depends(eir)]


def _imei(field: str, text: str) -> str:
    try:
        return normalise_imei(text)[0]
    except InvalidImei as err:
        raise InvalidValue(f"{field}: {err}") from None


@router.get("/rules", response_model=Page[EirRuleOut], dependencies=[READ], summary="List EIR rules")
async def list_rules(
    ctx: Ctx, store: Eir,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    status: EquipmentStatus | None = None,
    imsi: Annotated[str | None, Query(pattern=r"^[0-9]{6,15}$")] = None,
    kind: Annotated[str | None, Query(pattern=r"^(imei|prefix)$")] = None,
    pattern_prefix: Annotated[str | None, Query(pattern=r"^[0-9]{1,14}$")] = None,
) -> Page[EirRuleOut]:
    """Ordered by pattern; filters: status, IMSI binding, kind, and patterns starting with `pattern_prefix`."""
    exact = None if kind is None else kind == "imei"
    rules, total = await ctx.call(store.page_rules, offset, limit, status=status, imsi=imsi, exact=exact,
                                  matching=pattern_prefix)
    return Page[EirRuleOut](items=[EirRuleOut.of(r) for r in rules], total=total, offset=offset, limit=limit)


@router.post("/rules", status_code=201, response_model=EirRuleOut, dependencies=[PROVISION], responses=CONFLICT,
             summary="Add an EIR rule")
async def create_rule(body: EirRuleCreate, ctx: Ctx, store: Eir, request: Request) -> EirRuleOut:
    """409 if a rule with the same pattern, kind and IMSI binding exists. A 15-digit IMEI's check digit is
    verified and dropped."""
    pattern = _imei("imei", body.imei) if body.imei is not None else str(body.prefix)
    audit_detail(request, f"{'imei' if body.imei else 'prefix'} {pattern}; "
                          f"{written_fields(body.model_dump(exclude_unset=True))}")
    rule = await ctx.call(store.add_rule, pattern, body.status, exact=body.imei is not None, imsi=body.imsi,
                          comment=body.comment)
    return EirRuleOut.of(rule)


@router.get("/rules/{rule_id}", response_model=EirRuleOut, dependencies=[READ], responses=NOT_FOUND,
            summary="Read an EIR rule")
async def get_rule(rule_id: RuleId, ctx: Ctx, store: Eir) -> EirRuleOut:
    return EirRuleOut.of(await ctx.call(store.get_rule, rule_id))


@router.patch("/rules/{rule_id}", response_model=EirRuleOut, dependencies=[PROVISION], responses=NOT_FOUND,
              summary="Change an EIR rule's status or comment")
async def update_rule(rule_id: RuleId, body: EirRulePatch, ctx: Ctx, store: Eir, request: Request) -> EirRuleOut:
    given = body.model_dump(exclude_unset=True)
    audit_detail(request, f"rule #{rule_id}; {written_fields(given)}")
    rule = await ctx.call(store.change_rule, rule_id, status=body.status, comment=body.comment,
                          clear_comment="comment" in given and body.comment is None)
    return EirRuleOut.of(rule)


@router.delete("/rules/{rule_id}", status_code=204, response_class=Response, dependencies=[PROVISION],
               responses=NOT_FOUND, summary="Delete an EIR rule (its history stays)")
async def delete_rule(rule_id: RuleId, ctx: Ctx, store: Eir, request: Request) -> Response:
    audit_detail(request, f"rule #{rule_id}")
    await ctx.call(store.delete_rule, rule_id)
    return Response(status_code=204)


@router.get("/history", response_model=Page[EirCheckOut], dependencies=[READ],
            summary="ME identity checks, newest first (read-only)")
async def history(
    ctx: Ctx, store: Eir,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    imei: Annotated[str | None, Query(pattern=r"^[0-9]{14,16}$", description="14-16 digits (IMEI, IMEISV)")] = None,
) -> Page[EirCheckOut]:
    checks: list[EirCheck]
    checks, total = await ctx.call(store.history, _imei("imei", imei) if imei else None, offset, limit)
    return Page[EirCheckOut](items=[EirCheckOut.model_validate(c) for c in checks], total=total, offset=offset,
                             limit=limit)
