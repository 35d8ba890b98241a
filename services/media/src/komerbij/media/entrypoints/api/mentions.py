"""Mentions: entered by hand, imported from a vendor's CSV or found in feeds; read, corrected, featured."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from komerbij.media.domain.mentions import Medium, Scope
from komerbij.media.domain.monitoring_export import FIELDS as EXPORT_FIELDS
from komerbij.media.domain.monitoring_export import MappingError, decode
from komerbij.media.entrypoints.api.models import MAX_IMPORT_BYTES, Comms, MentionIn, MentionPatch
from komerbij.media.entrypoints.api.representations import mention_json, mentions_csv
from komerbij.media.service import coverage as coverage_service
from komerbij.media.service import imports, mentions
from komerbij.runtime.bodylimit import body_limit
from komerbij.runtime.http import field_error
from komerbij.runtime.reference import fold, municipality
from komerbij.runtime.service import runtime_of

router = APIRouter(prefix="/v1", tags=["mentions"])


@router.post("/mentions", status_code=201, summary="Record a mention by hand (TV, radio, print)")
async def create_mention(body: MentionIn, request: Request, _: Comms) -> dict[str, Any]:
    if not body.url and not (body.note and body.note.strip()):
        raise field_error("url", "geef een link of een notitie (bijvoorbeeld uitzending of pagina)")
    rt = runtime_of(request)
    mention_id = await mentions.record_manual(rt, body.model_dump(), rt.clock.now())
    row, copies = await mentions.get_mention(rt, mention_id)
    return mention_json(row, copies)


@router.post("/mentions/import", summary="Import a media-monitoring CSV export",
             openapi_extra=body_limit(MAX_IMPORT_BYTES + 64 * 1024))  # the file, the mapping, multipart framing
async def import_mentions(
    request: Request,
    _: Comms,
    file: UploadFile = File(..., description="The vendor's CSV export (UTF-8 or Windows-1252; , or ; separated)"),
    mapping: str | None = Form(None, description='JSON: our field → their column, e.g. {"title": "Kop"}'),
) -> dict[str, Any]:
    columns: dict[str, str] | None = None
    if mapping:
        try:
            columns = json.loads(mapping)
        except json.JSONDecodeError:
            raise field_error("mapping", "geen geldige JSON") from None
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            raise field_error("mapping", 'verwacht een object als {"title": "Kop"}')
        for name in columns:
            if name not in EXPORT_FIELDS:
                raise field_error(f"mapping.{name}", f"onbekend veld; een van {', '.join(EXPORT_FIELDS)}")
    data = await file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise field_error("file", "bestand groter dan 10 MB")
    rt = runtime_of(request)
    try:
        report = await imports.import_export(rt, decode(data), columns, rt.clock.now())
    except MappingError as exc:
        raise field_error(exc.field, str(exc)) from None
    return {
        "created": len(report.created), "already_known": len(report.already_known),
        "outlets_created": len(report.outlets_created), "ids": [str(i) for i in report.created],
        "errors": [{"line": e.line, "field": e.field, "message": e.message} for e in report.errors],
    }


def _mention_filters(start: date | None, end: date | None, medium: str | None, scope: str | None,
                     municipality_code: str | None, q: str | None, featured: bool | None) -> dict[str, Any]:
    if start and end and end < start:
        raise field_error("query.to", "de einddatum ligt voor de begindatum")
    if municipality_code and municipality(municipality_code) is None:
        raise field_error("query.municipality", "onbekende gemeentecode")
    lower, upper = coverage_service.period_bounds(start, end)
    return {"start": lower, "end": upper, "medium": medium, "scope": scope, "municipality": municipality_code,
            "q": fold(q.strip()) if q and q.strip() else None, "featured": featured}


@router.get("/mentions", summary="Mentions, newest first; syndicated copies listed under their original")
async def list_mentions(
    request: Request, _: Comms,
    start: date | None = Query(None, alias="from"), end: date | None = Query(None, alias="to"),
    medium: Medium | None = None, scope: Scope | None = None, municipality: str | None = None,
    q: str | None = Query(None, max_length=200), featured: bool | None = None,
    copies: bool = Query(False, description="Also list copies as items of their own"),
    limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    filters = _mention_filters(start, end, medium, scope, municipality, q, featured)
    rows, copy_rows, total = await mentions.find_mentions(runtime_of(request), {**filters, "copies": copies},
                                                          limit=limit, offset=offset)
    return {"items": [mention_json(r, copy_rows[r["id"]]) for r in rows], "total": total, "limit": limit,
            "offset": offset}


@router.get("/mentions.csv", summary="Mentions as CSV (copies included, with their original's id)")
async def export_mentions(
    request: Request, _: Comms,
    start: date | None = Query(None, alias="from"), end: date | None = Query(None, alias="to"),
    medium: Medium | None = None, scope: Scope | None = None, municipality: str | None = None,
    q: str | None = Query(None, max_length=200), featured: bool | None = None,
) -> Response:
    filters = _mention_filters(start, end, medium, scope, municipality, q, featured)
    rows, copy_rows, _total = await mentions.find_mentions(runtime_of(request), {**filters, "copies": True},
                                                           limit=None)
    body = mentions_csv(rows, {k: len(v) for k, v in copy_rows.items()})
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="vermeldingen.csv"'})


@router.get("/mentions/{mention_id}", summary="One mention with its copies")
async def get_mention(mention_id: uuid.UUID, request: Request, _: Comms) -> dict[str, Any]:
    row, copies = await mentions.get_mention(runtime_of(request), mention_id)
    return mention_json(row, copies)


@router.patch("/mentions/{mention_id}", summary="Sentiment, tags, newsletter pick, municipality corrections")
async def update_mention(mention_id: uuid.UUID, body: MentionPatch, request: Request, _: Comms) -> dict[str, Any]:
    rt = runtime_of(request)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    await mentions.update_mention(rt, mention_id, changes, rt.clock.now())
    row, copies = await mentions.get_mention(rt, mention_id)
    return mention_json(row, copies)


@router.delete("/mentions/{mention_id}", status_code=204, summary="Delete a mention")
async def delete_mention(mention_id: uuid.UUID, request: Request, _: Comms) -> Response:
    rt = runtime_of(request)
    await mentions.delete_mention(rt, mention_id, rt.clock.now())
    return Response(status_code=204)
