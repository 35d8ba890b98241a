"""`/bestellen`: an organiser orders the kit for her organisation (municipality).

The page shows what each item is for, what is still in stock and how much of the municipality's quota is left, and
fills the delivery address in from the organisation's previous order. It calls the API's own use case
(`service.orders.place_order`), with an Idempotency-Key made when the form is drawn and sent along as a hidden
field: a double click, a reload of the answer or a resubmitted page sends the same key and gets the first order back,
never a second one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from komerbij.materials.domain.delivery import normalise_email, normalise_phone, normalise_postcode
from komerbij.materials.domain.orders import IdempotencyConflict, KitOrder, Line, RuleViolation, UnknownOrder
from komerbij.materials.entrypoints.pages.common import municipality_name, own_municipality, pages
from komerbij.materials.service import orders as ordering
from komerbij.materials.service.catalog import CatalogEntry
from komerbij.materials.settings import settings_of
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.service import runtime_of

router = web.page_router()
ORGANISER = web.login_required("organiser")

KEY_FIELD = "idempotency_key"
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,200}$")
_QUANTITY = re.compile(r"^\d{1,6}$")
_DUTCH_DATE = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")

# Text fields: (required message or None when optional, longest length) — the lengths the API's model allows.
_TEXT_FIELDS: dict[str, tuple[str | None, int]] = {
    "delivery_address.organisation": ("Vul de naam van de organisatie in.", 200),
    "delivery_address.attention": (None, 200),
    "delivery_address.street": ("Vul de straat en het huisnummer in.", 200),
    "delivery_address.city": ("Vul de plaats in.", 100),
}


@dataclass(frozen=True)
class ItemField:
    """One item of the catalog as the form shows it: the input `lines.<index>.quantity` and what to know."""

    index: int
    entry: CatalogEntry
    quota_left: int

    @property
    def name(self) -> str:
        return f"lines.{self.index}.quantity"


def _items(overview: ordering.OrderingOverview) -> list[ItemField]:
    return [ItemField(i, e, overview.quota_left(e)) for i, e in enumerate(overview.entries)]


def _new_key() -> str:
    return uuid.uuid4().hex


def _prefilled(overview: ordering.OrderingOverview, again: KitOrder | None) -> web.Form:
    """Address and contact of the organisation's previous order (or of the order to place again, with its items)."""
    source = again or overview.previous
    values: dict[str, str] = {KEY_FIELD: _new_key()}
    if source is not None:
        values.update({
            "delivery_address.organisation": source.organisation, "delivery_address.attention": source.attention or "",
            "delivery_address.street": source.street, "delivery_address.postcode": source.postcode,
            "delivery_address.city": source.city, "contact.email": source.contact_email or "",
            "contact.phone": source.contact_phone or "",
        })
    if again is not None:
        ordered = {line.sku: line.quantity for line in again.lines}
        for i, entry in enumerate(overview.entries):
            if entry.item.sku in ordered:
                values[f"lines.{i}.quantity"] = str(ordered[entry.item.sku])
    return web.Form(values)


def _render(request: Request, overview: ordering.OrderingOverview, form: web.Form, *, municipality: str,
            prefilled_from: str | None, status_code: int = 200) -> HTMLResponse:
    return pages.render(request, "order.html", status_code=status_code, form=form, overview=overview,
                        place=municipality_name(municipality),
                        items=_items(overview), prefilled_from=prefilled_from,
                        last_day=overview.edition.window_closes - timedelta(days=1))  # closed *on* that day


def _no_municipality(request: Request, who: Principal) -> HTMLResponse:
    return pages.render(request, "order_not_possible.html", who=who)


async def _overview(request: Request, municipality: str) -> ordering.OrderingOverview:
    rt = runtime_of(request)
    return await ordering.ordering_overview(rt, municipality=municipality, now=rt.clock.now(),
                                            close_days=settings_of(rt).order_window_close_days)


@router.get("/bestellen", response_class=HTMLResponse, name="order_form")
async def order_form(request: Request, van: str | None = None, who: Principal = ORGANISER) -> HTMLResponse:
    municipality = own_municipality(who)
    if municipality is None:
        return _no_municipality(request, who)
    overview = await _overview(request, municipality)
    again = None
    if van:  # "order again" from a rejected or earlier order: its items and address
        try:
            found = await ordering.get_order(runtime_of(request), van)
        except UnknownOrder:
            found = None
        again = found if found is not None and found.municipality == municipality else None
    form = _prefilled(overview, again)
    return _render(request, overview, form, municipality=municipality,
                   prefilled_from="again" if again else "previous" if overview.previous else None)


