"""The partner register for the programme team (role admin), `/partners`: partners, their contacts, webhooks (send
a test event, enable a disabled one) and subscriptions, and the delivery log with filters.

Every page calls the use cases the admin API calls (service/partners.py, service/privacy.py); nothing here talks to
the database or a webhook itself.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Awaitable
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from komerbij.notifications.domain.digest import AMSTERDAM
from komerbij.notifications.domain.partners import Conflict, NotFound, PartnerRuleError
from komerbij.notifications.domain.places import municipality_codes, municipality_names
from komerbij.notifications.entrypoints.api.partners import ContactIn, PartnerIn, WebhookIn
from komerbij.notifications.entrypoints.pages.common import at_field, flash, sentence, take_flash
from komerbij.notifications.entrypoints.pages.labels import (
    CHANNELS_NL,
    EVENT_OPTIONS,
    EVENTS_NL,
    KIND_OPTIONS,
    KINDS_NL,
    LOGGED_EVENTS_NL,
    SECTOR_OPTIONS,
    STATUSES_NL,
    mode_options,
    recipient_nl,
)
from komerbij.notifications.service import partners, privacy
from komerbij.notifications.settings import settings_of
from komerbij.runtime import reference, web
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import ProblemError, field_errors
from komerbij.runtime.service import runtime_of

router = web.page_router()
pages = web.Pages("komerbij.notifications")
ADMIN = web.login_required("admin")
LOG_LIMIT = 100
T = TypeVar("T")

_GONE = web.PageError(404, "Niet gevonden", "Deze partner, contactpersoon of webhook bestaat niet (meer).")


async def _guarded(call: Awaitable[T]) -> T:
    """A use case's refusal as a message at its field (ProblemError); an unknown object as the 404 page."""
    try:
        return await call
    except (PartnerRuleError, Conflict) as exc:
        raise at_field(exc) from None
    except NotFound:
        raise _GONE from None


