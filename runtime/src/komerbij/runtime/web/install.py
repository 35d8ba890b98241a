"""What `create_app` adds to every service for the pages: session, static files, login routes, HTML error pages."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from komerbij.runtime.bodylimit import BodyTooLarge
from komerbij.runtime.settings import ServiceSettings
from komerbij.runtime.web import login
from komerbij.runtime.web.errors import LoginRequired, PageError
from komerbij.runtime.web.pages import STATIC_PREFIX, render_shared
from komerbij.runtime.web.session import SessionByScheme

_HTML_TITLES = {404: "Pagina niet gevonden", 405: "Dat kan hier niet", 401: "Niet ingelogd", 403: "Geen toegang",
                413: "Te groot om te versturen"}
_HTML_MESSAGES = {
    404: "Deze pagina bestaat niet (meer). Controleer het adres, of begin op de startpagina.",
    405: "Deze pagina kan zo niet worden gebruikt. Begin op de startpagina.",
    413: "Wat u verstuurde (bijvoorbeeld een bestand) is groter dan deze pagina aanneemt. Ga terug en kies een "
         "kleiner bestand.",
}


class VersionedStaticFiles(StaticFiles):
    """The shared static files; a URL with `?v=<content hash>` (what `static()` writes) may be cached for a year."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200 and b"v=" in scope.get("query_string", b""):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def wants_html(request: Request) -> bool:
    """A browser navigating (Accept names text/html) gets a Dutch page; API clients keep problem JSON."""
    return "text/html" in request.headers.get("accept", "")


def install(app: FastAPI, settings: ServiceSettings) -> None:
    app.add_middleware(SessionByScheme, secret=settings.session_key, max_age=settings.session_max_age_seconds)
    static_dir = os.path.join(os.path.dirname(__file__), "static")
    app.mount(STATIC_PREFIX, VersionedStaticFiles(directory=static_dir, check_dir=False), name="static")
    login.configure(app, settings)
    app.include_router(login.router)
    json_http_handler: Any = app.exception_handlers.get(StarletteHTTPException)
    json_too_large_handler: Any = app.exception_handlers.get(BodyTooLarge)

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return render_shared(request, "error.html", status_code=exc.status, headers=exc.headers,
                             title=exc.title, message=exc.message)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> Response:
        """A page's upload over its limit: a Dutch page for the browser (the connection still closes)."""
        if wants_html(request) or json_too_large_handler is None:
            return render_shared(request, "error.html", status_code=413, headers=exc.headers,
                                 title=_HTML_TITLES[413], message=_HTML_MESSAGES[413])
        return await json_too_large_handler(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request) and exc.status_code in _HTML_TITLES:
            return render_shared(request, "error.html", status_code=exc.status_code,
                                 title=_HTML_TITLES[exc.status_code],
                                 message=_HTML_MESSAGES.get(exc.status_code, str(exc.detail)))
        return await json_http_handler(request, exc)
