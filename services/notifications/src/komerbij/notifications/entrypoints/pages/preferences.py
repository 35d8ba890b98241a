"""A partner contact's own page, `/voorkeuren/{token}`, linked from every mail they get: which events, where, how
often, and unsubscribing from everything. No login: the signed token in the link is the key (see
service/preferences.py). A GET never changes anything; a POST carries the page's CSRF token and is rate limited.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from komerbij.notifications.domain.partners import NotFound, PartnerRuleError
from komerbij.notifications.domain.places import municipality_codes, municipality_names
from komerbij.notifications.entrypoints.pages.common import at_field, flash, take_flash
from komerbij.notifications.entrypoints.pages.labels import EVENT_OPTIONS, mode_options
from komerbij.notifications.service import preferences
from komerbij.notifications.settings import settings_of
from komerbij.runtime import reference, web
from komerbij.runtime.http import field_errors
from komerbij.runtime.ratelimit import PUBLIC_WRITE
from komerbij.runtime.service import runtime_of

router = web.page_router()
pages = web.Pages("komerbij.notifications")

# The page's address holds the key to it: kept out of caches and out of the Referer of whatever it links to.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_INVALID = web.PageError(
    404, "Deze link werkt niet",
    "De link naar uw voorkeuren is ongeldig of verlopen. Gebruik de link in de nieuwste e-mail die u van ons kreeg.",
    headers=PRIVATE,
)
SAVED = "Uw voorkeuren zijn opgeslagen."
UNSUBSCRIBED = "U bent afgemeld. U ontvangt geen meldingen meer van de Week tegen Eenzaamheid."


def _prefix(i: int) -> str:
    return f"subscriptions.{i}."


def _form_of(prefs: preferences.Preferences) -> web.Form:
    """The form as the subscriptions stand; a partner without one gets an empty one to fill in."""
    form = web.Form()
    subscriptions = prefs.subscriptions or [{"id": "", "event_types": [], "municipalities": [], "provinces": [],
                                             "mode": "immediate"}]
    for i, s in enumerate(subscriptions):
        p = _prefix(i)
        form.values[p + "id"] = s["id"]
        form.lists[p + "event_types"] = list(s["event_types"])
        form.values[p + "municipalities"] = municipality_names(s["municipalities"])
        form.lists[p + "provinces"] = list(s["provinces"])
        form.values[p + "mode"] = s["mode"]
    return form


def _blocks(form: web.Form) -> int:
    count = 0
    while _prefix(count) + "id" in form.values:
        count += 1
    return count


def _render(request: Request, token: str, prefs: preferences.Preferences, form: web.Form, *,
            status_code: int = 200) -> HTMLResponse:
    return pages.render(
        request, "pages/preferences.html", status_code=status_code, headers=PRIVATE, token=token, prefs=prefs,
        form=form, blocks=max(_blocks(form), 1), flash=take_flash(request), event_options=EVENT_OPTIONS,
        province_options=[(p, p) for p in reference.provinces()],
        mode_options=mode_options(settings_of(runtime_of(request)).digest_time),
    )


@router.get("/voorkeuren/{token}", response_class=HTMLResponse)
async def preferences_page(token: str, request: Request) -> HTMLResponse:
    prefs = await preferences.preferences(runtime_of(request), token)
    if prefs is None:
        raise _INVALID
    return _render(request, token, prefs, _form_of(prefs))


def _wanted(form: web.Form) -> tuple[list[preferences.Wanted], dict[str, str]]:
    """The subscriptions the form asks for, and what in it names no municipality."""
    wanted, errors = [], {}
    for i in range(_blocks(form)):
        p = _prefix(i)
        codes, unknown = municipality_codes(form.values.get(p + "municipalities", ""))
        if not form.all(p + "event_types"):  # the use case says so too, but then only after the places are right
            errors[p + "event_types"] = "Kies minstens één soort melding."
        if unknown:
            errors[p + "municipalities"] = ("Deze gemeente kennen wij niet: " if len(unknown) == 1 else
                                            "Deze gemeenten kennen wij niet: ") + ", ".join(unknown)
        wanted.append(preferences.Wanted(
            id=form.values.get(p + "id") or None, event_types=form.all(p + "event_types"), municipalities=codes,
            provinces=form.all(p + "provinces"), mode=form.values.get(p + "mode", ""),
        ))
    return wanted, errors


@router.post("/voorkeuren/{token}", response_class=HTMLResponse, dependencies=[PUBLIC_WRITE])
async def save_preferences(token: str, request: Request) -> Response:
    rt = runtime_of(request)
    prefs = await preferences.preferences(rt, token)
    if prefs is None:
        raise _INVALID
    form = await web.Form.read(request)
    wanted, errors = _wanted(form)
    if not wanted:  # a form that is not this page's
        raise web.PageError(400, "Formulier niet compleet", "Laad de pagina opnieuw en probeer het nog eens.",
                            headers=PRIVATE)
    if errors:
        return _render(request, token, prefs, form.fail(field_errors(errors)), status_code=422)
    try:
        saved = await preferences.save(rt, token, wanted)
    except PartnerRuleError as exc:
        return _render(request, token, prefs, form.fail(at_field(exc)), status_code=422)
    except preferences.Unsubscribed:
        return _render(request, token, prefs, form, status_code=409)
    except NotFound:
        raise web.PageError(409, "Uw voorkeuren zijn intussen veranderd",
                            "Laad de pagina opnieuw: u ziet dan de voorkeuren zoals ze nu zijn.",
                            headers=PRIVATE) from None
    if not saved:
        raise _INVALID
    flash(request, SAVED)
    return RedirectResponse(f"/voorkeuren/{token}", status_code=303, headers=PRIVATE)


@router.post("/voorkeuren/{token}/afmelden", response_class=HTMLResponse, dependencies=[PUBLIC_WRITE])
async def unsubscribe_everything(token: str, request: Request) -> Response:
    rt = runtime_of(request)
    if await preferences.unsubscribe_everything(rt, token, rt.clock.now()) is None:
        raise _INVALID
    flash(request, UNSUBSCRIBED)
    return RedirectResponse(f"/voorkeuren/{token}", status_code=303, headers=PRIVATE)
