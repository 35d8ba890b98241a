"""Secrets fit for production or the service does not start; unsubscribe links expire and survive a key rotation;
one e-mail address per field; a correlation id that could forge log lines is replaced; the calendar feed is rendered
once per change."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from pydantic import ValidationError
from registration.builders import published
from support.infra import Infra
from support.services import RunningService, auth, running, settings_env

from komerbij.notifications.app import build_spec
from komerbij.notifications.domain.signatures import contact_of_token, unsubscribe_token
from komerbij.notifications.settings import Settings as NotificationSettings
from komerbij.registration.adapters import calendar
from komerbij.registration.app import SPEC as REGISTRATION
from komerbij.registration.settings import Settings as RegistrationSettings
from komerbij.runtime.auth import TokenVerifier
from komerbij.runtime.service import create_app
from komerbij.runtime.settings import DEVELOPMENT_JWT_SECRET, ConfigurationError, check_startup

BASE = {"database_url": "postgresql://x@127.0.0.1:1/x", "kafka_bootstrap_servers": "127.0.0.1:1"}
LONG = "a-production-grade-secret-of-48-bytes-0123456789"


def _start(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"JWT_SECRET", "KOMERBIJ_DEV", "UNSUBSCRIBE_SECRET", "JWT_JWKS_URL"}}
    clean.update({"DATABASE_URL": BASE["database_url"], "KAFKA_BOOTSTRAP_SERVERS": BASE["kafka_bootstrap_servers"],
                  **env})
    return subprocess.run([sys.executable, "-m", module], env=clean, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("secret", ["too-short-secret", DEVELOPMENT_JWT_SECRET])
def test_a_short_or_the_development_jwt_secret_stops_the_service_with_one_line(secret: str) -> None:
    result = _start("komerbij.registration", JWT_SECRET=secret)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "JWT_SECRET" in lines[0], result.stderr


def test_the_development_flag_admits_the_development_secret_and_a_long_secret_needs_no_flag() -> None:
    check_startup(RegistrationSettings(**BASE, jwt_secret=DEVELOPMENT_JWT_SECRET, komerbij_dev=True))
    check_startup(RegistrationSettings(**BASE, jwt_secret=LONG))
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        create_app(REGISTRATION, RegistrationSettings(**BASE, jwt_secret="short"))


@pytest.mark.parametrize(("extra", "variable"), [
    ({"jwt_audience": "komerbij"}, "JWT_ISSUER"), ({"jwt_issuer": "https://id.example"}, "JWT_AUDIENCE")])
def test_jwks_tokens_need_both_issuer_and_audience(extra: dict[str, str], variable: str) -> None:
    with pytest.raises(ValidationError, match=variable):
        RegistrationSettings(**BASE, jwt_jwks_url="https://id.example/jwks", **extra)
    with pytest.raises(ValueError, match="issuer and an audience"):
        TokenVerifier(secret=None, jwks_url="https://id.example/jwks", **{k.removeprefix("jwt_"): v
                                                                          for k, v in extra.items()})


@pytest.mark.parametrize(("unsubscribe", "message"), [
    (None, "UNSUBSCRIBE_SECRET: required"), (LONG, "must differ from JWT_SECRET"), ("kort", "at least 16 bytes")])
def test_notifications_needs_an_unsubscribe_key_of_its_own(unsubscribe: str | None, message: str) -> None:
    settings = NotificationSettings(**BASE, jwt_secret=LONG, unsubscribe_secret=unsubscribe)
    assert any(message in e for e in settings.startup_errors())
    dev = NotificationSettings(**BASE, jwt_secret=LONG, unsubscribe_secret=unsubscribe, komerbij_dev=True)
    assert dev.startup_errors() == []


def test_an_unsubscribe_token_expires_and_verifies_with_the_previous_key_during_a_rotation() -> None:
    contact = str(uuid.uuid4())
    issued = datetime(2027, 9, 1, tzinfo=UTC).timestamp()
    token = unsubscribe_token("old-unsubscribe-key", contact, now=issued)
    keys, days = ("old-unsubscribe-key", "new-unsubscribe-key"), timedelta(days=90)
    assert contact_of_token(keys, token, max_age=days, now=issued + 89 * 86400) == contact
    assert contact_of_token(keys, token, max_age=days, now=issued + 91 * 86400) is None
    assert contact_of_token(("new-unsubscribe-key",), token, max_age=days, now=issued + 86400) is None
    fresh = unsubscribe_token(keys, contact, now=issued)
    assert contact_of_token(("new-unsubscribe-key",), fresh, max_age=days, now=issued) == contact  # newest signs


async def test_the_unsubscribe_page_honours_expiry_and_rotation_and_erased_addresses_stay_recognised(
    infra: Infra,
) -> None:
    database = infra.new_database("sec_unsubscribe")
    before = settings_env(infra, database, UNSUBSCRIBE_SECRET="old-unsubscribe-key")
    after = settings_env(infra, database, UNSUBSCRIBE_SECRET="new-unsubscribe-key",
                         UNSUBSCRIBE_PREVIOUS_SECRET="old-unsubscribe-key")
    admin, address = auth("admin"), f"kim-{uuid.uuid4().hex[:6]}@partner.example"
    async with running(build_spec(dispatch=False), before) as svc:
        partner = (await svc.client.post("/v1/partners", headers=admin, json={"name": "P", "kind": "welfare"})).json()
        contact = (await svc.client.post(f"/v1/partners/{partner['id']}/contacts", headers=admin,
                                         json={"name": "Kim", "email": address})).json()["id"]
        assert (await svc.client.delete(f"/v1/contacts/{contact}", headers=admin)).status_code == 204
    now = datetime.now(UTC).timestamp()
    async with running(build_spec(dispatch=False), after) as svc:
        old = unsubscribe_token("old-unsubscribe-key", contact, now=now)
        expired = unsubscribe_token("new-unsubscribe-key", contact, now=now - 91 * 86400)
        stranger = unsubscribe_token("someone-elses-key-0123", contact, now=now)
        assert (await svc.client.get(f"/unsubscribe/{old}")).status_code == 200
        assert (await svc.client.get(f"/unsubscribe/{expired}")).status_code == 404
        assert (await svc.client.get(f"/unsubscribe/{stranger}")).status_code == 404
        again = await svc.client.post(f"/v1/partners/{partner['id']}/contacts", headers=admin,
                                      json={"name": "Kim", "email": address})
        assert again.status_code == 409, again.text  # erased under the old key, still recognised


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def registration(infra: Infra) -> AsyncIterator[RunningService]:
    async with running(REGISTRATION, settings_env(infra, infra.new_database("sec_registration"))) as svc:
        yield svc


# One @ each, so a plain "x@y.z" pattern let them through; in a To: header each names another recipient.
@pytest.mark.parametrize("email", ["buur,aanvaller@evil.example", "buur;aanvaller@evil.example",
                                   "x<aanvaller@evil.example>", "kim@example.org,evil.example"])
@pytest.mark.asyncio(loop_scope="module")
async def test_a_sign_up_with_two_recipients_in_one_address_is_422_naming_the_email(
    registration: RunningService, email: str,
) -> None:
    activity_id = await published(registration)
    r = await registration.client.post(f"/v1/activities/{activity_id}/signups",
                                       json={"name": "Kim", "email": email, "consent": True})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["email"]


@pytest.mark.asyncio(loop_scope="module")
async def test_a_correlation_id_that_is_long_or_not_plain_is_replaced_and_a_plain_one_kept(
    registration: RunningService,
) -> None:
    kept = await registration.client.get("/healthz", headers={"X-Correlation-ID": "req-4f2a.1:9"})
    long = await registration.client.get("/healthz", headers={"X-Correlation-ID": "a" * 65})
    odd = await registration.client.get("/healthz", headers={"X-Correlation-ID": 'x" injected="1'})
    assert kept.headers["x-correlation-id"] == "req-4f2a.1:9"
    for r in (long, odd):
        uuid.UUID(r.headers["x-correlation-id"])  # a fresh one


@pytest.mark.asyncio(loop_scope="module")
async def test_the_calendar_feed_is_rendered_once_per_change_and_answers_304_to_its_etag(
    registration: RunningService, monkeypatch: pytest.MonkeyPatch,
) -> None:
    renders: list[int] = []
    render = calendar.render

    def counting(activities, **kwargs):  # type: ignore[no-untyped-def]
        renders.append(1)
        return render(activities, **kwargs)

    monkeypatch.setattr(calendar, "render", counting)
    svc = registration
    await published(svc, title="Eerste")
    first = await svc.client.get("/v1/agenda.ics")
    second = await svc.client.get("/v1/agenda.ics")
    cached = await svc.client.get("/v1/agenda.ics", headers={"If-None-Match": first.headers["etag"]})
    assert (first.content, len(renders)) == (second.content, 1)
    assert "max-age=" in first.headers["cache-control"]
    assert (cached.status_code, cached.content) == (304, b"")
    await published(svc, title="Tweede")
    changed = await svc.client.get("/v1/agenda.ics", headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]
    assert b"Tweede" in changed.content and len(renders) == 2
