"""Subscriber pages: search (keyset-paged), view with serving nodes, edit, keys (write-only), create, delete."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from sigcore.console.api_client import segment
from sigcore.console.forms import ACCESS_RESTRICTIONS, FormErrors, api_errors, bits, given, integer, kept, names, text
from sigcore.console.sessions import Session
from sigcore.console.web import act, api, checked, form_of, render, session, submit
from sigcore.store.records import NetworkAccessMode, RoamingPolicy, SubscriberStatus

router = APIRouter()
Current = Annotated[Session, Depends(session)]
Imsi = Annotated[str, Path(pattern=r"^[0-9]{6,15}$")]
PAGE_SIZE = 25
CHOICES: dict[str, Any] = {"statuses": list(SubscriberStatus), "nams": list(NetworkAccessMode),
                           "policies": list(RoamingPolicy), "restrictions": ACCESS_RESTRICTIONS}
PROFILE_FIELDS = ("msisdn", "iccid", "status", "odb", "nam", "ue_ambr_ul", "ue_ambr_dl", "access_restriction",
                  "roaming_policy", "tau_timer", "apns", "default_apn", "enabled")
CREATE_FIELDS = ("imsi", "ki", "opc", "op", "amf", "sqn", *PROFILE_FIELDS)


@router.get("/subscribers")
async def search(request: Request, current: Current) -> Response:
    q = request.query_params.get("q", "").strip()
    by = "imsi" if request.query_params.get("by") == "imsi" else "msisdn"
    after = request.query_params.get("after") or None
    apn = request.query_params.get("apn", "").strip()
    errors = FormErrors()
    items: list[dict[str, Any]] = []
    next_after = None
    if q and not re.fullmatch(r"[0-9]{1,15}", q):
        errors.add("q", "type the first digits of an IMSI or MSISDN (1 to 15 digits)")
    elif apn and not re.fullmatch(r"\S{1,100}", apn):
        errors.add("apn", "an APN name has no spaces (1 to 100 characters)")
    elif after is not None and not re.fullmatch(r"[0-9]{1,15}", after):
        errors.add("", "that page link is not valid; search again")
    else:
        answer = checked(request, await api(request, current).get(
            "/subscribers", limit=PAGE_SIZE, order=by, after=after, with_total=False, apn=apn or None,
            **{f"{by}_prefix": q or None}))
        if answer.ok:
            items, next_after = answer.body["items"], answer.body["next_after"]
        else:
            api_errors(answer, errors)
    return render(request, "subscribers.html", current, q=q, by=by, apn=apn, items=items, next_after=next_after,
                  after=after, errors=errors, page_size=PAGE_SIZE)


async def _subscriber_page(request: Request, current: Session, imsi: str, status: int = 200,
                           errors: FormErrors | None = None, values: dict[str, Any] | None = None) -> Response:
    client = api(request, current)
    found = checked(request, await client.get(f"/subscribers/{imsi}"))
    if found.status == 404:
        return render(request, "error.html", current, 404, message=f"No subscriber has the IMSI {imsi}.")
    if not found.ok:
        return render(request, "error.html", current, found.status, message=found.message())
    serving = (await client.get(f"/subscribers/{imsi}/serving")).body or {}
    auth = await client.get(f"/subscribers/{imsi}/auth")
    ims = await client.get("/ims/private-identities", imsi=imsi, limit=20)
    subscriber = found.body
    current_values = {**subscriber, "apns": " ".join(a["name"] for a in subscriber["apns"])}
    return render(request, "subscriber.html", current, status, sub=subscriber, serving=serving,
                  auth=auth.body if auth.ok else None, impis=ims.body["items"] if ims.ok else [],
                  errors=errors or FormErrors(), values={**current_values, **(values or {})}, **CHOICES)


@router.get("/subscribers/new")
async def new_form(request: Request, current: Current) -> Response:
    return render(request, "subscriber_new.html", current, errors=FormErrors(), values={"amf": "8000", "sqn": "0"},
                  **CHOICES)


@router.post("/subscribers/new")
async def create(request: Request, current: Current) -> Response:
    form = await form_of(request, current)
    errors = FormErrors()
    body: dict[str, Any] = {"imsi": text(form, "imsi") or "", "ki": text(form, "ki") or ""}
    key_type = "op" if text(form, "key_type") == "op" else "opc"
    body[key_type] = text(form, "operator_key") or ""
    body |= given(form, errors, ("msisdn", "iccid", "amf"), ("sqn", "ue_ambr_ul", "ue_ambr_dl"))
    apns = names(form, "apns")
    if apns:
        body["apns"] = apns
    done = await submit(request, current, errors, "POST", "/subscribers", body, CREATE_FIELDS,
                        lambda created: f"/subscribers/{created['imsi']}", "created")
    if done is not None:
        return done
    errors.move(("opc", "op"), "operator_key")
    return render(request, "subscriber_new.html", current, 422 if errors else 400, errors=errors, values=kept(form),
                  **CHOICES)


@router.get("/subscribers/{imsi}")
async def view(request: Request, current: Current, imsi: Imsi) -> Response:
    return await _subscriber_page(request, current, imsi)


def _profile_patch(form: Any, errors: FormErrors) -> dict[str, Any]:
    body: dict[str, Any] = {"msisdn": text(form, "msisdn"), "iccid": text(form, "iccid"),
                            "enabled": form.get("enabled") == "on", "access_restriction": bits(form, "access")}
    body |= given(form, errors, ("status", "nam", "roaming_policy", "default_apn"), ("odb", "ue_ambr_ul", "ue_ambr_dl"))
    body["tau_timer"] = integer(form, "tau_timer", errors)
    apns = names(form, "apns") or []
    if apns != (names(form, "apns_before") or []):  # the list replaces the old one: only when it changed
        body["apns"] = apns
    return body


@router.post("/subscribers/{imsi}")
async def edit(request: Request, current: Current, imsi: Imsi) -> Response:
    form = await form_of(request, current)
    errors = FormErrors()
    body = _profile_patch(form, errors)
    done = await submit(request, current, errors, "PATCH", f"/subscribers/{imsi}", body, PROFILE_FIELDS,
                        lambda _: f"/subscribers/{imsi}", "saved")
    if done is not None:
        return done
    values = {**kept(form), "access_restriction": bits(form, "access"), "enabled": form.get("enabled") == "on"}
    return await _subscriber_page(request, current, imsi, 422, errors, values)


@router.post("/subscribers/{imsi}/keys")
async def rotate_keys(request: Request, current: Current, imsi: Imsi) -> Response:
    """Set or rotate Ki and OPc/OP: what is typed goes to the API and is never shown again, nor kept."""
    form = await form_of(request, current)
    body: dict[str, Any] = {}
    if text(form, "ki"):
        body["ki"] = text(form, "ki")
    if text(form, "operator_key"):
        body["op" if text(form, "key_type") == "op" else "opc"] = text(form, "operator_key")
    if text(form, "amf"):
        body["amf"] = text(form, "amf")
    errors = FormErrors()
    if not body:
        errors.add("ki", "type a new Ki, a new OPc/OP or an AMF")
    done = await submit(request, current, errors, "PATCH", f"/subscribers/{imsi}/auth", body,
                        ("ki", "opc", "op", "amf"), lambda _: f"/subscribers/{imsi}", "keys")
    if done is not None:
        return done
    errors.move(("opc", "op"), "operator_key")
    return await _subscriber_page(request, current, imsi, 422, errors)


@router.post("/subscribers/{imsi}/delete")
async def delete(request: Request, current: Current, imsi: Imsi) -> Response:
    await form_of(request, current)
    return await act(request, current, "DELETE", f"/subscribers/{segment(imsi)}", None, "/subscribers", "deleted")