def _optional(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _GONE from None


def new_webhook_secret() -> str:
    """A secret the form offers (whsec_ + base64 of 32 random bytes): pass it on to the partner with the URL."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# --- the list of partners ----------------------------------------------------------------------------------------

def _render_list(request: Request, items: list[dict[str, Any]], form: web.Form, *,
                 status_code: int = 200) -> HTMLResponse:
    return pages.render(request, "pages/partners.html", status_code=status_code, partners=items, form=form,
                        flash=take_flash(request), kinds=KINDS_NL, kind_options=KIND_OPTIONS,
                        sector_options=SECTOR_OPTIONS, municipality_name=_municipality_name)


def _municipality_name(code: str | None) -> str:
    found = reference.municipality(code) if code else None
    return found.name if found else (code or "")


@router.get("/partners", response_class=HTMLResponse)
async def partner_list(request: Request, who: Principal = ADMIN) -> HTMLResponse:
    items = await partners.list_partners(runtime_of(request), None)
    return _render_list(request, items, web.Form())


@router.post("/partners", response_class=HTMLResponse)
async def create_partner(request: Request, who: Principal = ADMIN) -> Response:
    rt = runtime_of(request)
    form = await web.Form.read(request)
    values = {k: _optional(form.values.get(k)) for k in ("id", "name", "kind", "sector", "municipality")}
    if values["municipality"] and not values["municipality"].upper().startswith("GM"):
        codes, _ = municipality_codes(values["municipality"])  # a name typed instead of the CBS code
        values["municipality"] = codes[0] if len(codes) == 1 else values["municipality"]
    try:
        body = PartnerIn(**{k: v for k, v in values.items() if v is not None})
        partner_id = await _guarded(partners.create_partner(
            rt, partner_id=body.id, name=body.name, kind=body.kind, sector=body.sector,
            municipality=body.municipality))
    except (ValidationError, ProblemError) as exc:
        items = await partners.list_partners(rt, None)
        return _render_list(request, items, form.fail(_dutch(exc)), status_code=422)
    flash(request, f"Partner {body.name} is toegevoegd.")
    return RedirectResponse(f"/partners/{partner_id}", status_code=303)


_PYDANTIC_NL = {"missing": "Vul dit in.", "string_too_short": "Vul dit in.", "string_too_long": "Dit is te lang.",
                "literal_error": "Kies een van de mogelijkheden.", "enum": "Kies een van de mogelijkheden."}
_CHOOSE_NL = {"kind": "Kies een soort partner.", "sector": "Kies een sector uit de lijst."}
_PATTERNS_NL = {"id": "Alleen letters, cijfers en . _ : - (geen spaties).",
                "municipality": "Vul een gemeente in, of haar CBS-code (GM en 4 cijfers)."}


def _dutch(exc: ValidationError | ProblemError) -> ProblemError:
    """pydantic's English messages in Dutch, at the same fields; a use case's messages as sentences."""
    if isinstance(exc, ProblemError):
        for entry in exc.errors or []:
            entry["message"] = sentence(entry["message"])
        return exc
    errors: dict[str, str] = {}
    for e in exc.errors():
        name = ".".join(str(part) for part in e["loc"])
        message = (_CHOOSE_NL.get(name) if e["type"] in ("missing", "literal_error", "enum") else None) or \
            _PYDANTIC_NL.get(e["type"]) or _PATTERNS_NL.get(name) or "Dit klopt niet."
        errors.setdefault(name, message)
    return field_errors(errors)


# --- one partner ---------------------------------------------------------------------------------------------------

def _render_partner(request: Request, partner: dict[str, Any], *, forms: dict[str, web.Form] | None = None,
                    status_code: int = 200) -> HTMLResponse:
    forms = forms or {}
    webhook_form = forms.get("webhook") or web.Form({"secret": new_webhook_secret()})
    subscription_form = forms.get("subscription") or web.Form({"mode": "immediate"})
    return pages.render(
        request, "pages/partner.html", status_code=status_code, partner=partner, flash=take_flash(request),
        kinds=KINDS_NL, events=EVENTS_NL, municipality_name=_municipality_name,
        municipality_names=municipality_names, contact_form=forms.get("contact") or web.Form(),
        webhook_form=webhook_form, subscription_form=subscription_form, event_options=EVENT_OPTIONS,
        province_options=[(p, p) for p in reference.provinces()],
        mode_options=mode_options(settings_of(runtime_of(request)).digest_time),
        modes=dict(mode_options(settings_of(runtime_of(request)).digest_time)), dutch_moment=dutch_moment,
    )


def dutch_moment(value: datetime | None) -> str:
    """"2 oktober 2026, 14:05" in Dutch time."""
    if value is None:
        return ""
    local = value.astimezone(AMSTERDAM)
    return f"{reference.dutch_date(local.date())}, {local:%H:%M}"


async def _partner(request: Request, partner_id: str) -> dict[str, Any]:
    return await _guarded(partners.get_partner(runtime_of(request), partner_id))


@router.get("/partners/bezorgingen", response_class=HTMLResponse)
async def delivery_log(request: Request, who: Principal = ADMIN) -> HTMLResponse:
    """Filters in the query string (a GET form: the address of a filtered log can be shared)."""
    rt = runtime_of(request)
    query = request.query_params
    form = web.Form({k: query.get(k, "") for k in ("partner", "status", "channel", "van", "tot")})
    errors: dict[str, str] = {}
    since = _day(query.get("van"), "van", errors)
    until = _day(query.get("tot"), "tot", errors)
    if since and until and until < since:
        errors["tot"] = "De einddatum ligt vóór de begindatum."
    status = query.get("status") or None
    channel = query.get("channel") or None
    if status and status not in STATUSES_NL:
        errors["status"] = "Kies een van de mogelijkheden."
    if channel and channel not in CHANNELS_NL:
        errors["channel"] = "Kies een van de mogelijkheden."
    all_partners = await partners.list_partners(rt, None)
    items: list[dict[str, Any]] = []
    if errors:
        form.fail(field_errors(errors))
    else:
        items = await partners.delivery_log(
            rt, partner=query.get("partner") or None, status=status, channel=channel, limit=LOG_LIMIT,
            since=_start_of(since) if since else None,
            until=_start_of(until + timedelta(days=1)) if until else None)
    names = {p["id"]: p["name"] for p in all_partners}
    return pages.render(
        request, "pages/deliveries.html", status_code=422 if errors else 200, form=form, items=items,
        flash=take_flash(request), limit=LOG_LIMIT, partner_options=[(p["id"], p["name"]) for p in all_partners],
        status_options=list(STATUSES_NL.items()), channel_options=list(CHANNELS_NL.items()), partner_names=names,
        events=LOGGED_EVENTS_NL, statuses=STATUSES_NL, channels=CHANNELS_NL, recipient=recipient_nl,
        dutch_moment=dutch_moment, back=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    )


def _day(value: str | None, name: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = "Vul een datum in, bijvoorbeeld 2026-10-01."
        return None


def _start_of(day: date) -> datetime:
    """Midnight in Amsterdam: the log's days are the programme team's days."""
    return datetime.combine(day, time(0), tzinfo=AMSTERDAM)


@router.post("/partners/bezorgingen/{delivery_id}/opnieuw", response_class=HTMLResponse)
async def retry_delivery(delivery_id: str, request: Request, who: Principal = ADMIN) -> Response:
    form = await web.Form.read(request)
    try:
        await partners.retry_delivery(runtime_of(request), _uuid(delivery_id))
        flash(request, "De bezorging wordt opnieuw verstuurd.")
    except Conflict as exc:
        flash(request, sentence(str(exc)), "warning")
    except NotFound:
        raise _GONE from None
    back = web.safe_next(form.values.get("terug"))
    return RedirectResponse(back if back.startswith("/partners/bezorgingen") else "/partners/bezorgingen",
                            status_code=303)


@router.get("/partners/{partner_id}", response_class=HTMLResponse)
async def partner_page(partner_id: str, request: Request, who: Principal = ADMIN) -> HTMLResponse:
    return _render_partner(request, await _partner(request, partner_id))


@router.post("/partners/{partner_id}/contactpersonen", response_class=HTMLResponse)
async def add_contact(partner_id: str, request: Request, who: Principal = ADMIN) -> Response:
    form = await web.Form.read(request)
    try:
        body = ContactIn(name=form.values.get("name", "").strip(), email=form.values.get("email", "").strip(),
                         confirmed_consent=form.values.get("confirmed_consent") == "ja")
        await _guarded(partners.add_contact(runtime_of(request), partner_id, name=body.name, email=body.email,
                                            confirmed_consent=body.confirmed_consent))
    except (ValidationError, ProblemError) as exc:
        return _render_partner(request, await _partner(request, partner_id),
                               forms={"contact": form.fail(_dutch(exc))}, status_code=422)
    flash(request, f"Contactpersoon {body.name} is toegevoegd.")
    return RedirectResponse(f"/partners/{partner_id}#contactpersonen", status_code=303)


@router.post("/partners/{partner_id}/contactpersonen/{contact_id}/wissen", response_class=HTMLResponse)
async def erase_contact(partner_id: str, contact_id: str, request: Request, who: Principal = ADMIN) -> Response:
    partner = await _partner(request, partner_id)
    if contact_id not in {c["id"] for c in partner["contacts"]}:
        raise _GONE
    await privacy.erase_contact(runtime_of(request), _uuid(contact_id), "erased on request")
    flash(request, "De contactpersoon en zijn of haar adres zijn gewist.")
    return RedirectResponse(f"/partners/{partner_id}#contactpersonen", status_code=303)


@router.post("/partners/{partner_id}/webhooks", response_class=HTMLResponse)
async def add_webhook(partner_id: str, request: Request, who: Principal = ADMIN) -> Response:
    form = await web.Form.read(request)
    try:
        body = WebhookIn(url=form.values.get("url", "").strip(), secret=form.values.get("secret", "").strip())
        try:
            await _guarded(partners.add_webhook(runtime_of(request), partner_id, url=body.url, secret=body.secret))
        except ValueError as exc:  # the secret, saying what is wrong with it
            raise field_errors({"secret": sentence(str(exc))}) from None
    except (ValidationError, ProblemError) as exc:
        return _render_partner(request, await _partner(request, partner_id),
                               forms={"webhook": form.fail(_dutch(exc))}, status_code=422)
    flash(request, "De webhook is toegevoegd. Stuur een testbericht om te zien of hij werkt.")
    return RedirectResponse(f"/partners/{partner_id}#webhooks", status_code=303)


@router.post("/partners/{partner_id}/webhooks/{webhook_id}/test", response_class=HTMLResponse)
async def test_webhook(partner_id: str, webhook_id: str, request: Request, who: Principal = ADMIN) -> Response:
    sent = await _guarded(partners.send_test_event(runtime_of(request), partner_id, _uuid(webhook_id)))
    if sent.ok:
        flash(request, f"Het testbericht is afgeleverd: de ontvanger antwoordde HTTP {sent.status}.")
    else:
        flash(request, f"Het testbericht is niet afgeleverd: {_failure_nl(sent.status, sent.error)}", "error")
    return RedirectResponse(f"/partners/{partner_id}#webhooks", status_code=303)


def _failure_nl(status: int | None, error: str | None) -> str:
    if status is not None:
        return f"de ontvanger antwoordde HTTP {status}."
    if error and error.startswith("timeout"):
        return "de ontvanger antwoordde niet op tijd."
    if error and error.startswith("refused"):
        return "dit adres mogen wij niet bereiken (alleen openbare adressen)."
    return f"geen verbinding ({error or 'onbekende fout'})."


@router.post("/partners/{partner_id}/webhooks/{webhook_id}/inschakelen", response_class=HTMLResponse)
async def enable_webhook(partner_id: str, webhook_id: str, request: Request, who: Principal = ADMIN) -> Response:
    await _guarded(partners.enable_webhook(runtime_of(request), partner_id, _uuid(webhook_id)))
    flash(request, "De webhook is weer ingeschakeld: nieuwe meldingen gaan er weer heen. Wat mislukte terwijl hij "
                   "uit stond, kunt u vanuit het bezorglog opnieuw versturen.")
    return RedirectResponse(f"/partners/{partner_id}#webhooks", status_code=303)


@router.post("/partners/{partner_id}/abonnementen", response_class=HTMLResponse)
async def add_subscription(partner_id: str, request: Request, who: Principal = ADMIN) -> Response:
    form = await web.Form.read(request)
    codes, unknown = municipality_codes(form.values.get("municipalities", ""))
    errors = {}
    if not form.all("event_types"):  # the use case says so too, but only once the places are right
        errors["event_types"] = "Kies minstens één soort melding."
    if unknown:
        errors["municipalities"] = "Deze gemeente(n) kennen wij niet: " + ", ".join(unknown)
    try:
        if errors:
            raise field_errors(errors)
        await _guarded(partners.add_subscription(
            runtime_of(request), partner_id, event_types=form.all("event_types"), municipalities=codes,
            provinces=form.all("provinces"), mode=form.values.get("mode", "")))
    except ProblemError as exc:
        for entry in exc.errors or []:
            entry["field"] = entry["field"].split(".")[0]  # event_types.2 → at its group of checkboxes
        return _render_partner(request, await _partner(request, partner_id),
                               forms={"subscription": form.fail(exc)}, status_code=422)
    flash(request, "Het abonnement is toegevoegd.")
    return RedirectResponse(f"/partners/{partner_id}#abonnementen", status_code=303)


@router.post("/partners/{partner_id}/abonnementen/{subscription_id}/verwijderen", response_class=HTMLResponse)
async def delete_subscription(partner_id: str, subscription_id: str, request: Request,
                              who: Principal = ADMIN) -> Response:
    await _guarded(partners.delete_subscription(runtime_of(request), partner_id, _uuid(subscription_id)))
    flash(request, "Het abonnement is verwijderd.")
    return RedirectResponse(f"/partners/{partner_id}#abonnementen", status_code=303)
