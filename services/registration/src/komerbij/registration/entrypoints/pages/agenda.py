"""The public agenda (`/agenda`), an activity's page with its sign-up form (`/agenda/{id}`), the compact agenda for
municipalities' own websites (`/agenda/embed`) and the calendars (`/agenda.ics`, `/agenda/{id}.ics`).

Everyone may see these pages; nothing here needs a login. Filters are a GET form, so a search is a link people can
share and the back button works. The municipality is asked by name ("Den Haag"), as people know it, not by CBS code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import QueryParams

from komerbij.registration.domain.activity import CATEGORIES, TARGET_GROUPS, Activity
from komerbij.registration.domain.agenda import AgendaFilter
from komerbij.registration.domain.edition import AMSTERDAM
from komerbij.registration.entrypoints.api.agenda import feed_response
from komerbij.registration.entrypoints.pages import signup as signup_pages
from komerbij.registration.entrypoints.pages.views import PAGES, known_id
from komerbij.registration.service import access, activities, agenda, signups
from komerbij.registration.service.commands import SignupRequest
from komerbij.runtime import reference, web
from komerbij.runtime.http import ProblemError
from komerbij.runtime.ratelimit import PUBLIC_WRITE
from komerbij.runtime.service import Runtime, runtime_of

router = web.page_router()
PAGE_SIZE = 20
EMBED_SIZE = 15
FILTERS = ("gemeente", "zoek", "categorie", "doelgroep", "van", "tot", "waar")
WHERE = {"locatie": False, "online": True}


@dataclass
class Search:
    """What a visitor asked the agenda, as typed (`form`, for showing it again) and as understood (`filter`; None
    while something in the form is wrong)."""

    form: web.Form
    filter: AgendaFilter | None
    place: reference.Municipality | None

    @property
    def more_filters(self) -> bool:
        """Whether the filters beyond place and words are in use (or wrong): then they are shown unfolded."""
        more = ("categorie", "doelgroep", "waar", "tot")
        return any(self.form.values.get(k) for k in more) or any(k in self.form.errors for k in (*more, "van"))


def _today(rt: Runtime) -> date:
    return rt.clock.now().astimezone(AMSTERDAM).date()


def _day(text: str) -> date | None:
    """A date from a date field (2027-09-30) or as people type it where the browser offers no date field
    (30-09-2027, 30-9-2027, 30/09/2027)."""
    for parse in (date.fromisoformat, _dutch_day):
        try:
            day = parse(text)
        except ValueError:
            continue
        if 1900 <= day.year <= 2999:
            return day
    return None


def _dutch_day(text: str) -> date:
    parts = text.replace("/", "-").replace(".", "-").split("-")
    if len(parts) != 3:
        raise ValueError(text)
    d, m, y = (int(p) for p in parts)
    return date(y, m, d)


def read_search(params: QueryParams, today: date, page_size: int = PAGE_SIZE) -> Search:
    values = {name: params.get(name, "").strip() for name in FILTERS}
    if "van" not in params:
        values["van"] = today.isoformat()  # a first visit shows what is still to come
    form = web.Form(values=values)
    errors = form.errors
    place = None
    if values["gemeente"]:
        place = agenda.municipality_named(values["gemeente"])
        if place is None:
            like = agenda.municipalities_like(values["gemeente"])
            hint = f"; bedoelt u {' of '.join(like)}?" if like else "; kies een naam uit de lijst"
            errors["gemeente"] = f"we kennen geen gemeente ‘{values['gemeente']}’{hint}"
    days: dict[str, date | None] = {}
    for name in ("van", "tot"):
        days[name] = _day(values[name]) if values[name] else None
        if values[name] and days[name] is None:
            errors[name] = "geen geldige datum; schrijf die als 30-09-2027"
    if days["van"] and days["tot"] and days["tot"] < days["van"]:
        errors["tot"] = "de einddatum ligt vóór de begindatum"
    if values["categorie"] and values["categorie"] not in CATEGORIES:
        errors["categorie"] = "kies een van de mogelijkheden"
    if values["doelgroep"] and values["doelgroep"] not in TARGET_GROUPS:
        errors["doelgroep"] = "kies een van de mogelijkheden"
    if values["waar"] and values["waar"] not in WHERE:
        errors["waar"] = "kies een van de mogelijkheden"
    if len(values["zoek"]) > 200:
        errors["zoek"] = "gebruik hooguit 200 tekens"
    if errors:
        return Search(form, None, place)
    found = AgendaFilter(
        municipality=place.code if place else None, date_from=days["van"], date_to=days["tot"],
        category=values["categorie"] or None, target_group=values["doelgroep"] or None,
        online=WHERE.get(values["waar"]), q=values["zoek"] or None,
        page=web.Paging.number(params.get("pagina")), page_size=page_size,
    )
    return Search(form, found, place)


def _options(labels: dict[str, str]) -> list[tuple[str, str]]:
    return list(labels.items())


@router.get("/agenda", response_class=HTMLResponse, name="agenda")
async def agenda_page(request: Request) -> HTMLResponse:
    rt = runtime_of(request)
    search = read_search(request.query_params, _today(rt))
    items: list[Activity] = []
    total = 0
    if search.filter is not None:
        items, total = await agenda.search(rt, search.filter)
    paging = web.Paging(page=search.filter.page if search.filter else 1, page_size=PAGE_SIZE, total=total,
                        query=search.form.values)
    feed = f"/agenda.ics?gemeente={search.place.code}" if search.place else "/agenda.ics"
    return PAGES.render(
        request, "agenda.html", status_code=422 if search.form.has_errors else 200,
        search=search, items=items, total=total, paging=paging, feed=feed,
        webcal=f"webcal://{request.url.netloc}{feed}", names=agenda.municipality_names(),
        categories=_options(CATEGORIES), target_groups=_options(TARGET_GROUPS),
        where=[("locatie", "Op een locatie"), ("online", "Online of telefonisch")],
    )


@router.get("/agenda/embed", response_class=HTMLResponse, name="agenda_embed")
async def embed(request: Request) -> HTMLResponse:
    """For municipalities' own websites, in an iframe: what is coming up in the municipality, compact. The one page
    that may be framed by other sites; its links open in the whole window (`target="_top"`)."""
    rt = runtime_of(request)
    asked = request.query_params.get("gemeente", "").strip()
    place = agenda.municipality_named(asked) if asked else None
    items: list[Activity] = []
    total = 0
    if place is not None or not asked:
        found = AgendaFilter(municipality=place.code if place else None, date_from=_today(rt), page_size=EMBED_SIZE)
        items, total = await agenda.search(rt, found)
    return PAGES.render(request, "embed.html", framable=True, status_code=200 if place or not asked else 404,
                        place=place, asked=asked, items=items, total=total)


@router.get("/agenda.ics", name="agenda_feed")
async def feed(request: Request) -> Response:
    """The municipality's agenda to subscribe to in a calendar app (the API's `/v1/agenda.ics`, by name or code)."""
    asked = request.query_params.get("gemeente", "").strip()
    place = agenda.municipality_named(asked) if asked else None
    if asked and place is None:
        raise web.PageError(404, "Gemeente niet gevonden", f"We kennen geen gemeente ‘{asked}’.")
    return feed_response(request, await agenda.calendar_feed(runtime_of(request), place.code if place else None))


# Registered before `/agenda/{activity_id}`, which would otherwise take "<id>.ics" as the id.
@router.get("/agenda/{activity_id}.ics", name="activity_calendar")
async def activity_calendar(activity_id: str, request: Request) -> Response:
    """"Zet in je agenda": the activity as a calendar file."""
    rt = runtime_of(request)
    a = await activities.view(rt, None, known_id(activity_id))
    if not a.in_public_calendar:
        raise access.not_found()
    return Response(agenda.activity_calendar(rt, a), media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="activiteit-{a.id}.ics"'})


def _principal(request: Request) -> Any:
    user = web.current_user(request)
    return user.principal if user else None


def _signup_state(rt: Runtime, a: Activity) -> str:
    """Whether the form is shown: "open", or why not ("cancelled", "started", "not_published")."""
    if a.status == "cancelled":
        return "cancelled"
    if a.status != "published":
        return "not_published"
    if a.starts_at <= rt.clock.now():
        return "started"
    return "open"


async def _activity_page(request: Request, a: Activity, form: web.Form, status_code: int = 200) -> HTMLResponse:
    rt = runtime_of(request)
    return PAGES.render(request, "activity.html", status_code=status_code, a=a, form=form,
                        signup_state=_signup_state(rt, a))


@router.get("/agenda/{activity_id}", response_class=HTMLResponse, name="activity")
async def activity_page(activity_id: str, request: Request) -> HTMLResponse:
    """Published activities for everyone; the organisation and moderators also see drafts here (a preview)."""
    a = await activities.view(runtime_of(request), _principal(request), known_id(activity_id))
    return await _activity_page(request, a, web.Form(values={"party_size": "1"}))


def signup_request(form: web.Form) -> dict[str, Any]:
    """The form as the API's sign-up body: empty contact fields are none, a ticked box is consent."""
    body: dict[str, Any] = {
        "name": form.values.get("name", ""), "email": form.values.get("email", "").strip() or None,
        "phone": form.values.get("phone", "").strip() or None, "consent": "ja" in form.all("consent"),
    }
    if form.values.get("party_size", "").strip():
        body["party_size"] = form.values["party_size"].strip()
    return body


@router.post("/agenda/{activity_id}", response_class=HTMLResponse, dependencies=[PUBLIC_WRITE])
async def sign_up(activity_id: str, request: Request) -> Response:
    """The sign-up form posts here; the result is a page of its own (`/aanmelding/{id}`), so a reload asks nothing
    twice."""
    rt = runtime_of(request)
    a = await activities.view(rt, _principal(request), known_id(activity_id))
    form = await web.Form.read(request)
    body = signup_request(form)
    try:
        req = SignupRequest.model_validate(body)
    except ValidationError as exc:
        form.fail(exc)
        for field, message in signups.request_problems(body["email"], body["phone"], body["consent"]).items():
            form.errors.setdefault(field, message)
        return await _activity_page(request, a, form, status_code=422)
    try:
        placed = await signups.sign_up(rt, a.id, req)
    except ProblemError as problem:
        fresh = await activities.view(rt, _principal(request), a.id)  # full now, or cancelled meanwhile
        return await _activity_page(request, fresh, form.fail(problem), status_code=problem.status)
    signup_pages.remember(request, placed)
    return RedirectResponse(f"/aanmelding/{placed.signup.id}", status_code=303)
