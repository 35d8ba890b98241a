"""HTTP routes of the fulfilment partner: the picklist as CSV, and status updates as a CSV upload.

An upload is applied row by row, each row in its own transaction: a bad row is reported with its line number and
does not stop the good ones (a partner fixes the few and uploads those again).
"""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from komerbij.materials.adapters import orders
from komerbij.materials.domain.orders import STATUSES
from komerbij.materials.entrypoints.api.problems import as_problems
from komerbij.materials.service import lifecycle
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.bodylimit import body_limit
from komerbij.runtime.csvcells import csv_text
from komerbij.runtime.http import ProblemError, field_error
from komerbij.runtime.service import Runtime, runtime_of

router = APIRouter(prefix="/v1/fulfilment", tags=["fulfilment"])
PICKLIST_COLUMNS = ("order_id", "municipality", "organisation", "attention", "street", "postcode", "city",
                    "wanted_by", "sku", "name", "unit", "quantity", "contents")
MAX_UPLOAD_BYTES = 2_000_000


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
    async with runtime_of(request).pool.acquire() as conn:
        rows = await orders.picklist(conn)
    # Organisation, attention and address are typed by organisers: csv_text keeps them from running as formulas.
    body = csv_text(PICKLIST_COLUMNS, ([r["id"], r["municipality"], r["organisation"], r["attention"], r["street"],
                                        r["postcode"], r["city"], r["wanted_by"], r["sku"], r["name"], r["unit"],
                                        r["quantity"], r["contents"]] for r in rows))
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="picklist.csv"'})


async def _upload_text(request: Request) -> str:
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
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise field_error("file", "Het bestand is geen UTF-8-tekst; sla het op als CSV (UTF-8).") from None


@router.post("/status.csv", summary="Status updates as CSV: order_id,status[,carrier,tracking_code]",
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}},
                            **body_limit(MAX_UPLOAD_BYTES + 64 * 1024)})  # the file and multipart framing
async def upload_status(request: Request, principal: Principal = require("fulfilment")) -> UploadResult:
    rt = runtime_of(request)
    text = await _upload_text(request)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","  # Dutch spreadsheets write ';'
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    try:
        return await _apply_rows(rt, reader)
    except csv.Error as exc:  # e.g. a cell over the csv module's 128 KB field limit: no status file has one
        raise field_error("file", f"Regel {reader.line_num} is geen leesbare CSV ({exc}).") from None


async def _apply_rows(rt: Runtime, reader: csv.DictReader[str]) -> UploadResult:
    columns = {(c or "").strip().lower() for c in reader.fieldnames or ()}
    missing = sorted({"order_id", "status"} - columns)
    if missing:
        raise field_error("file", f"Kolom(men) ontbreken in de kopregel: {', '.join(missing)}.")
    applied: list[RowApplied] = []
    errors: list[RowError] = []
    for raw_row in reader:
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw_row.items() if isinstance(v, str)}
        line = reader.line_num
        order_id = row.get("order_id") or None
        if not any(row.values()):
            continue
        if not order_id or not row.get("status"):
            errors.append(RowError(line=line, order_id=order_id, field="order_id" if not order_id else "status",
                                   message="Bestelnummer en status zijn verplicht."))
            continue
        if row["status"] not in STATUSES:
            errors.append(RowError(line=line, order_id=order_id, field="status",
                                   message=f"Onbekende status '{row['status']}'."))
            continue
        try:
            with as_problems():
                await lifecycle.change_status(rt, order_id, row["status"], rt.clock.now(),
                                              carrier=row.get("carrier") or None,
                                              tracking_code=row.get("tracking_code") or None)
        except ProblemError as exc:
            field = exc.errors[0]["field"] if exc.errors else ("order_id" if exc.status == 404 else "status")
            message = exc.errors[0]["message"] if exc.errors else exc.title
            errors.append(RowError(line=line, order_id=order_id, field=field, message=message))
            continue
        applied.append(RowApplied(line=line, order_id=order_id, status=row["status"]))
    return UploadResult(applied=applied, errors=errors)
