"""What the tests of registration's pages share: activities made through the JSON API (with local tokens), a
logged-in session for httpx without Keycloak (a cookie signed with the stack's SESSION_SECRET, as the login would
set it), the CSRF token of a page, and moving through a page with the keyboard."""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
from itsdangerous import TimestampSigner
from playwright.sync_api import Page
from support.frontdoor import SESSION_SECRET, Stack
from support.services import auth

from komerbij.registration.domain.edition import AMSTERDAM
from komerbij.runtime.reference import default_week
from komerbij.runtime.web import SESSION_COOKIE


def next_week() -> tuple[date, date]:
    """The next Week tegen Eenzaamheid that has not begun (registration seeds it at start): activities in it are
    open for sign-ups."""
    today = datetime.now(AMSTERDAM).date()
    year = today.year if default_week(today.year)[0] > today + timedelta(days=1) else today.year + 1
    return default_week(year)


def at(day: int, hour: int, minute: int = 0) -> str:
    """A moment in the next week, `day` days after its first day, as the API takes it."""
    start, _ = next_week()
    return datetime.combine(start + timedelta(days=day), time(hour, minute), AMSTERDAM).isoformat()


def activity_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Samen koken in De Linde", "category": "eettafel",
        "description": "Samen een maaltijd bereiden en eten. Iedereen is welkom, aanschuiven kan altijd.\n\n"
                       "Neem gerust iemand mee.",
        "starts_at": at(1, 17), "ends_at": at(1, 20),
        "venue": {"name": "Buurtkamer De Linde", "street": f"Lindengracht {uuid.uuid4().int % 9000 + 100}",
                  "postcode": "1015 KK", "city": "Amsterdam"},
        "municipality": "GM0363", "target_groups": ["ouderen", "iedereen"], "capacity": 12, "price_eur": 0,
        "accessibility": ["wheelchair"], "kom_erbij": True,
        "contact": {"name": "Welzijn West", "email": "info@example.org", "phone": "020 123 4567"},
    }
    body.update(overrides)
    return body


def api(stack: Stack) -> str:
    return f"{stack.url}/api/registration"


def organiser(municipality: str = "GM0363", subject: str | None = None) -> dict[str, str]:
    return auth("organiser", municipality=municipality, subject=subject or f"organiser-{uuid.uuid4().hex[:8]}")


def submit(stack: Stack, who: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    r = httpx.post(f"{api(stack)}/v1/activities", json=activity_body(**overrides), headers=who or organiser())
    assert r.status_code == 201, r.text
    return r.json()


def publish(stack: Stack, activity_id: str) -> None:
    r = httpx.post(f"{api(stack)}/v1/activities/{activity_id}/publish", headers=auth("moderator"))
    assert r.status_code == 200, r.text


def published(stack: Stack, who: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    a = submit(stack, who, **overrides)
    publish(stack, a["id"])
    return a


def sign_up(stack: Stack, activity_id: str, name: str = "Truus", party_size: int = 1,
            email: str | None = None) -> dict[str, Any]:
    r = httpx.post(f"{api(stack)}/v1/activities/{activity_id}/signups", json={
        "name": name, "email": email or f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.org", "phone": None,
        "party_size": party_size, "consent": True})
    assert r.status_code == 201, r.text
    return r.json()


def session_cookie(role: str, *, subject: str | None = None, name: str = "Test Persoon",
                   municipality: str | None = None, partner: str | None = None) -> tuple[dict[str, str], str]:
    """A signed session as `/auth/callback` leaves it after a login (see `komerbij.runtime.web.session.log_in`), and
    its CSRF token: pages can be tested with httpx, without Keycloak's form (the browser tests use the form)."""
    csrf = secrets.token_urlsafe(32)
    data = {"user": {"sub": subject or f"{role}-{uuid.uuid4().hex[:8]}", "name": name, "role": role,
                     "municipality": municipality, "partner": partner}, "csrf": csrf}
    # Starlette's SessionMiddleware: base64 of the JSON, signed with itsdangerous' TimestampSigner
    value = TimestampSigner(SESSION_SECRET).sign(base64.b64encode(json.dumps(data).encode())).decode()
    return {SESSION_COOKIE: value}, csrf


def logged_in(stack: Stack, role: str, **claims: Any) -> tuple[httpx.Client, str]:
    """An httpx client at the front door with a session for this role, and the session's CSRF token."""
    cookies, csrf = session_cookie(role, **claims)
    return httpx.Client(base_url=stack.url, cookies=cookies, headers={"accept": "text/html"}), csrf


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries no CSRF token"
    return match.group(1)


def text_of(html: str) -> str:
    """The page's words, tags and runs of white space gone, for asserting what people read."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").replace("&amp;", "&")


def field_error(html: str, field_id: str) -> str | None:
    """The message shown at the input with this id (the form macros' `<id>-fout`), or None."""
    match = re.search(rf'id="{re.escape(field_id)}-fout"[^>]*>(.*?)</div>', html, flags=re.S)
    return text_of(match.group(1)).removeprefix(" ").removeprefix("Fout: ").strip() if match else None


def input_value(html: str, field_id: str) -> str | None:
    match = re.search(rf'<input[^>]*id="{re.escape(field_id)}"[^>]*>', html, flags=re.S)
    if not match:
        return None
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else None


def tab_to(page: Page, description: str, is_it: str, limit: int = 80) -> None:
    """Press Tab until the focused element satisfies the JavaScript test `is_it` (given `el`); fails with what was
    reached when it never does. Only the keyboard moves the focus."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!el && ({is_it}); }})()"):
            return
        seen.append(page.evaluate("document.activeElement && (document.activeElement.id || "
                                  "document.activeElement.textContent.trim().slice(0, 30))"))
    raise AssertionError(f"Tab never reached {description}; it went through {seen}")
