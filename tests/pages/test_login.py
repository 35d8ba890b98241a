"""Login for people through Keycloak's real login form (OIDC code flow with PKCE), the shared session, logout; and
Keycloak's RS256 access tokens accepted by the JSON APIs beside the local HS256 ones.

These tests start Keycloak (a session fixture, ~20-30 s and ~500 MB, once per run).
"""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import jwt
import pytest
from playwright.sync_api import Browser, Page
from support.browser import axe_violations, new_context
from support.frontdoor import Stack
from support.keycloak import password_token
from support.services import auth

from komerbij.devtools.keycloak import DEMO_PASSWORD, KeycloakServer
from komerbij.runtime.auth import TokenVerifier
from komerbij.runtime.http import ProblemError
from komerbij.runtime.web import SESSION_COOKIE

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def log_in(page: Page, stack: Stack, username: str, start: str = "/") -> None:
    page.goto(stack.url + start)
    page.get_by_role("link", name="Inloggen").click()
    page.locator("#username").fill(username)  # Keycloak's own login form
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("#kc-login").click()
    page.wait_for_url(re.compile(re.escape(stack.url) + r"/.*"))


def session_cookie(page: Page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == SESSION_COOKIE), None)


def test_an_organiser_logs_in_through_keycloaks_form_and_every_service_knows_her(
    stack: Stack, keycloak: KeycloakServer, browser: Browser
) -> None:
    context = new_context(browser)
    try:
        page = context.new_page()
        log_in(page, stack, "organisator-amsterdam", start="/toegankelijkheid")
        assert page.url == f"{stack.url}/toegankelijkheid"  # back where she started
        assert "Ingelogd als Anna de Vries (organisator, Amsterdam)" in page.locator("header").inner_text()
        assert page.get_by_role("link", name="Kit bestellen").is_visible()  # her role's rooms are in the menu
        cookie = session_cookie(page)
        assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        assert cookie["secure"] is False  # plain http on 127.0.0.1; https makes it Secure (test_web_layer)
        # materials renders this page (no /bestellen page yet: its 404 in the shared layout) from the same cookie
        page.goto(f"{stack.url}/bestellen")
        assert "Ingelogd als Anna de Vries" in page.locator("header").inner_text()
    finally:
        context.close()


def test_logout_ends_the_session_here_and_at_keycloak(stack: Stack, keycloak: KeycloakServer,
                                                      browser: Browser) -> None:
    context = new_context(browser)
    try:
        page = context.new_page()
        log_in(page, stack, "moderator")
        assert "Ingelogd als Esther Bakker (moderator)" in page.locator("header").inner_text()
        page.get_by_role("button", name="Uitloggen").click()
        page.wait_for_url(f"{stack.url}/")
        assert page.get_by_role("link", name="Inloggen").is_visible()
        assert "Ingelogd" not in page.locator("header").inner_text()
        assert session_cookie(page) is None
        page.get_by_role("link", name="Inloggen").click()  # Keycloak asks again: its own session ended too
        page.locator("#username").wait_for()
    finally:
        context.close()


def test_a_logged_in_page_has_no_wcag_violation(stack: Stack, keycloak: KeycloakServer, browser: Browser) -> None:
    context = new_context(browser, "phone", bypass_csp=True)
    try:
        page = context.new_page()
        log_in(page, stack, "organisator-rotterdam")
        assert "Rotterdam" in page.locator("header").inner_text()
        page.wait_for_load_state("networkidle")
        assert axe_violations(page) == []
    finally:
        context.close()


def test_the_session_cookie_from_the_front_door_is_signed(stack: Stack, keycloak: KeycloakServer,
                                                          browser: Browser) -> None:
    """A cookie someone edits (another role, another municipality) is not accepted: nobody is logged in."""
    context = new_context(browser)
    try:
        page = context.new_page()
        log_in(page, stack, "organisator-amsterdam-2")
        cookie = session_cookie(page)
        assert cookie is not None
        value = cookie["value"]
        forged = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
        answer = httpx.get(f"{stack.url}/", cookies={SESSION_COOKIE: forged})
        assert "Ingelogd" not in answer.text
        assert "<strong>Bram Jansen</strong>" in httpx.get(f"{stack.url}/", cookies={SESSION_COOKIE: value}).text
    finally:
        context.close()