@router.post("/bestellen", response_class=HTMLResponse)
async def place_order(request: Request, who: Principal = ORGANISER) -> Response:
    municipality = own_municipality(who)
    if municipality is None:
        return _no_municipality(request, who)
    rt = runtime_of(request)
    form = await web.Form.read(request)
    overview = await _overview(request, municipality)
    if not _KEY.match(form.values.get(KEY_FIELD, "")):  # a form from elsewhere: from now on, this one counts
        form.values[KEY_FIELD] = _new_key()
    items = _items(overview)
    order_request, line_fields = _read(form, items)
    if order_request is None:
        return _render(request, overview, form, municipality=municipality, prefilled_from=None, status_code=422)
    try:
        placed = await ordering.place_order(
            rt, municipality=municipality, actor=who.subject, request=order_request,
            idempotency_key=form.values[KEY_FIELD], now=rt.clock.now(),
            close_days=settings_of(rt).order_window_close_days,
        )
    except RuleViolation as exc:
        form.errors[_form_field(exc.field, line_fields)] = exc.message
        return _render(request, overview, form, municipality=municipality, prefilled_from=None, status_code=422)
    except IdempotencyConflict:
        # The same page was sent before with other values (back, changed, sent again). Nothing is ordered twice;
        # a fresh key lets the person place this as a new order once she has checked it.
        form.values[KEY_FIELD] = _new_key()
        form.errors[""] = ("Dit formulier was al verstuurd, met andere aantallen of gegevens. Die eerdere bestelling "
                           "staat bij de bestellingen van uw organisatie. Wilt u dit óók bestellen? Controleer alles "
                           "en verstuur het formulier nog een keer.")
        return _render(request, overview, form, municipality=municipality, prefilled_from=None, status_code=409)
    outcome = "al-geplaatst" if placed.replayed else "geplaatst"
    return RedirectResponse(f"/bestellingen/{placed.order.id}?{outcome}=1", status_code=303)


def _form_field(field: str, line_fields: list[str]) -> str:
    """The use case names `lines.<n>.sku|quantity` by the n-th line it got; the form by the catalog's order."""
    match = re.fullmatch(r"lines\.(\d+)\.(sku|quantity)", field)
    if match and int(match.group(1)) < len(line_fields):
        return line_fields[int(match.group(1))]
    return field


def _read(form: web.Form, items: list[ItemField]) -> tuple[ordering.OrderRequest | None, list[str]]:
    """The order as typed, or None with a Dutch message at each field that is not right (the typed values stay)."""
    errors = form.errors
    lines: list[Line] = []
    line_fields: list[str] = []
    for item in items:
        raw = form.values.get(item.name, "").strip()
        if raw in ("", "0"):
            continue
        if not _QUANTITY.match(raw):
            errors[item.name] = f"Vul bij {item.entry.item.name} een aantal in als heel getal, bijvoorbeeld 10."
            continue
        sku = form.values.get(f"lines.{item.index}.sku", item.entry.item.sku).strip().upper()
        if int(raw) > 0:
            lines.append(Line(sku, int(raw)))
            line_fields.append(item.name)
    if not lines and not any(k.startswith("lines.") for k in errors):
        errors["lines"] = "Vul bij minstens één artikel in hoeveel u wilt bestellen."

    text: dict[str, str] = {}
    for name, (required, longest) in _TEXT_FIELDS.items():
        value = form.values.get(name, "").strip()
        if not value and required:
            errors[name] = required
        elif len(value) > longest:
            errors[name] = f"Dit is te lang: maximaal {longest} tekens."
        text[name] = value
    postcode = _checked(form, "delivery_address.postcode", "Vul de postcode in.", normalise_postcode)
    email = _checked(form, "contact.email", "Vul een e-mailadres in, zodat we u over de bestelling kunnen bereiken.",
                     normalise_email)
    phone = _checked(form, "contact.phone", None, normalise_phone)
    wanted_by = _wanted_by(form)
    if errors:
        return None, line_fields
    assert postcode is not None and email is not None and wanted_by is not None
    return ordering.OrderRequest(
        lines=tuple(lines), organisation=text["delivery_address.organisation"],
        attention=text["delivery_address.attention"] or None, street=text["delivery_address.street"],
        postcode=postcode, city=text["delivery_address.city"], contact_email=email, contact_phone=phone,
        wanted_by=wanted_by,
    ), line_fields


def _checked(form: web.Form, name: str, required: str | None, normalise: Callable[[str], str]) -> str | None:
    value = form.values.get(name, "").strip()
    if not value:
        if required:
            form.errors[name] = required
        return None
    try:
        return normalise(value)
    except ValueError as exc:  # the domain's own Dutch message, as the API gives it
        form.errors[name] = str(exc)
        return None


def _wanted_by(form: web.Form) -> date | None:
    """A date field sends 2027-09-20; someone typing (no date picker) may write 20-09-2027."""
    value = form.values.get("wanted_by", "").strip()
    if not value:
        form.errors["wanted_by"] = "Vul in wanneer u het pakket uiterlijk nodig heeft."
        return None
    dutch = _DUTCH_DATE.match(value)
    try:
        if dutch:
            return date(int(dutch.group(3)), int(dutch.group(2)), int(dutch.group(1)))
        return date.fromisoformat(value)
    except ValueError:
        form.errors["wanted_by"] = "Vul een bestaande datum in, bijvoorbeeld 15-09-2027."
        return None
