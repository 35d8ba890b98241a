"""Cancel links without their token in the topics (issue 14): registration's sign-up events carry the link without
the token; notifications derives the token (CANCEL_LINK_SECRET, held by both) when it writes the participant's mail;
the link in the mail works. End to end: registration → Kafka → notifications → SMTP → the link → registration."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
import pytest_asyncio
from notifications.receivers import MailSink
from pydantic import ValidationError
from support.infra import Infra
from support.kafka import read_topic, start_group_at_end
from support.services import RunningService, eventually, running, settings_env

from komerbij.contracts.topics import REGISTRATION_SIGNUPS
from komerbij.notifications.app import build_spec
from komerbij.notifications.domain.routing import participant_view
from komerbij.notifications.settings import Settings as NotificationSettings
from komerbij.registration.settings import Settings as RegistrationSettings
from registration.builders import published
from registration.conftest import PUBLIC_BASE_URL

LINK = re.compile(re.escape(PUBLIC_BASE_URL) + r"/v1/signups/[0-9a-f-]+/cancel\?token=[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
def mail() -> Iterator[MailSink]:
    sink = MailSink().start()
    yield sink
    sink.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def notifications(infra: Infra, mail: MailSink) -> AsyncIterator[RunningService]:
    env = settings_env(infra, infra.new_database("notif"), SMTP_HOST="127.0.0.1", SMTP_PORT=str(mail.port),
                       PUBLIC_BASE_URL="http://notifications.test", MAIL_RETRY_SCHEDULE="0.2s,0.4s",
                       RETRY_JITTER="0.1", DELIVERY_LEASE_SECONDS="30", DIGEST_TIME="23:59")
    group = f"notifications-{uuid.uuid4().hex[:6]}"
    spec = build_spec(group, dispatch_interval=0.1)
    await start_group_at_end(infra.kafka_bootstrap, group, spec.events.topics)  # type: ignore[union-attr]
    async with running(spec, env) as service:
        yield service


def mailed_link(message: EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    [link] = LINK.findall(text)
    assert f'href="{link}"' in html
    return link


@pytest.mark.asyncio(loop_scope="module")
async def test_the_link_in_the_participants_mail_works_and_no_signup_event_carries_a_token(
    svc: RunningService, notifications: RunningService, mail: MailSink, infra: Infra
) -> None:
    activity_id = await published(svc, capacity=1)
    first_address, second_address = (f"{n}-{uuid.uuid4().hex[:6]}@example.org" for n in ("eerste", "tweede"))
    first = (await svc.client.post(f"/v1/activities/{activity_id}/signups", json={
        "name": "Eerste", "email": first_address, "party_size": 1, "consent": True})).json()
    second = (await svc.client.post(f"/v1/activities/{activity_id}/signups", json={
        "name": "Tweede", "email": second_address, "party_size": 1, "consent": True})).json()
    assert (first["status"], second["status"]) == ("confirmed", "waitlisted")

    [confirmation] = await eventually(lambda: mail.received(first_address, "Bevestiging"), timeout=60)
    link = mailed_link(confirmation)
    assert link == first["cancel_url"]  # the token notifications derived is the one registration handed out
    cancelled = await svc.client.post(link.removeprefix(PUBLIC_BASE_URL))
    assert cancelled.json() == {"id": first["id"], "status": "cancelled", "promoted": 1}

    [promotion] = await eventually(lambda: mail.received(second_address, "Er is plek"), timeout=60)
    page = await svc.client.get(mailed_link(promotion).removeprefix(PUBLIC_BASE_URL))
    assert page.status_code == 200 and "Wilt u uw aanmelding annuleren?" in page.text

    kinds = ("confirmed", "waitlisted", "cancelled", "promoted")
    records = await read_topic(
        infra.kafka_bootstrap, REGISTRATION_SIGNUPS.name, keep=lambda r: r.key == activity_id.encode(),
        until=lambda rs: len(rs) >= len(kinds),
    )
    types = [dict(r.headers)["ce_type"].decode() for r in records]
    assert sorted(t.split(".")[-2] for t in types) == sorted(kinds)
    for record in records:
        raw = record.value + b"".join(v for _, v in record.headers)
        for token in (first["cancel_token"], second["cancel_token"]):
            assert token.encode() not in raw
        assert b"token=" not in raw
        data = json.loads(record.value)
        assert data["cancel_url"] == f"{PUBLIC_BASE_URL}/v1/signups/{data['signup_id']}/cancel"


def test_an_event_from_before_keeps_the_link_it_carries() -> None:
    """Events already in the topic when registration was upgraded still carry a token: their link is left alone."""
    data: dict[str, Any] = {"signup_id": "s-1", "cancel_url": "https://agenda.example.nl/v1/signups/s-1/cancel?token=x"}
    assert participant_view(data, "key") == data
    fresh = participant_view({"signup_id": "s-1", "cancel_url": "https://a.example/v1/signups/s-1/cancel"}, "key")
    assert fresh["cancel_url"].startswith("https://a.example/v1/signups/s-1/cancel?token=")
    assert participant_view({"signup_id": "s-1", "cancel_url": "https://a.example/c"}, "other") != fresh


def test_without_a_shared_key_neither_service_starts() -> None:
    """With tokens checked through an OIDC issuer there is no JWT_SECRET to fall back on: the key must be set."""
    base = {"database_url": "postgresql://x@127.0.0.1:1/x", "kafka_bootstrap_servers": "127.0.0.1:1",
            "jwt_jwks_url": "http://127.0.0.1:1/jwks", "jwt_issuer": "https://id.example", "jwt_audience": "komerbij",
            "session_secret": "s"}
    for settings, extra in ((RegistrationSettings, {}), (NotificationSettings, {"unsubscribe_secret": "u"})):
        with pytest.raises(ValidationError, match="CANCEL_LINK_SECRET"):
            settings(**base, **extra)
        assert settings(**base, **extra, cancel_link_secret="k").cancel_link_key == "k"
