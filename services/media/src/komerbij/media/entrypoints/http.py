"""The media API. Everything here is comms work: reads and writes alike need the `comms` role (or `admin`).

Coverage and mention lists are not public: they hold the team's judgements (sentiment, newsletter picks) and the
reach estimates it bought from vendors, so reads are protected like writes.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field, field_validator

from komerbij.media.domain.mentions import MAX_TAG_LENGTH, MAX_TAGS, Medium, Scope, Sentiment
from komerbij.media.domain.monitoring_export import AMSTERDAM, MappingError, decode
from komerbij.media.domain.monitoring_export import FIELDS as EXPORT_FIELDS
from komerbij.media.domain.urls import InvalidUrl, canonical_url
from komerbij.media.entrypoints.representations import feed_json, mention_json, mentions_csv, outlet_json
from komerbij.media.service import coverage as coverage_service
from komerbij.media.service import feeds as feed_service
from komerbij.media.service import imports, mentions, outlets, polling
from komerbij.media.settings import settings_of
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.http import ProblemError, field_error
from komerbij.runtime.reference import fold, municipality, provinces
from komerbij.runtime.service import runtime_of

router = APIRouter(prefix="/v1", tags=["media"])
Comms = Annotated[Principal, require("comms")]
MAX_IMPORT_BYTES = 10 * 1024 * 1024


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        canonical_url(value)
    except InvalidUrl:
        raise ValueError("geen geldige http(s)-link") from None
    return value.strip()


class OutletIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    medium: Medium
    scope: Scope
    province: str | None = None
    municipality: str | None = None
    reach: int | None = Field(None, ge=0)
    reach_source: str | None = Field(None, max_length=500)
    reach_date: date | None = None

    @field_validator("province")
    @classmethod
    def _known_province(cls, v: str | None) -> str | None:
        if v is not None and v not in provinces():
            raise ValueError(f"onbekende provincie; een van {', '.join(provinces())}")
        return v

    @field_validator("municipality")
    @classmethod
    def _known_municipality(cls, v: str | None) -> str | None:
        if v is not None and municipality(v) is None:
            raise ValueError("onbekende gemeentecode (CBS, bijvoorbeeld GM0363)")
        return v


class FeedIn(BaseModel):
    outlet_id: uuid.UUID
    url: str = Field(max_length=2000)
    interval_seconds: int = Field(900, le=7 * 24 * 3600)

    _url = field_validator("url")(_http_url)


class MentionIn(BaseModel):
    outlet_id: uuid.UUID
    published_at: datetime = Field(description="A date alone (print edition, broadcast day) means that day")
    title: str = Field(min_length=1, max_length=500)
    programme: str | None = Field(None, max_length=300, description="Programme (TV/radio) or page (print)")
    url: str | None = Field(None, max_length=2000)
    note: str | None = Field(None, max_length=2000)
    summary: str | None = Field(None, max_length=5000)
    reach: int | None = Field(None, ge=0, description="Overrides the outlet's reach estimate for this item")
    sentiment: Sentiment | None = None
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)

    _url = field_validator("url")(_http_url)

    @field_validator("published_at", mode="before")
    @classmethod
    def _day_or_moment(cls, v: object) -> object:
        # One type, not `datetime | date`: a union would name its members in the error's field path.
        if isinstance(v, str) and len(v.strip()) == 10:
            try:
                return datetime.combine(date.fromisoformat(v.strip()), time(), AMSTERDAM)
            except ValueError:
                return v
        return v

    @field_validator("published_at")
    @classmethod
    def _dutch_time_when_naive(cls, v: datetime) -> datetime:
        return v if v.tzinfo else v.replace(tzinfo=AMSTERDAM)


class MentionPatch(BaseModel):
    sentiment: Sentiment | None = None
    tags: list[Annotated[str, Field(max_length=MAX_TAG_LENGTH)]] = Field(default_factory=list, max_length=MAX_TAGS)
    featured: bool = False
    municipalities: list[str] = Field(default_factory=list, max_length=50)


# --- outlets -------------------------------------------------------------------------------------------------------

@router.post("/outlets", status_code=201, summary="Add an outlet")
async def create_outlet(body: OutletIn, request: Request, _: Comms) -> dict[str, Any]:
    outlet_id = await outlets.create_outlet(runtime_of(request), body.model_dump())
    return {"id": str(outlet_id), **body.model_dump(mode="json")}


@router.get("/outlets", summary="All outlets")
async def list_outlets(request: Request, _: Comms) -> dict[str, Any]:
    rows = await outlets.list_outlets(runtime_of(request))
    return {"items": [outlet_json(r) for r in rows], "total": len(rows)}


# --- feeds ---------------------------------------------------------------------------------------------------------

@router.post("/feeds", status_code=201, summary="Add an RSS or Atom feed of an outlet")
async def create_feed(body: FeedIn, request: Request, _: Comms) -> dict[str, Any]:
    rt = runtime_of(request)
    minimum = settings_of(rt).media_feed_min_interval_seconds
    if body.interval_seconds < minimum:
        raise field_error("interval_seconds", f"minstens {minimum} seconden")
    feed_id = await feed_service.create_feed(rt, body.outlet_id, body.url, body.interval_seconds, rt.clock.now())
    return {"id": str(feed_id), **body.model_dump(mode="json")}


@router.get("/feeds", summary="All feeds with their last poll, status and last error")
async def list_feeds(request: Request, _: Comms) -> dict[str, Any]:
    rows = await feed_service.list_feeds(runtime_of(request))
    return {"items": [feed_json(r) for r in rows], "total": len(rows)}


@router.get("/feeds/{feed_id}", summary="One feed")
async def get_feed(feed_id: uuid.UUID, request: Request, _: Comms) -> dict[str, Any]:
    row = await feed_service.get_feed(runtime_of(request), feed_id)
    if row is None:
        raise ProblemError(404, "Niet gevonden", "No feed with this id.")
    return feed_json(row)


@router.post("/feeds/{feed_id}/poll", summary="Poll a feed now")
async def poll_feed(feed_id: uuid.UUID, request: Request, _: Comms) -> dict[str, Any]:
    rt = runtime_of(request)
    report = await polling.poll_feed(rt, feed_id, rt.clock.now())
    if report is None:
        raise ProblemError(404, "Niet gevonden", "No feed with this id.")
    row = await feed_service.get_feed(rt, feed_id)
    assert row is not None
    return {"outcome": report.outcome, "recorded": report.recorded, "already_known": report.known,
            "irrelevant": report.irrelevant, "error": report.error, "feed": feed_json(row)}


# --- mentions ------------------------------------------------------------------------------------------------------

@router.post("/mentions", status_code=201, summary="Record a mention by hand (TV, radio, print)")
async def create_mention(body: MentionIn, request: Request, _: Comms) -> dict[str, Any]:
    if not body.url and not (body.note and body.note.strip()):
        raise field_error("url", "geef een link of een notitie (bijvoorbeeld uitzending of pagina)")
    rt = runtime_of(request)
    mention_id = await mentions.record_manual(rt, body.model_dump(), rt.clock.now())
    row, copies = await mentions.get_mention(rt, mention_id)
    return mention_json(row, copies)


@router.post("/mentions/import", summary="Import a media-monitoring CSV export")
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


# --- coverage ------------------------------------------------------------------------------------------------------

@router.get("/coverage", summary="Coverage totals and breakdowns for a period (reach is an estimate)")
async def coverage(
    request: Request, _: Comms,
    start: date | None = Query(None, alias="from"), end: date | None = Query(None, alias="to"),
) -> dict[str, Any]:
    if start and end and end < start:
        raise field_error("query.to", "de einddatum ligt voor de begindatum")
    return await coverage_service.coverage(runtime_of(request), start, end)
