"""APN profiles, CSV import, IMS identities (with deregistration) and EIR rules with the check history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response

from sigcore.console.api_client import segment
from sigcore.console.forms import FormErrors, api_errors, given, kept, text
from sigcore.console.sessions import Session
from sigcore.console.web import (
    act,
    api,
    checked,
    form_of,
    headers,
    render,
    require_csrf_header,
    session,
    stop_if_refused,
    submit,
)
from sigcore.store.eir import EquipmentStatus
from sigcore.store.records import PdnType

router = APIRouter()
Current = Annotated[Session, Depends(session)]
ApnName = Annotated[str, Path(pattern=r"^\S{1,100}$")]
APN_FIELDS = ("name", "qci", "arp_priority", "ambr_ul", "ambr_dl", "pdn_type", "pgw_address", "pgw_host",
              "pgw_realm", "charging_characteristics", "arp_preemption_capability", "arp_preemption_vulnerability")
RuleId = Annotated[int, Path(ge=1, le=2**31 - 1)]
RULE_FIELDS = ("status", "imei", "prefix", "imsi", "comment")
MAX_IMPORT_BYTES = 8 * 1024 * 1024


# --- APN profiles ----------------------------------------------------------------------------------------

def _apn_body(form: Any, errors: FormErrors, creating: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"arp_preemption_capability": form.get("arp_preemption_capability") == "on",
                            "arp_preemption_vulnerability": form.get("arp_preemption_vulnerability") == "on"}
    if creating:
        body["name"] = text(form, "name") or ""
    body |= given(form, errors, ("pdn_type",), ("qci", "arp_priority", "ambr_ul", "ambr_dl"))
    for name in ("pgw_address", "pgw_host", "pgw_realm", "charging_characteristics"):
        if creating and text(form, name) is None:
            continue
        body[name] = text(form, name)
    return body


async def _apns_page(request: Request, current: Session, status: int = 200, errors: FormErrors | None = None,
                     values: dict[str, Any] | None = None) -> Response:
    answer = checked(request, await api(request, current).get("/apns", limit=1000))
    return render(request, "apns.html", current, status, apns=answer.body["items"] if answer.ok else [],
                  errors=errors or FormErrors(), values=values or {"qci": "9", "arp_priority": "8"},
                  pdn_types=list(PdnType))


@router.get("/apns")
async def apns(request: Request, current: Current) -> Response:
    return await _apns_page(request, current)


@router.post("/apns")
async def create_apn(request: Request, current: Current) -> Response:
    form = await form_of(request, current)
    errors = FormErrors()
    body = _apn_body(form, errors, creating=True)
    done = await submit(request, current, errors, "POST", "/apns", body, APN_FIELDS,
                        lambda created: f"/apns/{segment(created['name'])}", "created")
    return done or await _apns_page(request, current, 422, errors, kept(form))


async def _apn_page(request: Request, current: Session, name: str, status: int = 200,
                    errors: FormErrors | None = None, values: dict[str, Any] | None = None) -> Response:
    answer = checked(request, await api(request, current).get(f"/apns/{segment(name)}"))
    if not answer.ok:
        return render(request, "error.html", current, answer.status, message=answer.message())
    return render(request, "apn.html", current, status, apn=answer.body, errors=errors or FormErrors(),
                  values={**answer.body, **(values or {})}, pdn_types=list(PdnType))


@router.get("/apns/{name}")
async def apn(request: Request, current: Current, name: ApnName) -> Response:
    return await _apn_page(request, current, name)


@router.post("/apns/{name}")
async def edit_apn(request: Request, current: Current, name: ApnName) -> Response:
    """Saving sends an IDR with the new APN-Configuration to the MMEs serving subscribers of this APN."""
    form = await form_of(request, current)
    errors = FormErrors()
    body = _apn_body(form, errors, creating=False)
    done = await submit(request, current, errors, "PATCH", f"/apns/{segment(name)}", body, APN_FIELDS,
                        lambda _: f"/apns/{segment(name)}", "saved")
    return done or await _apn_page(request, current, name, 422, errors, kept(form))


# --- CSV import ------------------------------------------------------------------------------------------

@router.get("/import")
async def import_form(request: Request, current: Current) -> Response:
    return render(request, "import.html", current, result=None, errors=FormErrors())


@router.post("/import/chunk")
async def import_chunk(request: Request, current: Current) -> Response:
    """One piece of the file (the header and some rows, ``text/csv``), from the page's script: JSON back."""
    require_csrf_header(request, current)
    content = await request.body()
    if len(content) > MAX_IMPORT_BYTES:
        return JSONResponse({"detail": "this piece is too large"}, status_code=413, headers=headers())
    params = {"dry_run": request.query_params.get("dry_run") == "true",
              "apn": [a for a in request.query_params.getlist("apn") if a]}
    answer = checked(request, await api(request, current).request(
        "POST", "/subscribers/import", params=params, content=content, content_type="text/csv"))
    return JSONResponse(answer.body, status_code=answer.status, headers=headers())


