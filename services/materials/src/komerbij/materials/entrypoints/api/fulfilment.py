"""HTTP routes of the fulfilment partner: the picklist as CSV, and status updates as a CSV upload.

An upload is applied row by row, each row in its own transaction: a bad row is reported with its line number and
does not stop the good ones (a partner fixes the few and uploads those again). The rules are the service's
(`service.fulfilment`), shared with the warehouse page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from komerbij.materials.entrypoints.api.problems import as_problems
from komerbij.materials.service import fulfilment
from komerbij.materials.service.fulfilment import MAX_UPLOAD_BYTES, PICKLIST_COLUMNS
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.bodylimit import body_limit
from komerbij.runtime.http import ProblemError, field_error
from komerbij.runtime.service import runtime_of

router = APIRouter(prefix="/v1/fulfilment", tags=["fulfilment"])
__all__ = ["MAX_UPLOAD_BYTES", "PICKLIST_COLUMNS", "router"]


class RowApplied(BaseModel):
    line: int
    order_id: str
    status: str


class RowError(BaseModel):
    line: int
    order_id: str | None
    field: str
    message: str


class UploadResult(BaseModel):
    applied: list[RowApplied]
    errors: list[RowError]


@router.get("/picklist.csv", summary="Confirmed orders to pick, one row per order line (bundles with contents)",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def picklist(request: Request, principal: Principal = require("fulfilment")) -> Response:
    body = await fulfilment.picklist_csv(runtime_of(request))
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="picklist.csv"'})


async def _upload_bytes(request: Request) -> bytes:
    """The CSV as the request body (text/csv) or as the form field `file` (multipart, what a browser sends)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise field_error("file", "Voeg het CSV-bestand toe in het veld 'file'.")
        raw = await upload.read(MAX_UPLOAD_BYTES + 1)
    else:
        raw = await request.body()
    if len(raw) > MAX_UPLOAD_BYTES:
        raise ProblemError(413, "Bestand te groot", f"At most {MAX_UPLOAD_BYTES} bytes per upload.")
    return raw


@router.post("/status.csv", summary="Status updates as CSV: order_id,status[,carrier,tracking_code]",
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}},
                            **body_limit(MAX_UPLOAD_BYTES + 64 * 1024)})  # the file and multipart framing
async def upload_status(request: Request, principal: Principal = require("fulfilment")) -> UploadResult:
    raw = await _upload_bytes(request)
    with as_problems():
        changes = fulfilment.read_status_csv(fulfilment.decode_upload(raw))
    result = await fulfilment.apply_status_changes(runtime_of(request), changes)
    return UploadResult(
        applied=[RowApplied(line=a.line, order_id=a.order_id, status=a.status) for a in result.applied],
        errors=[RowError(line=e.line, order_id=e.order_id, field=e.field, message=e.message) for e in result.errors],
    )
