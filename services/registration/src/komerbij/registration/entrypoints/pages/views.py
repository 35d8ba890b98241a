"""How registration's pages show activities to people: Dutch dates and times, statuses, places left, addresses and
the route link, organisations by name. Presentation only; the pages' data comes from the service layer."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request

from komerbij.registration.domain.activity import ACCESSIBILITY, CATEGORIES, TARGET_GROUPS, Activity, Venue
from komerbij.registration.domain.edition import AMSTERDAM
from komerbij.runtime import reference, web
from komerbij.runtime.reference import dutch_date

WEEKDAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
STATUS_LABELS = {"submitted": "In beoordeling", "published": "Gepubliceerd", "rejected": "Afgewezen",
                 "cancelled": "Geannuleerd"}
SIGNUP_STATUS_LABELS = {"confirmed": "Aangemeld", "waitlisted": "Wachtlijst", "cancelled": "Geannuleerd"}
EDIT_STATUS_LABELS = {"pending": "wacht op beoordeling", "approved": "goedgekeurd", "rejected": "afgewezen",
                      "superseded": "vervangen door een nieuwere wijziging", "withdrawn": "ingetrokken"}
FIELD_LABELS = {
    "title": "Titel", "description": "Beschrijving", "category": "Soort activiteit", "starts_at": "Begint",
    "ends_at": "Eindigt", "venue": "Locatie", "online_url": "Link om online mee te doen",
    "phone": "Telefoonnummer om mee te doen", "municipality": "Gemeente", "target_groups": "Voor wie",
    "capacity": "Aantal plaatsen", "max_party_size": "Hoeveel personen per aanmelding", "price_eur": "Prijs",
    "accessibility": "Toegankelijkheid", "contact": "Contact voor vragen", "kom_erbij": "Kom erbij",
}


def known_id(value: str) -> str:
    """Ids are UUIDs; anything else is a page that does not exist."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        message = "Deze pagina bestaat niet (meer). Controleer het adres, of begin op de startpagina."
        raise web.PageError(404, "Pagina niet gevonden", message) from None


def local(moment: datetime) -> datetime:
    return moment.astimezone(AMSTERDAM)


def day(moment: datetime | date) -> str:
    """"donderdag 30 september 2027"."""
    d = local(moment).date() if isinstance(moment, datetime) else moment
    return f"{WEEKDAYS[d.weekday()]} {dutch_date(d)}"


def when(a: Activity) -> str:
    """"donderdag 30 september 2027, 17:00–20:00 uur" (or until another day)."""
    return span(a.starts_at, a.ends_at)


def span(starts_at: datetime, ends_at: datetime) -> str:
    start, end = local(starts_at), local(ends_at)
    if start.date() == end.date():
        return f"{day(start)}, {start:%H:%M}–{end:%H:%M} uur"
    return f"{day(start)}, {start:%H:%M} uur tot {day(end)}, {end:%H:%M} uur"


def places_left(a: Activity) -> int | None:
    return None if a.capacity is None else max(a.capacity - a.seats_taken, 0)


def places(a: Activity) -> str:
    left = places_left(a)
    if left is None:
        return "Er is plek voor iedereen"
    if left == 0:
        return "Vol — wachtlijst"
    return f"Nog {left} van de {a.capacity} {'plaats' if a.capacity == 1 else 'plaatsen'} vrij"


def price(a: Activity) -> str:
    if a.free:
        return "Gratis"
    return "€ " + f"{a.price_eur:.2f}".replace(".", ",")


def where_short(a: Activity) -> str:
    """One line for a list: the venue and its place, or how to join from home."""
    if a.venue is not None:
        return f"{a.venue.name}, {a.venue.city}"
    return "Online" if a.online_url else "Telefonisch"


def address(v: Venue) -> str:
    return f"{v.street}, {v.postcode} {v.city}"


def route_url(v: Venue) -> str:
    """A route planner for the address: a plain link to OpenStreetMap (the page itself loads nothing from there)."""
    return "https://www.openstreetmap.org/directions?to=" + quote(f"{v.street}, {v.postcode} {v.city}")


def municipality_name(code: str | None) -> str | None:
    place = reference.municipality(code) if code else None
    return place.name if place else code


def organisation_name(organisation: str | None) -> str:
    """GM0363 → "gemeente Amsterdam"; partner:zonnebloem → "partner zonnebloem"."""
    if not organisation:
        return "onbekend"
    if organisation.startswith("partner:"):
        return f"partner {organisation.removeprefix('partner:')}"
    return f"gemeente {municipality_name(organisation)}"


def category(a: Activity) -> str:
    return CATEGORIES.get(a.category, a.category)


def target_groups(values: list[str]) -> str:
    return ", ".join(TARGET_GROUPS.get(v, v) for v in values)


def accessibility(values: list[str]) -> list[str]:
    return [ACCESSIBILITY.get(v, v) for v in values]


def paragraphs(text: str) -> list[str]:
    """Blank lines separate paragraphs in what organisers type."""
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


def field_value(name: str, value: Any) -> str:
    """A field of an activity as the API writes it (held edits), in words for a moderator."""
    if value is None or value == "" or value == []:
        return "—"
    if name in ("starts_at", "ends_at"):
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return f"{day(moment)}, {local(moment):%H:%M} uur"
    if name == "venue" and isinstance(value, dict):
        return f"{value.get('name')}, {value.get('street')}, {value.get('postcode')} {value.get('city')}"
    if name == "contact" and isinstance(value, dict):
        return ", ".join(str(value[k]) for k in ("name", "email", "phone") if value.get(k))
    if name == "category":
        return CATEGORIES.get(value, value)
    if name == "target_groups":
        return target_groups(value)
    if name == "accessibility":
        return ", ".join(accessibility(value))
    if name == "municipality":
        return municipality_name(value) or "—"
    if isinstance(value, bool):
        return "ja" if value else "nee"
    return str(value)


# What the templates use, as Jinja filters and globals.
FILTERS = {"when": when, "places": places, "price": price, "where_short": where_short, "address": address,
           "route_url": route_url, "municipality_name": municipality_name, "organisation_name": organisation_name,
           "category": category, "target_groups": target_groups, "accessibility": accessibility,
           "paragraphs": paragraphs, "day": day, "field_label": lambda name: FIELD_LABELS.get(name, name)}
GLOBALS = {"take_flash": lambda request: take_flash(request), "STATUS_LABELS": STATUS_LABELS,
           "SIGNUP_STATUS_LABELS": SIGNUP_STATUS_LABELS,
           "EDIT_STATUS_LABELS": EDIT_STATUS_LABELS, "FIELD_LABELS": FIELD_LABELS, "field_value": field_value,
           "places_left": places_left, "span": span}


def pages() -> web.Pages:
    """Registration's templates with these filters: one renderer for all its pages."""
    rendered = web.Pages("komerbij.registration")
    rendered.env.filters.update(FILTERS)
    rendered.env.globals.update(GLOBALS)
    return rendered


PAGES = pages()


_FLASH = "melding"


def flash(request: Request, message: str) -> None:
    """A message for the next page this person sees ("Uw activiteit is aangemeld"): after a POST comes a redirect."""
    request.session[_FLASH] = message


def take_flash(request: Request) -> str | None:
    message = request.session.pop(_FLASH, None) if "session" in request.scope else None
    return message if isinstance(message, str) else None