@router.post("/import")
async def import_file(request: Request, current: Current) -> Response:
    """The same without a script: the whole file in one request, the result on the page."""
    form = await form_of(request, current)
    upload = form.get("file")
    errors = FormErrors()
    content = await upload.read(MAX_IMPORT_BYTES + 1) if upload is not None and not isinstance(upload, str) else b""
    if not content:
        errors.add("file", "choose a CSV file")
    elif len(content) > MAX_IMPORT_BYTES:
        errors.add("file", "the file is larger than 8 MiB: import it in pieces, or with sigcore subscriber import")
    else:
        apn = text(form, "apn")
        answer = checked(request, await api(request, current).request(
            "POST", "/subscribers/import", params={"dry_run": form.get("dry_run") == "on", "apn": apn},
            content=content, content_type="text/csv"))
        if answer.ok:
            return render(request, "import.html", current, result=answer.body, errors=errors)
        stop_if_refused(answer)
        api_errors(answer, errors, ("file",))
        errors.move(("body", "header"), "file")
    return render(request, "import.html", current, 422, result=None, errors=errors)


# --- IMS ---------------------------------------------------------------------------------------------------

@router.get("/ims")
async def ims(request: Request, current: Current) -> Response:
    prefix = request.query_params.get("q", "").strip() or None
    client = api(request, current)
    public = checked(request, await client.get("/ims/public-identities", limit=100, impu_prefix=prefix))
    private = await client.get("/ims/private-identities", limit=100)
    errors = FormErrors()
    if not public.ok:
        api_errors(public, errors)
    return render(request, "ims.html", current, q=prefix or "", errors=errors,
                  impus=public.body["items"] if public.ok else [], impis=private.body["items"] if private.ok else [])


@router.post("/ims/deregister")
async def deregister(request: Request, current: Current) -> Response:
    form = await form_of(request, current)
    impu = text(form, "impu") or ""
    return await act(request, current, "POST", f"/ims/public-identities/{segment(impu)}/deregister",
                     {"reason": "permanent_termination"}, "/ims", "deregistered")


# --- EIR ---------------------------------------------------------------------------------------------------

async def _eir_page(request: Request, current: Session, status: int = 200, errors: FormErrors | None = None,
                    values: dict[str, Any] | None = None) -> Response:
    client = api(request, current)
    rules = checked(request, await client.get("/eir/rules", limit=200))
    history = await client.get("/eir/history", limit=50)
    return render(request, "eir.html", current, status, rules=rules.body["items"] if rules.ok else [],
                  history=history.body["items"] if history.ok else [], errors=errors or FormErrors(),
                  values=values or {}, statuses=list(EquipmentStatus))


@router.get("/eir")
async def eir(request: Request, current: Current) -> Response:
    return await _eir_page(request, current)


@router.post("/eir/rules")
async def create_rule(request: Request, current: Current) -> Response:
    form = await form_of(request, current)
    pattern = text(form, "pattern") or ""
    body: dict[str, Any] = {"status": text(form, "status") or "",
                            ("prefix" if text(form, "kind") == "prefix" else "imei"): pattern}
    for name in ("imsi", "comment"):
        if text(form, name):
            body[name] = text(form, name)
    errors = FormErrors()
    done = await submit(request, current, errors, "POST", "/eir/rules", body, RULE_FIELDS, lambda _: "/eir", "created")
    if done is not None:
        return done
    errors.move(("imei", "prefix"), "pattern")
    return await _eir_page(request, current, 422, errors, kept(form))


@router.post("/eir/rules/{rule_id}/delete")
async def delete_rule(request: Request, current: Current, rule_id: RuleId) -> Response:
    await form_of(request, current)
    return await act(request, current, "DELETE", f"/eir/rules/{rule_id}", None, "/eir", "deleted")
