"""Fixtures of the notifications tests: SMTP server, webhook receiver, producer, helpers to set up partners.

Every fixture here is per test: a test that counts mails, requests or deliveries sees only its own.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from support.drain import drain, no_open_deliveries
from support.infra import Infra
from support.kafka import start_group_at_end
from support.services import RunningService, auth, running, settings_env

from komerbij.contracts import CloudEventAttributes, to_kafka_headers
from komerbij.contracts.events.base import Event
from komerbij.contracts.events.registration import ActivityPublished, SignupConfirmed, Venue
from komerbij.notifications.app import build_spec
from komerbij.runtime.jobs import Clock

from .receivers import MailSink, WebhookReceiver

ADMIN = auth("admin")
UNSUBSCRIBE_SECRET = "unsubscribe-secret-for-tests"


@pytest.fixture
def mail() -> Iterator[MailSink]:
    sink = MailSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


def notification_env(mail: MailSink, **extra: str) -> dict[str, str]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mail.port),
        "UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
        "ADMIN_EMAILS": "voorraad@programmateam.example",
        "PUBLIC_BASE_URL": "http://notifications.test",
        "WEBHOOK_RETRY_SCHEDULE": "0.2s,0.4s,0.8s",
        "MAIL_RETRY_SCHEDULE": "0.2s,0.4s",
        "RETRY_JITTER": "0.1",
        "WEBHOOK_DISABLE_AFTER": "4s",  # well above one delivery's 1.4 s of retries
        "DELIVERY_LEASE_SECONDS": "30",
        "DIGEST_TIME": "23:59",
        **extra,
    }


class Publisher:
    """Puts events on the real topics with CloudEvents headers, as the other services' outbox relays do."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")

    async def publish(self, event: Event, event_id: str | None = None) -> str:
        attrs = CloudEventAttributes(id=event_id or str(uuid.uuid4()), source="/komerbij/tests", type=event.TYPE,
                                     subject=event.key)
        await self.producer.send_and_wait(event.TOPIC, value=event.model_dump_json().encode(),
                                          key=event.key.encode(), headers=to_kafka_headers(attrs))
        return attrs.id


@pytest_asyncio.fixture
async def publisher(infra: Infra) -> AsyncIterator[Publisher]:
    p = Publisher(infra.kafka_bootstrap)
    await p.producer.start()
    yield p
    await p.producer.stop()


def activity(municipality: str | None = "GM0363", title: str = "Samen eten in de buurt",
             owner_partner_id: str | None = None) -> ActivityPublished:
    starts = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    return ActivityPublished(
        activity_id=str(uuid.uuid4()), edition_year=2026, title=title, category="eettafel", starts_at=starts,
        ends_at=starts + timedelta(hours=2), municipality=municipality, province=None, online=False,
        venue=Venue(name="Buurthuis De Kroon", street="Kerkstraat 1", postcode="1017 GA", city="Amsterdam"),
        owner_partner_id=owner_partner_id, url="https://agenda.example/activiteit/1",
    )


def signup(email: str | None, owner_partner_id: str | None = None) -> SignupConfirmed:
    starts = datetime(2026, 10, 2, 14, 0, tzinfo=UTC)
    signup_id = str(uuid.uuid4())
    return SignupConfirmed(
        signup_id=signup_id, activity_id=str(uuid.uuid4()), activity_title="Koffie & ontmoeting",
        starts_at=starts, ends_at=starts + timedelta(hours=2), municipality="GM0599",
        location="Wijkcentrum Het Anker, Rotterdam", name="Mevrouw De Vries", email=email, phone=None,
        party_size=2, cancel_url=f"https://registratie.example/signups/{signup_id}/annuleren?token=abc123",
        owner_partner_id=owner_partner_id, activity_url="https://agenda.example/activiteit/42",
    )


async def make_partner(client: httpx.AsyncClient, *, kind: str = "local_coalition", name: str = "Coalitie",
                       contact: str | None = None, hook: tuple[str, str] | None = None,
                       subscription: dict[str, Any] | None = None, **fields: Any) -> dict[str, str]:
    """A partner with (optionally) one contact, one webhook and one subscription; returns their ids."""
    r = await client.post("/v1/partners", json={"name": name, "kind": kind, **fields}, headers=ADMIN)
    assert r.status_code == 201, r.text
    ids = {"partner": r.json()["id"]}
    if contact:
        r = await client.post(f"/v1/partners/{ids['partner']}/contacts", json={"name": "Kim", "email": contact},
                              headers=ADMIN)
        assert r.status_code == 201, r.text
        ids["contact"] = r.json()["id"]
    if hook:
        r = await client.post(f"/v1/partners/{ids['partner']}/webhooks", json={"url": hook[0], "secret": hook[1]},
                              headers=ADMIN)
        assert r.status_code == 201, r.text
        ids["webhook"] = r.json()["id"]
    if subscription:
        r = await client.post(f"/v1/partners/{ids['partner']}/subscriptions", json=subscription, headers=ADMIN)
        assert r.status_code == 201, r.text
        ids["subscription"] = r.json()["id"]
    return ids


@asynccontextmanager
async def notifications(infra: Infra, mail: MailSink, *, dispatch_interval: float = 0.1, jobs_but: tuple[str, ...] = (),
                        database_url: str | None = None, clock: Clock | None = None, group: str | None = None,
                        **extra: str) -> AsyncIterator[RunningService]:
    """The service on a database of its own (or `database_url`: a restart), its consumer group placed at the end of
    the shared topics (which already hold every earlier test's events): it sees only what the test publishes.
    `jobs_but` leaves jobs out; `clock` is what its jobs take for now; `group`: join a replica's consumer group."""
    env = settings_env(infra, database_url or infra.new_database("notif"), **notification_env(mail, **extra))
    spec = build_spec(group or f"notifications-{uuid.uuid4().hex[:8]}", dispatch_interval=dispatch_interval)
    spec = dataclasses.replace(spec, jobs=[job for job in spec.jobs if job.name not in jobs_but])
    if group is None:
        await start_group_at_end(infra.kafka_bootstrap, spec.events.consumer, spec.events.topics)  # type: ignore[union-attr]
    async with running(spec, env, clock=clock) as service:
        yield service


async def settle(infra: Infra, svc: RunningService, *, timeout: float = 60) -> None:
    """The drain barrier for a notifications service: what was published is consumed, every delivery is final and
    every delivery event is on its topic. After it, "exactly" and "never" may be asserted."""
    events, dsn = svc.runtime.spec.events, svc.runtime.settings.database_url
    assert events is not None
    await drain(infra.kafka_bootstrap, groups={events.consumer: events.topics}, outboxes=[dsn],
                also=[no_open_deliveries(dsn)], timeout=timeout)


async def deliveries_of(client: httpx.AsyncClient, event_id: str, **params: str) -> list[dict[str, Any]]:
    r = await client.get("/v1/deliveries", params={"limit": "1000", **params}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return [d for d in r.json()["items"] if d["event_id"] == event_id]
