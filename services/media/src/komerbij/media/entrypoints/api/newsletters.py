"""The nieuwsflits as JSON: editions composed, previewed and sent by comms, the agenda to pick from, and the public
archive. The same use cases as the pages."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request

from komerbij.media.entrypoints.api.models import Comms
from komerbij.media.entrypoints.api.newsletter_models import EditionIn
from komerbij.media.service import newsletters
from komerbij.runtime.service import runtime_of

router = APIRouter(prefix="/v1", tags=["newsletters"])


def edition_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row["id"]), "number": row["number"], "status": row["status"], "title": row["title"],
        "intro": row["intro"], "period_from": row["period_from"], "period_to": row["period_to"],
        "sections": row["sections"], "activity_ids": list(row["activity_ids"]), "dates": row["dates"],
        "created_at": row["created_at"], "sent_at": row["sent_at"],
        "progress": None if row["recipients_total"] is None else {
            "total": row["recipients_total"], "sent": row["recipients_sent"], "failed": row["recipients_failed"],
            "skipped": row["recipients_skipped"], "at": row["progress_at"]},
    }


@router.get("/newsletters", summary="Editions of the nieuwsflits, drafts first")
async def list_editions(request: Request, _: Comms) -> dict[str, Any]:
    return {"items": [edition_json(r) for r in await newsletters.editions(runtime_of(request))]}


@router.post("/newsletters", status_code=201, summary="Compose a new edition (a draft)")
async def create_edition(body: EditionIn, request: Request, who: Comms) -> dict[str, Any]:
    rt = runtime_of(request)
    edition_id = await newsletters.create_edition(rt, body.model_dump(), who.subject, rt.clock.now())
    return edition_json(await newsletters.edition(rt, edition_id))


@router.get("/newsletters/{edition_id}", summary="One edition")
async def get_edition(edition_id: uuid.UUID, request: Request, _: Comms) -> dict[str, Any]:
    return edition_json(await newsletters.edition(runtime_of(request), edition_id))


@router.put("/newsletters/{edition_id}", summary="Change a draft")
async def update_edition(edition_id: uuid.UUID, body: EditionIn, request: Request, _: Comms) -> dict[str, Any]:
    rt = runtime_of(request)
    await newsletters.update_edition(rt, edition_id, body.model_dump(), rt.clock.now())
    return edition_json(await newsletters.edition(rt, edition_id))


@router.get("/newsletters/{edition_id}/preview", summary="The edition as readers will get it: subject, HTML, text")
async def preview_edition(edition_id: uuid.UUID, request: Request, _: Comms) -> dict[str, Any]:
    found = await newsletters.preview(runtime_of(request), edition_id)
    return {"subject": found.subject, "html": found.mail_html, "text": found.mail_text, "content": found.content}


@router.post("/newsletters/{edition_id}/send", summary="Send the edition to everyone subscribed to the nieuwsflits")
async def send_edition(edition_id: uuid.UUID, request: Request, who: Comms) -> dict[str, Any]:
    rt = runtime_of(request)
    await newsletters.send(rt, edition_id, who.subject, rt.clock.now())
    return edition_json(await newsletters.edition(rt, edition_id))


@router.get("/agenda", summary="Upcoming published activities (media's read model of the agenda) to pick from")
async def agenda(request: Request, _: Comms) -> dict[str, Any]:
    rt = runtime_of(request)
    return {"items": [{"activity_id": a["activity_id"], "title": a["title"], "starts_at": a["starts_at"],
                       "place": a["place"], "municipality": a["municipality"]}
                      for a in await newsletters.agenda(rt, rt.clock.now())]}


@router.get("/newsletters-archive", summary="Sent editions (public)")
async def archive(request: Request) -> dict[str, Any]:
    return {"items": [{"number": r["number"], "title": r["title"], "sent_at": r["sent_at"]}
                      for r in await newsletters.archive(runtime_of(request))]}


@router.get("/newsletters-archive/{number}", summary="One sent edition (public)")
async def archived(number: int, request: Request) -> dict[str, Any]:
    found = await newsletters.archived(runtime_of(request), number)
    return {"number": number, "subject": found.subject, "content": found.content, "html": found.body_html,
            "text": found.body_text}
