"""Helpers of the tests that use notifications' pages in-process (no browser): a logged-in session, CSRF tokens."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
from itsdangerous import TimestampSigner
from support.services import JWT_SECRET

from komerbij.runtime.web import SESSION_COOKIE

CSRF = "csrf-token-of-the-tests"


def log_in_as(client: httpx.AsyncClient, role: str, *, secret: str = JWT_SECRET, **claims: Any) -> None:
    """The session cookie the login callback would set (Starlette's signed session; SESSION_SECRET falls back to
    JWT_SECRET in these services), with a CSRF token the test knows."""
    session = {"user": {"sub": f"test-{role}", "name": f"Test {role}", "role": role, **claims}, "csrf": CSRF}
    value = TimestampSigner(secret).sign(base64.b64encode(json.dumps(session).encode())).decode()
    client.cookies.set(SESSION_COOKIE, value)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page's forms carry no CSRF token"
    return match.group(1)


def field_value(html: str, name: str) -> str | None:
    match = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', html)
    return match.group(1) if match else None


def error_at(html: str, name: str) -> str | None:
    """The message shown at the field `name` (the form macros' `<id>-fout`), or None."""
    field_id = "veld-" + name.replace(".", "-").replace("_", "-")
    match = re.search(rf'id="{re.escape(field_id)}-fout"><span[^>]*>Fout: </span>([^<]*)<', html)
    return match.group(1).strip() if match else None
