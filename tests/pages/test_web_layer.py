"""The shared web layer on a small app of its own (no database, no broker): CSRF, session cookie, forms that keep
what was typed, who may see a page, Dutch error pages. The same code runs in every service (create_app installs it).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from jinja2 import DictLoader

from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import field_errors, install_problem_handlers
from komerbij.runtime.settings import ServiceSettings
from komerbij.runtime.web.session import log_in

FORM_PAGE = """{% extends "layout.html" %}
{% import "macros/form.html" as f %}
{% block title %}Voorbeeld{% endblock %}
{% block content %}
{{ f.error_summary(form) }}
<form method="post" action="/voorbeeld" novalidate>
  {{ csrf_field() }}
  {{ f.text_field(form, "venue.postcode", "Postcode", autocomplete="postal-code") }}
  {{ f.text_field(form, "name", "Naam") }}
  {{ f.submit("Versturen") }}
</form>
{% endblock %}"""


def make_app(**settings: object) -> FastAPI:
    config = ServiceSettings(database_url="postgresql://unused", kafka_bootstrap_servers="unused:9092",
                             jwt_secret="web-layer-test-secret", **settings)
    app = FastAPI()
    install_problem_handlers(app)
    web.install(app, config)
    pages = web.Pages()
    pages.env.loader.loaders.insert(0, DictLoader({"voorbeeld.html": FORM_PAGE}))  # type: ignore[union-attr]
    router = web.page_router()

    @router.get("/voorbeeld", response_class=HTMLResponse)
    async def show(request: Request) -> HTMLResponse:
        return pages.render(request, "voorbeeld.html", form=web.Form())

    @router.post("/voorbeeld", response_class=HTMLResponse)
    async def send(request: Request) -> HTMLResponse:
        form = await web.Form.read(request)
        if not re.fullmatch(r"\d{4} ?[A-Z]{2}", form.values.get("venue.postcode", "")):
            form.fail(field_errors({"venue.postcode": "Vul een postcode in zoals 1234 AB"}))
            return pages.render(request, "voorbeeld.html", form=form, status_code=422)
        return HTMLResponse("verstuurd")

    @router.get("/alleen-moderatoren", response_class=HTMLResponse)
    async def moderators_only(request: Request, who: Principal = web.login_required("moderator")) -> HTMLResponse:
        return HTMLResponse(f"welkom {who.role}")

    @router.post("/test-login")  # stands in for the issuer's callback
    async def fake_login(request: Request) -> HTMLResponse:
        log_in(request, {"sub": "u1", "name": "Esther Bakker", "role": (await request.form())["role"]}, None)
        return HTMLResponse("ok")

    app.include_router(router)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://test") as c:
        yield c


def token_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries no CSRF token"
    return match.group(1)


async def test_a_form_post_without_or_with_a_wrong_csrf_token_is_refused_with_a_dutch_page(client) -> None:
    page = await client.get("/voorbeeld")
    token = token_in(page.text)
    for data in ({"name": "Anna"}, {"name": "Anna", "csrf_token": "not-the-token"}):
        refused = await client.post("/voorbeeld", data=data, headers={"accept": "text/html"})
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")
        assert '<html lang="nl"' in refused.text and "Formulier niet geaccepteerd" in refused.text
    accepted = await client.post("/voorbeeld", data={"name": "Anna", "venue.postcode": "1234 AB",
                                                     "csrf_token": token})
    assert accepted.status_code == 200 and accepted.text == "verstuurd"


async def test_the_csrf_token_of_another_session_is_refused(client) -> None:
    token = token_in((await client.get("/voorbeeld")).text)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://test") as other:
        await other.get("/voorbeeld")  # a session of its own
        refused = await other.post("/voorbeeld", data={"name": "x", "csrf_token": token})
    assert refused.status_code == 403


async def test_htmx_may_send_the_token_as_a_header(client) -> None:
    token = token_in((await client.get("/voorbeeld")).text)
    sent = await client.post("/voorbeeld", data={"venue.postcode": "1234 AB"}, headers={"X-CSRF-Token": token})
    assert sent.status_code == 200


async def test_a_refused_form_keeps_what_was_typed_and_names_the_field(client) -> None:
    token = token_in((await client.get("/voorbeeld")).text)
    answer = await client.post("/voorbeeld", data={"name": "Anna <de Vries>", "venue.postcode": "12",
                                                   "csrf_token": token})
    assert answer.status_code == 422
    html = answer.text
    assert 'value="Anna &lt;de Vries&gt;"' in html and 'value="12"' in html  # kept, and escaped
    assert 'href="#veld-venue-postcode">Vul een postcode in zoals 1234 AB</a>' in html  # the summary links to it
    field = re.search(r'<input[^>]*id="veld-venue-postcode"[^>]*>', html)
    assert field and 'aria-invalid="true"' in field.group(0)
    assert 'aria-describedby="veld-venue-postcode-fout"' in field.group(0)
    assert 'id="veld-venue-postcode-fout"' in html


async def test_session_cookie_is_httponly_samesite_lax_and_secure_only_over_https() -> None:
    app = make_app()
    for base, secure in (("http://test", False), ("https://test", True)):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as c:
            answer = await c.get("/voorbeeld")  # the form's CSRF token starts a session
        raw = answer.headers["set-cookie"]
        morsel = SimpleCookie(raw)[web.SESSION_COOKIE]
        assert morsel["httponly"] is True
        assert morsel["samesite"].lower() == "lax"
        assert morsel["path"] == "/"
        assert bool(morsel["secure"]) is secure, raw


async def test_a_page_without_a_form_sets_no_cookie(client) -> None:
    answer = await client.get("/toegang-zonder-formulier", headers={"accept": "text/html"})  # rendered, no form
    assert answer.status_code == 404
    assert "set-cookie" not in answer.headers


async def test_a_page_for_a_role_sends_a_visitor_to_login_and_refuses_other_roles(client) -> None:
    anonymous = await client.get("/alleen-moderatoren?x=1")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/alleen-moderatoren%3Fx%3D1"
    token = token_in((await client.get("/voorbeeld")).text)
    await client.post("/test-login", data={"role": "organiser", "csrf_token": token})
    refused = await client.get("/alleen-moderatoren", headers={"accept": "text/html"})
    assert refused.status_code == 403 and "Geen toegang" in refused.text
    assert "Esther Bakker" in refused.text  # the header shows who is logged in
    token = token_in(refused.text)
    await client.post("/test-login", data={"role": "moderator", "csrf_token": token})
    assert (await client.get("/alleen-moderatoren")).text == "welkom moderator"


async def test_unknown_pages_are_dutch_html_for_browsers_and_problem_json_for_api_clients(client) -> None:
    browser = await client.get("/bestaat-niet", headers={"accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 404 and "Pagina niet gevonden" in browser.text
    assert browser.headers["content-security-policy"].startswith("default-src 'self'")
    api = await client.get("/bestaat-niet")
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


async def test_login_without_a_configured_issuer_says_so_in_dutch(client) -> None:
    answer = await client.get("/login", headers={"accept": "text/html"})
    assert answer.status_code == 503 and "Inloggen is niet beschikbaar" in answer.text


@pytest.mark.parametrize("target", ["https://elders.example/", "//elders.example/x", "/\\elders.example", "x", ""])
def test_after_login_only_a_path_on_this_site_is_followed(target: str) -> None:
    assert web.safe_next(target) == "/"


def test_a_path_on_this_site_is_followed() -> None:
    assert web.safe_next("/bestellen?stap=2") == "/bestellen?stap=2"


async def test_static_files_are_served_and_versioned_urls_cached_long(client) -> None:
    url = web.static_url("komerbij.css")
    answer = await client.get(url)
    assert answer.status_code == 200 and "--utrecht-button-primary-action-background-color" in answer.text
    assert "immutable" in answer.headers["cache-control"]
    vendor = await client.get(web.static_url("vendor/utrecht/component-library.css"))
    assert vendor.status_code == 200, "run `make install`: the NL Design System CSS is built there"
