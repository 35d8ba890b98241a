"""The organisers' room (`/organisator`): the organisation's activities with their status, seats and waitlist;
registering and changing an activity; the participant list (and its CSV); calling an activity off with a message
to the participants.

Every organiser of an organisation sees and manages all its activities, as in the API (`service.access`). The form
posts the fields the API takes, named as the API names them (`venue.postcode`), and calls the same use cases; a
field that is wrong gets its message beside it in Dutch and everything typed stays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from komerbij.registration.adapters import participant_list
from komerbij.registration.domain.activity import ACCESSIBILITY, CATEGORIES, STATUSES, TARGET_GROUPS, Activity
from komerbij.registration.domain.edit import HeldEdit
from komerbij.registration.domain.edition import AMSTERDAM, Edition
from komerbij.registration.entrypoints.pages.views import PAGES, STATUS_LABELS, flash, known_id
from komerbij.registration.service import activities, agenda, signups
from komerbij.registration.service.activities import as_fields
from komerbij.registration.service.commands import ActivityFields, Cancellation
from komerbij.registration.service.editions import list_editions
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import ProblemError
from komerbij.runtime.service import Runtime, runtime_of

router = web.page_router()
ORGANISER = web.login_required("organiser")
PAGE_SIZE = 20
VENUE = ("name", "street", "postcode", "city")
CONTACT = ("name", "email", "phone")


def _base(activity_id: str) -> str:
    return f"/organisator/activiteiten/{activity_id}"


@router.get("/organisator", response_class=HTMLResponse, name="organiser_home")
async def home(request: Request, who: Principal = ORGANISER) -> HTMLResponse:
    rt = runtime_of(request)
    status = request.query_params.get("status") or None
    if status not in (None, *STATUSES):
        status = None
    page = web.Paging.number(request.query_params.get("pagina"))
    found, total = await activities.of_organisation(rt, who, None, status, page, PAGE_SIZE)
    held = await activities.latest_edits(rt, [a.id for a, _ in found])
    paging = web.Paging(page=page, page_size=PAGE_SIZE, total=total, query={"status": status or ""})
    return PAGES.render(request, "organiser/list.html", items=found, held=held, total=total, paging=paging,
                        status=status, statuses=[(s, STATUS_LABELS[s]) for s in STATUSES],
                        form=web.Form(values={"status": status or ""}), organisation=who.organisation)


async def _week(rt: Runtime) -> Edition | None:
    """The edition organisers register for now: the one running, else the next."""
    today = rt.clock.now().astimezone(AMSTERDAM).date()
    return next((e for e in sorted(await list_editions(rt), key=lambda e: e.year) if e.ends_on >= today), None)


def _choices() -> dict[str, Any]:
    return {"categories": list(CATEGORIES.items()), "target_groups": list(TARGET_GROUPS.items()),
            "accessibility": list(ACCESSIBILITY.items()), "names": agenda.municipality_names()}


async def _form_page(request: Request, who: Principal, form: web.Form, a: Activity | None = None,
                     status_code: int = 200, held: HeldEdit | None = None) -> HTMLResponse:
    rt = runtime_of(request)
    return PAGES.render(request, "organiser/form.html", status_code=status_code, form=form, a=a, held=held,
                        week=await _week(rt), picks_municipality=who.municipality is None or who.is_admin,
                        **_choices())


def _local(value: str) -> str:
    """An ISO time with offset as the value of a datetime-local input (Amsterdam time, to the minute)."""
    return datetime.fromisoformat(value).astimezone(AMSTERDAM).strftime("%Y-%m-%dT%H:%M")


def form_of(fields: dict[str, Any]) -> web.Form:
    """An activity in the API's form (`as_fields`) as the values of the page's form."""
    values: dict[str, str] = {
        "title": fields["title"], "description": fields["description"], "category": fields["category"],
        "starts_at": _local(fields["starts_at"]), "ends_at": _local(fields["ends_at"]),
        "online_url": fields["online_url"] or "", "phone": fields["phone"] or "",
        "municipality": (agenda.municipality_named(fields["municipality"]).name  # type: ignore[union-attr]
                         if fields["municipality"] else ""),
        "capacity": "" if fields["capacity"] is None else str(fields["capacity"]),
        "max_party_size": str(fields["max_party_size"]),
        "price_eur": "" if not fields["price_eur"] else f"{fields['price_eur']:.2f}".replace(".", ","),
    }
    for part in VENUE:
        values[f"venue.{part}"] = (fields["venue"] or {}).get(part) or ""
    for part in CONTACT:
        values[f"contact.{part}"] = fields["contact"].get(part) or ""
    lists = {"target_groups": list(fields["target_groups"]), "accessibility": list(fields["accessibility"]),
             "kom_erbij": ["ja"] if fields["kom_erbij"] else []}
    return web.Form(values=values, lists=lists)


def activity_body(form: web.Form, municipality: str | None) -> dict[str, Any]:
    """The page's form as the API's body. An empty required field is left out (so it reads "vul dit in"), empty
    optional ones are none, and a venue only counts when something of it was filled in."""
    v = {k: value.strip() for k, value in form.values.items()}
    body: dict[str, Any] = {
        "title": v.get("title", ""), "description": v.get("description", ""),
        "online_url": v.get("online_url") or None, "phone": v.get("phone") or None,
        "target_groups": form.all("target_groups"), "accessibility": form.all("accessibility"),
        "kom_erbij": "ja" in form.all("kom_erbij"), "municipality": municipality,
        "contact": {part: v.get(f"contact.{part}") or (None if part != "name" else "") for part in CONTACT},
        "capacity": v.get("capacity") or None,
    }
    body["category"] = v.get("category", "")  # empty: "kies een van de mogelijkheden" at the select
    for name in ("starts_at", "ends_at", "max_party_size"):
        if v.get(name):
            body[name] = v[name]
    if v.get("price_eur"):
        body["price_eur"] = v["price_eur"].replace(",", ".").removeprefix("€").strip()
    venue = {part: v.get(f"venue.{part}", "") for part in VENUE}
    body["venue"] = venue if any(venue.values()) else None
    return body


def _municipality(form: web.Form, who: Principal, current: str | None) -> str | None:
    """Municipal organisers register in their own municipality (the token says which); national partners and admins
    name one (or none: national or online). Unknown names get a message at the field."""
    if who.municipality and not who.is_admin:
        return current or who.municipality
    typed = form.values.get("municipality", "").strip()
    if not typed:
        return None
    place = agenda.municipality_named(typed)
    if place is None:
        like = agenda.municipalities_like(typed)
        hint = f"; bedoelt u {' of '.join(like)}?" if like else ""
        form.errors["municipality"] = f"we kennen geen gemeente ‘{typed}’{hint}"
        return None
    return place.code


def _validated(form: web.Form, who: Principal, current_municipality: str | None) -> ActivityFields | None:
    municipality = _municipality(form, who, current_municipality)
    try:
        fields = ActivityFields.model_validate(activity_body(form, municipality))
    except ValidationError as exc:
        form.fail(exc)
        return None
    return None if form.has_errors else fields


@router.get("/organisator/activiteiten/nieuw", response_class=HTMLResponse, name="new_activity")
async def new_form(request: Request, who: Principal = ORGANISER) -> HTMLResponse:
    form = web.Form(values={"max_party_size": "4"}, lists={"target_groups": [], "accessibility": []})
    return await _form_page(request, who, form)


@router.post("/organisator/activiteiten/nieuw", response_class=HTMLResponse)
async def create(request: Request, who: Principal = ORGANISER) -> Response:
    rt = runtime_of(request)
    form = await web.Form.read(request)
    fields = _validated(form, who, None)
    if fields is None:
        return await _form_page(request, who, form, status_code=422)
    try:
        a = await activities.submit(rt, who, fields)
    except ProblemError as problem:
        return await _form_page(request, who, form.fail(problem), status_code=problem.status)
    flash(request, "Uw activiteit staat in de agenda." if a.status == "published" else
          "Uw activiteit is aangemeld. Een moderator kijkt ernaar; daarna komt ze in de agenda.")
    return RedirectResponse(_base(a.id), status_code=303)


async def _owned(rt: Runtime, who: Principal, activity_id: str) -> tuple[Activity, list[Any]]:
    """The activity and its sign-ups, for its own organisation only (the use case checks)."""
    return await signups.participants(rt, who, known_id(activity_id))


@router.get("/organisator/activiteiten/{activity_id}", response_class=HTMLResponse, name="organiser_activity")
async def detail(activity_id: str, request: Request, who: Principal = ORGANISER) -> HTMLResponse:
    rt = runtime_of(request)
    a, people = await _owned(rt, who, activity_id)
    held = (await activities.latest_edits(rt, [a.id])).get(a.id)
    waiting = [s for s in people if s.status == "waitlisted"]
    return PAGES.render(request, "organiser/detail.html", a=a, held=held, confirmed=sum(
        1 for s in people if s.status == "confirmed"), waiting=len(waiting),
        waiting_seats=sum(s.party_size for s in waiting))


def _proposed(a: Activity, held: HeldEdit | None) -> dict[str, Any]:
    """What the organisation last asked for: the approved version with a pending proposal on top."""
    return {**as_fields(a), **(held.fields if held is not None and held.status == "pending" else {})}


@router.get("/organisator/activiteiten/{activity_id}/wijzigen", response_class=HTMLResponse, name="edit_activity")
async def edit_form(activity_id: str, request: Request, who: Principal = ORGANISER) -> HTMLResponse:
    rt = runtime_of(request)
    a, _ = await _owned(rt, who, activity_id)
    _editable(a)
    held = (await activities.latest_edits(rt, [a.id])).get(a.id)
    return await _form_page(request, who, form_of(_proposed(a, held)), a, held=held)


def _editable(a: Activity) -> None:
    if a.status == "cancelled":
        raise web.PageError(409, "Niet meer te wijzigen", "Deze activiteit is geannuleerd; wijzigen kan niet meer.")


def _differs(old: Any, new: Any) -> bool:
    if isinstance(old, list) and isinstance(new, list):
        return set(old) != set(new)  # the same choices in another order are no change
    return bool(old != new)


@router.post("/organisator/activiteiten/{activity_id}/wijzigen", response_class=HTMLResponse)
async def edit(activity_id: str, request: Request, who: Principal = ORGANISER) -> Response:
    rt = runtime_of(request)
    a, _ = await _owned(rt, who, activity_id)
    _editable(a)
    held = (await activities.latest_edits(rt, [a.id])).get(a.id)
    form = await web.Form.read(request)
    fields = _validated(form, who, a.municipality)
    if fields is None:
        return await _form_page(request, who, form, a, status_code=422, held=held)
    before = _proposed(a, held)
    wanted = fields.model_dump(mode="json")
    changes = {k: v for k, v in wanted.items() if _differs(before[k], v)}
    try:
        fresh = await activities.edit(rt, who, a.id, changes)
    except ProblemError as problem:
        return await _form_page(request, who, form.fail(problem), a, status_code=problem.status, held=held)
    now_held = (await activities.latest_edits(rt, [a.id])).get(a.id)
    if not changes:
        flash(request, "Er was niets gewijzigd.")
    elif now_held is not None and now_held.status == "pending" and (held is None or now_held.id != held.id):
        flash(request, "Uw wijziging wacht op een moderator. Tot die haar goedkeurt, "
              "staat de oude versie in de agenda.")
    elif fresh.status == "submitted" and a.status == "rejected":
        flash(request, "Uw activiteit is gewijzigd en gaat opnieuw naar de moderator.")
    else:
        flash(request, "Uw wijziging is opgeslagen.")
    return RedirectResponse(_base(a.id), status_code=303)


@router.get("/organisator/activiteiten/{activity_id}/deelnemers", response_class=HTMLResponse, name="participants")
async def participants(activity_id: str, request: Request, who: Principal = ORGANISER) -> HTMLResponse:
    a, people = await _owned(runtime_of(request), who, activity_id)
    return PAGES.render(request, "organiser/participants.html", a=a, people=people,
                        active=[s for s in people if s.status != "cancelled"],
                        headers={"Cache-Control": "private, no-store"})


@router.get("/organisator/activiteiten/{activity_id}/deelnemers.csv", name="participants_csv")
async def participants_csv(activity_id: str, request: Request, who: Principal = ORGANISER) -> Response:
    a, people = await _owned(runtime_of(request), who, activity_id)
    return Response(participant_list.participants_csv(people), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{participant_list.filename(a.id)}"',
                             "Cache-Control": "no-store"})


async def _cancel_page(request: Request, a: Activity, people: list[Any], form: web.Form,
                       status_code: int = 200) -> HTMLResponse:
    active = [s for s in people if s.status != "cancelled"]
    return PAGES.render(request, "organiser/cancel.html", status_code=status_code, a=a, form=form,
                        active=len(active), reachable=sum(1 for s in active if s.email))


@router.get("/organisator/activiteiten/{activity_id}/annuleren", response_class=HTMLResponse, name="cancel_activity")
async def cancel_form(activity_id: str, request: Request, who: Principal = ORGANISER) -> HTMLResponse:
    a, people = await _owned(runtime_of(request), who, activity_id)
    _editable(a)
    return await _cancel_page(request, a, people, web.Form())


@router.post("/organisator/activiteiten/{activity_id}/annuleren", response_class=HTMLResponse)
async def cancel(activity_id: str, request: Request, who: Principal = ORGANISER) -> Response:
    rt = runtime_of(request)
    a, people = await _owned(rt, who, activity_id)
    _editable(a)
    form = await web.Form.read(request)
    try:
        message = Cancellation.model_validate({"message": form.values.get("message") or None}).message
    except ValidationError as exc:
        return await _cancel_page(request, a, people, form.fail(exc), status_code=422)
    await activities.cancel(rt, who, a.id, message)
    flash(request, "De activiteit is geannuleerd. Iedereen die zich had aangemeld, krijgt bericht"
          + (" met uw toelichting." if message else "."))
    return RedirectResponse(_base(a.id), status_code=303)
