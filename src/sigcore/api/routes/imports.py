"""``POST /api/v1/subscribers/import``: a SIM vendor batch (CSV) through the store's bulk path.

The same parsing and checks as ``sigcore subscriber import``; the answer lists every rejected row with its
reason (never a key). Clients with large files send them in pieces (the header repeated in each) to show
progress and keep each request small: the web console does.
"""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from sigcore.api.auth import PROVISION, audit_detail
from sigcore.api.context import ApiContext, context
from sigcore.api.csv_import import read_batch
from sigcore.api.errors import UNAVAILABLE
from sigcore.store.bulk import BulkImporter, NewSubscriber, Rejected
from sigcore.store.errors import InvalidValue

router = APIRouter(prefix="/subscribers", tags=["subscribers"])
Ctx = Annotated[ApiContext, Depends(context)]
CHUNK = 1000
MAX_ROWS = 100_000


class RejectedRow(BaseModel):
    line: int
    imsi: str | None
    reason: str


class ImportResult(BaseModel):
    rows: int
    imported: int
    rejected: list[RejectedRow]
    ignored_columns: list[str]
    created_apns: list[str]
    dry_run: bool


def _run(importer: BulkImporter, text: str, apns: list[str]) -> tuple[int, list[str]]:
    """Parse and import; returns (rows read, ignored columns). Blocking: runs in the thread pool."""
    batch = read_batch(io.StringIO(text, newline=""), apns)
    rows = 0
    pending: list[NewSubscriber] = []
    for row in batch.rows:
        rows += 1
        if rows > MAX_ROWS:
            raise InvalidValue(f"body: more than {MAX_ROWS} rows; send the file in pieces")
        if isinstance(row, Rejected):
            importer.result.rejected.append(row)
            continue
        pending.append(row)
        if len(pending) >= CHUNK:
            importer.add(pending)
            pending = []
    if pending:
        importer.add(pending)
    return rows, batch.ignored


@router.post("/import", response_model=ImportResult, dependencies=[PROVISION], responses=UNAVAILABLE,
             summary="Import subscribers from a CSV batch (text/csv body)",
             openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}})
async def import_subscribers(
    request: Request, ctx: Ctx,
    dry_run: bool = False,
    apn: Annotated[list[str], Query(max_length=50, description="APNs for rows without an apns value")] = [],  # noqa: B006
) -> ImportResult:
    """Columns by header name: imsi, ki, opc or op; optional iccid, msisdn, amf, sqn, apns (``|``-separated).

    Rows already provisioned, repeated or invalid are rejected with the reason; the others go in, one
    transaction per 1000 rows. 422 if the header is unusable.
    """
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidValue("body: the file is not UTF-8 text") from None
    importer = BulkImporter(ctx.store, dry_run=dry_run)
    rows, ignored = await ctx.call(_run, importer, text, apn)
    result = importer.result
    result.rejected.sort(key=lambda r: r.line)
    audit_detail(request, f"{result.imported} imported, {len(result.rejected)} rejected"
                 + (" (dry run)" if dry_run else ""))
    return ImportResult(rows=rows, imported=result.imported, dry_run=dry_run, ignored_columns=ignored,
                        created_apns=result.created_apns,
                        rejected=[RejectedRow(line=r.line, imsi=r.imsi, reason=r.reason) for r in result.rejected])