def test_the_apis_accept_keycloaks_rs256_access_tokens_with_role_and_municipality(
    stack: Stack, keycloak: KeycloakServer
) -> None:
    tokens = password_token(keycloak, "organisator-amsterdam")
    access = tokens["access_token"]
    assert jwt.get_unverified_header(access)["alg"] == "RS256"
    principal = TokenVerifier(secret=None, jwks_url=keycloak.jwks_url, issuer=keycloak.issuer,
                              audience="komerbij").verify(access)
    assert (principal.role, principal.municipality, principal.partner) == ("organiser", "GM0363", None)
    bearer = {"Authorization": f"Bearer {access}"}
    orders = httpx.get(f"{stack.url}/api/materials/v1/orders", headers=bearer)
    assert orders.status_code == 200, orders.text
    moderator = password_token(keycloak, "moderator")["access_token"]
    refused = httpx.get(f"{stack.url}/api/materials/v1/orders", headers={"Authorization": f"Bearer {moderator}"})
    assert refused.status_code == 403  # a valid token, the wrong role
    tampered = access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB")
    assert httpx.get(f"{stack.url}/api/materials/v1/orders",
                     headers={"Authorization": f"Bearer {tampered}"}).status_code == 401


def test_local_hs256_tokens_keep_working_beside_keycloaks(stack: Stack) -> None:
    answer = httpx.get(f"{stack.url}/api/materials/v1/orders", headers=auth("organiser", municipality="GM0363"))
    assert answer.status_code == 200


def test_an_rs256_token_signed_by_another_key_is_refused(keycloak: KeycloakServer) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    tokens = password_token(keycloak, "beheerder")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": kid})
    with pytest.raises(ProblemError) as refused:
        TokenVerifier(secret="x", jwks_url=keycloak.jwks_url, issuer=keycloak.issuer,
                      audience="komerbij").verify(forged)
    assert refused.value.status == 401


def demo_accounts() -> list[tuple[str, str, str, str]]:
    """The README's table of demo accounts: username, role, municipality, partner."""
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| (\w+) \| (GM\d{4}|—) \| ([\w-]+|—) \|", README, flags=re.M)
    assert len(rows) == 8, "the README lists the eight demo accounts"
    return rows


@pytest.mark.parametrize(("username", "role", "municipality", "partner"), demo_accounts())
def test_every_demo_account_in_the_readme_logs_in_with_its_claims(
    keycloak: KeycloakServer, username: str, role: str, municipality: str, partner: str
) -> None:
    claims = jwt.decode(password_token(keycloak, username)["access_token"], options={"verify_signature": False})
    assert claims["role"] == role
    assert claims.get("municipality", "—") == municipality
    assert claims.get("partner", "—") == partner


def test_the_web_client_cannot_be_used_for_password_logins(keycloak: KeycloakServer) -> None:
    """People log in through the form (with PKCE); the pages' client takes no passwords directly."""
    refused = httpx.post(keycloak.token_url, data={"grant_type": "password", "client_id": "komerbij-web",
                                                   "client_secret": "komerbij-web-local-development-secret",
                                                   "username": "beheerder", "password": DEMO_PASSWORD})
    assert refused.status_code in (400, 401)


def test_an_authorization_request_without_pkce_is_refused(stack: Stack, keycloak: KeycloakServer) -> None:
    answer = httpx.get(f"{keycloak.issuer}/protocol/openid-connect/auth", params={
        "client_id": "komerbij-web", "response_type": "code", "scope": "openid",
        "redirect_uri": f"{stack.url}/auth/callback", "state": "s"})
    assert answer.status_code in (302, 303, 400)
    assert "code_challenge" in (answer.headers.get("location", "") + answer.text)  # Keycloak names the missing part


def test_a_callback_without_a_login_in_progress_is_a_dutch_page(stack: Stack) -> None:
    answer = httpx.get(f"{stack.url}/auth/callback?code=x&state=y")
    assert answer.status_code == 400 and "Inloggen is niet gelukt" in answer.text
    assert SESSION_COOKIE not in SimpleCookie(answer.headers.get("set-cookie", ""))


def test_behind_an_https_proxy_the_session_cookie_is_secure(stack: Stack, keycloak: KeycloakServer) -> None:
    """The service believes X-Forwarded-Proto from the proxy in front of it (TRUSTED_PROXIES)."""
    registration = stack.services["registration"].url
    behind_https = httpx.get(f"{registration}/login", headers={"X-Forwarded-Proto": "https"})
    assert behind_https.status_code in (302, 303, 307)
    assert "secure" in behind_https.headers["set-cookie"].lower()
    assert behind_https.headers["location"].startswith(keycloak.issuer)
    assert "redirect_uri=https%3A%2F%2F" in behind_https.headers["location"]  # the callback is https too
    plain = httpx.get(f"{stack.url}/login")  # the front door here speaks http
    assert "secure" not in plain.headers["set-cookie"].lower()
