"""Login for people: OpenID Connect authorization code flow with PKCE against OIDC_ISSUER (Keycloak), and logout.

`/login?next=/bestellen` sends the browser to the issuer's login form; `/auth/callback` exchanges the code (with the
PKCE verifier and the client secret, when there is one), checks the ID token (signature from the issuer's JWKS,
issuer, audience, nonce) and starts the session; `POST /logout` ends the session here and at the issuer. Every
service has these routes (shared runtime code); the front door sends them to registration. Authlib does the
protocol; its state (state, nonce, code verifier) waits in the session between the two requests.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from komerbij.runtime.settings import ServiceSettings
from komerbij.runtime.web.csrf import page_router
from komerbij.runtime.web.errors import PageError
from komerbij.runtime.web.pages import render_shared, safe_next
from komerbij.runtime.web.session import current_user, log_in, log_out

with warnings.catch_warnings():  # Authlib 1.9 asks for `httpx2`; its fallback to httpx (pinned here) is what we use
    import authlib.deprecate  # it sets its warnings to "always" when imported: import it first, then quieten them

    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App

log = logging.getLogger(__name__)
router = page_router()
_CLIENT = "issuer"


def configure(app: FastAPI, settings: ServiceSettings) -> None:
    """Register the issuer as an OAuth client of this app (nothing is fetched until the first login)."""
    app.state.oidc_client = None
    if not settings.oidc_issuer:
        return
    issuer = settings.oidc_issuer.rstrip("/")
    client_kwargs: dict[str, Any] = {"scope": "openid profile", "code_challenge_method": "S256"}
    if not settings.oidc_client_secret:
        client_kwargs["token_endpoint_auth_method"] = "none"  # a public client: PKCE is its only proof
    oauth = OAuth()
    oauth.register(
        _CLIENT, client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration", client_kwargs=client_kwargs,
    )
    app.state.oidc_client = oauth.create_client(_CLIENT)


def _client(request: Request) -> StarletteOAuth2App:
    client = getattr(request.app.state, "oidc_client", None)
    if client is None:
        raise PageError(503, "Inloggen is niet beschikbaar",
                        "Inloggen is op deze omgeving niet ingesteld. Probeer het later nog eens.")
    return client


@router.get("/login", name="login")
async def login(request: Request, next: str = "/") -> Response:
    target = safe_next(next)
    if current_user(request) is not None:
        return RedirectResponse(target, status_code=303)
    client = _client(request)
    request.session["login_next"] = target
    redirect_uri = str(request.url_for("auth_callback"))
    try:
        return await client.authorize_redirect(request, redirect_uri)
    except Exception as exc:  # the issuer is unreachable or answers nonsense
        log.warning("login: issuer unavailable: %s", type(exc).__name__)
        raise PageError(503, "Inloggen lukt nu niet",
                        "De inlogdienst is op dit moment niet bereikbaar. Probeer het over een paar minuten "
                        "nog eens.") from None


@router.get("/auth/callback", name="auth_callback")
async def auth_callback(request: Request) -> Response:
    client = _client(request)
    if request.query_params.get("error"):  # the person cancelled, or the issuer refused
        return render_shared(request, "login_failed.html", status_code=400, title="Inloggen is niet gelukt")
    try:
        token = await client.authorize_access_token(request)
    except OAuthError as exc:
        log.info("login refused: %s", exc.error)
        return render_shared(request, "login_failed.html", status_code=400, title="Inloggen is niet gelukt")
    claims = token.get("userinfo") or {}
    if not claims.get("sub"):
        return render_shared(request, "login_failed.html", status_code=400, title="Inloggen is niet gelukt")
    target = safe_next(request.session.get("login_next"))
    user = log_in(request, dict(claims), token.get("id_token"))
    log.info("login", extra={"role": user.role})
    return RedirectResponse(target, status_code=303)


@router.post("/logout", name="logout")
async def logout(request: Request) -> Response:
    """A POST with the form's CSRF token: a link elsewhere cannot log someone out."""
    id_token = log_out(request)
    home = str(request.url_for("login").replace(path="/", query=""))
    client = getattr(request.app.state, "oidc_client", None)
    if client is None or id_token is None:
        return RedirectResponse("/", status_code=303)
    try:
        metadata = await client.load_server_metadata()
    except Exception:
        log.warning("logout: issuer unavailable; the session here has ended")
        return RedirectResponse("/", status_code=303)
    end_session = metadata.get("end_session_endpoint")
    if not end_session:
        return RedirectResponse("/", status_code=303)
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": home,
                       "client_id": client.client_id})
    return RedirectResponse(f"{end_session}?{query}", status_code=303)
