"""Rendering a page: a service's own template inside the shared layout, with who is logged in and a CSRF token.

    pages = Pages("komerbij.registration")          # the service's templates/ first, then the runtime's
    return pages.render(request, "home.html", edition=edition)

Every page gets `user` (or None), `csrf_field()`, `nav` (the rooms this person may enter), `login_url`, `path`,
`static(...)` and `dutch_date`; the layout, the form macros (`macros/form.html`) and the error page live here once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from komerbij.runtime.reference import dutch_date
from komerbij.runtime.web.csrf import CSRF_FIELD, csrf_token
from komerbij.runtime.web.session import User, current_user

SITE_NAME = "Week tegen Eenzaamheid"
STATIC_PREFIX = "/static"


@dataclass(frozen=True)
class Room:
    """A part of the site for one kind of visitor; `roles` empty: for everyone."""

    href: str
    label: str
    roles: tuple[str, ...] = ()

    def open_to(self, user: User | None) -> bool:
        if not self.roles:
            return True
        return user is not None and (user.role == "admin" or user.role in self.roles
                                     or ("partner" in self.roles and user.partner is not None))


# The header's navigation: what the front door routes (deploy/frontdoor/routes.yaml) and who it is for.
ROOMS: tuple[Room, ...] = (
    Room("/agenda", "Agenda"),
    Room("/organisator", "Voor organisatoren"),
    Room("/bestellen", "Kit bestellen", ("organiser",)),
    Room("/moderatie", "Moderatie", ("moderator",)),
    Room("/magazijn", "Magazijn", ("fulfilment",)),
    Room("/media", "Media", ("comms",)),
    Room("/partners", "Partners", ("admin",)),  # the partner register is the programme team's
)


def navigation(user: User | None, path: str) -> list[dict[str, Any]]:
    return [{"href": r.href, "label": r.label, "current": path == r.href or path.startswith(r.href + "/")}
            for r in ROOMS if r.open_to(user)]


def safe_next(target: str | None) -> str:
    """Only a path on this site may follow a login or logout (no open redirect to another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


@cache
def _static_version(path: str) -> str:
    """A short content hash, so a changed stylesheet is fetched anew while an unchanged one stays cached."""
    try:
        data = resources.files("komerbij.runtime.web").joinpath("static", path).read_bytes()
    except (FileNotFoundError, OSError):
        return "0"
    return hashlib.sha256(data).hexdigest()[:10]


def static_url(path: str) -> str:
    return f"{STATIC_PREFIX}/{path}?v={_static_version(path)}"


def _shared_loader() -> PackageLoader:
    return PackageLoader("komerbij.runtime.web", "templates")


def make_environment(package: str | None = None) -> Environment:
    loaders = [PackageLoader(package, "templates")] if package else []
    env = Environment(
        loader=ChoiceLoader([*loaders, _shared_loader()]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt variable fails the page's test instead of rendering nothing
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(static=static_url, site_name=SITE_NAME, dutch_date=dutch_date)
    env.filters["dutch_date"] = dutch_date
    return env


# Everything a page loads comes from us. (No form-action: the logout form's answer redirects to the issuer, whose
# address for browsers may differ from the one the services use, e.g. in docker compose.)
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; font-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'")


def security_headers(request: Request) -> dict[str, str]:
    csp = _CSP
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }


class Pages:
    """The templates of one service (its `templates/` folder) on top of the shared layout and macros."""

    def __init__(self, package: str | None = None) -> None:
        self.env = make_environment(package)

    def render(self, request: Request, template: str, *, status_code: int = 200,
               headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**page_context(request), **context)
        response_headers = {**security_headers(request), **(headers or {})}
        if "session" in request.scope and request.session:
            response_headers.setdefault("Cache-Control", "private, no-store")  # personal: never in a shared cache
        return HTMLResponse(html, status_code=status_code, headers=response_headers)


def page_context(request: Request) -> dict[str, Any]:
    user = current_user(request)
    path = request.url.path

    def csrf_field() -> Markup:
        return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token(request))

    query = f"?{request.url.query}" if request.url.query else ""
    return {
        "request": request,
        "user": user,
        "path": path,
        "nav": navigation(user, path),
        "login_enabled": getattr(request.app.state, "oidc_client", None) is not None,
        "login_url": f"/login?next={quote(path + query, safe='/')}",
        "csrf_field": csrf_field,
        "csrf_token": lambda: csrf_token(request),
    }


_shared = Pages()


def render_shared(request: Request, template: str, **kwargs: Any) -> HTMLResponse:
    """The runtime's own pages (errors, login problems)."""
    return _shared.render(request, template, **kwargs)
