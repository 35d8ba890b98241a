"""The public agenda (no token): JSON with filters and pages, and an iCalendar feed per municipality."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from komerbij.registration.domain.activity import CATEGORIES, TARGET_GROUPS
from komerbij.registration.domain.agenda import AgendaFilter
from komerbij.registration.entrypoints.api.representation import activity_json
from komerbij.registration.service import agenda as agenda_service
from komerbij.registration.service.problems import invalid
from komerbij.runtime import reference
from komerbij.runtime.service import runtime_of

router = APIRouter(tags=["agenda"])


def _known_municipality(code: str | None) -> str | None:
    if code is not None and reference.municipality(code) is None:
        raise invalid("municipality", f"onbekende gemeentecode {code!r}")
    return code


def _day(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise invalid(name, "geen geldige datum; schrijf die als JJJJ-MM-DD") from None
    if not 1900 <= day.year <= 2999:  # the day's bounds in UTC would overflow (found by the fuzz run)
        raise invalid(name, "kies een datum tussen 1900 en 2999")
    return day


def _yes_no(value: str | None) -> bool | None:
    if not value:
        return None
    if value.lower() in ("true", "1", "ja", "yes"):
        return True
    if value.lower() in ("false", "0", "nee", "no"):
        return False
    raise invalid("online", "kies true of false")


@router.get("/v1/agenda", summary="Published activities, filtered and paginated")
async def agenda(
    request: Request,
    municipality: str | None = Query(None, description="CBS code, e.g. GM0363"),
    province: str | None = Query(None, description="Province name, e.g. Noord-Holland"),
    from_: str | None = Query(None, alias="from", description="First day (inclusive), YYYY-MM-DD"),
    to: str | None = Query(None, description="Last day (inclusive), YYYY-MM-DD"),
    category: str | None = Query(None),
    target_group: str | None = Query(None),
    online: str | None = Query(None, description="true: online or by phone; false: at a venue"),
    q: str | None = Query(None, max_length=200, description="Words in title or description (accents ignored)"),
    page: int = Query(1, ge=1, le=10_000),
    page_size: int = Query(20, ge=1, le=100),
) -> dict[str, Any]:
    """Empty parameters (`?municipality=&province=`) mean "no filter", as forms and URL templates send them."""
    municipality, province = municipality or None, province or None
    category, target_group = category or None, target_group or None
    date_from, date_to = _day("from", from_), _day("to", to)
    _known_municipality(municipality)
    if province is not None and province not in reference.provinces():
        raise invalid("province", f"onbekende provincie; kies uit {', '.join(reference.provinces())}")
    if category is not None and category not in CATEGORIES:
        raise invalid("category", f"onbekende categorie; kies uit {', '.join(CATEGORIES)}")
    if target_group is not None and target_group not in TARGET_GROUPS:
        raise invalid("target_group", f"onbekende doelgroep; kies uit {', '.join(TARGET_GROUPS)}")
    if date_from and date_to and date_to < date_from:
        raise invalid("to", "de einddatum ligt vóór de begindatum")
    f = AgendaFilter(municipality, province, date_from, date_to, category, target_group, _yes_no(online), q or None,
                     page, page_size)
    rt = runtime_of(request)
    items, total = await agenda_service.search(rt, f)
    base = rt.settings.public_base_url
    return {"items": [activity_json(a, base) for a in items], "total": total, "page": page, "page_size": page_size}


@router.get("/v1/agenda.ics", summary="iCalendar feed (one municipality, or all)", response_class=Response,
            responses={200: {"content": {"text/calendar": {}}}})
async def agenda_ics(request: Request, municipality: str | None = Query(None)) -> Response:
    """Rendered once per change; `If-None-Match` with the current ETag gets a 304 without a body."""
    municipality = _known_municipality(municipality or None)
    feed = await agenda_service.calendar_feed(runtime_of(request), municipality)
    return feed_response(request, feed)


def feed_response(request: Request, feed: agenda_service.CalendarFeed) -> Response:
    """The feed, or 304 when the caller's `If-None-Match` names its current ETag."""
    headers = {"ETag": feed.etag, "Cache-Control": f"public, max-age={CALENDAR_MAX_AGE_SECONDS}"}
    matches = _etags(request.headers.get("if-none-match"))
    if feed.etag in matches or "*" in matches:
        return Response(status_code=304, headers=headers)
    return Response(feed.body, media_type="text/calendar; charset=utf-8", headers=headers)


CALENDAR_MAX_AGE_SECONDS = 300  # calendar apps poll hourly at most; a change shows within five minutes


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}
