"""One flow across services, each a real process: registration → Kafka → notifications → SMTP, and back through the
link in the mail.

An organiser's activity (one place) is published; a resident signs up and gets the confirmation mail; a second
resident lands on the waitlist. The first follows the cancel link in the mail; the cancellation promotes the second,
who is mailed with a working link of their own. Nothing is published by the test itself: every event is one the
services wrote through their outboxes. After the drain barrier every mail is counted as the SMTP server took it.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from notifications.receivers import MailSink
from support.drain import drain, no_open_deliveries
from support.infra import Infra
from support.kafka import start_group_at_end
from support.services import ServiceProcess, auth, eventually, settings_env

from komerbij.contracts.topics import REGISTRATION_ACTIVITIES, REGISTRATION_SIGNUPS
from komerbij.notifications.app import build_spec

pytestmark = pytest.mark.slow
ORGANISER = auth("organiser", municipality="GM0363", subject="org-e2e")
MODERATOR = auth("moderator")
LINK = re.compile(r"http://127\.0\.0\.1:\d+/v1/signups/[0-9a-f-]+/cancel\?token=[\w.~-]+")


def body(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


@pytest.fixture
def mail() -> MailSink:
    sink = MailSink().start()
    yield sink
    sink.stop()


async def test_a_signup_is_confirmed_by_mail_its_cancel_link_works_and_the_waitlisted_resident_is_mailed(
    infra: Infra, mail: MailSink, tmp_path: Path
) -> None:
    group = f"notifications-e2e-{uuid.uuid4().hex[:6]}"
    topics = build_spec(group).events.topics  # type: ignore[union-attr]
    await start_group_at_end(infra.kafka_bootstrap, group, topics)  # only what this flow publishes
    registration_db, notifications_db = infra.new_database("e2e_reg"), infra.new_database("e2e_notif")
    registration = ServiceProcess("komerbij.registration", settings_env(infra, registration_db), tmp_path)
    registration.env["PUBLIC_BASE_URL"] = registration.url  # the links in the mails lead to this process
    notifications = ServiceProcess("komerbij.notifications", settings_env(
        infra, notifications_db, CONSUMER_GROUP=group, DISPATCH_INTERVAL_SECONDS="0.2", SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(mail.port), PUBLIC_BASE_URL="http://notifications.test"), tmp_path)
    await asyncio.gather(asyncio.to_thread(registration.start), asyncio.to_thread(notifications.start))
    try:
        async with httpx.AsyncClient(base_url=registration.url, timeout=30) as reg:
            title = f"Samen eten {uuid.uuid4().hex[:6]}"
            r = await reg.post("/v1/activities", headers=ORGANISER, json={
                "title": title, "description": "Samen een maaltijd bereiden en eten.", "category": "eettafel",
                "starts_at": "2027-10-01T17:00:00+02:00", "ends_at": "2027-10-01T19:00:00+02:00",
                "venue": {"name": "Buurtkamer De Linde", "street": "Lindengracht 12", "postcode": "1015 KK",
                          "city": "Amsterdam"},
                "municipality": "GM0363", "target_groups": ["ouderen"], "capacity": 1, "price_eur": 0,
                "contact": {"name": "Welzijn West", "email": "info@example.org", "phone": "0201234567"}})
            assert r.status_code == 201, r.text
            activity = r.json()["id"]
            assert (await reg.post(f"/v1/activities/{activity}/publish", headers=MODERATOR)).status_code == 200

            anna, bram = (f"{name}-{uuid.uuid4().hex[:6]}@voorbeeld.example" for name in ("anna", "bram"))
            statuses = []
            for name, address in (("Anna", anna), ("Bram", bram)):
                r = await reg.post(f"/v1/activities/{activity}/signups", json={
                    "name": name, "email": address, "phone": None, "party_size": 1, "consent": True})
                assert r.status_code == 201, r.text
                statuses.append(r.json()["status"])
            assert statuses == ["confirmed", "waitlisted"]

            confirmation = (await eventually(lambda: mail.received(anna, "Bevestiging"), timeout=60))[0]
            assert title in confirmation["Subject"] and "Beste Anna" in body(confirmation)
            [link] = LINK.findall(body(confirmation))
            page = await reg.get(link)
            assert page.status_code == 200 and 'method="post"' in page.text
            done = await reg.post(link, headers={"Accept": "text/html"}, data={})
            assert done.status_code == 200, done.text

            promoted = (await eventually(lambda: mail.received(bram, "Er is plek voor u"), timeout=60))[0]
            assert title in promoted["Subject"] and "Beste Bram" in body(promoted)
            [bram_link] = LINK.findall(body(promoted))
            assert (await reg.get(bram_link)).status_code == 200  # a working link of Bram's own

            await drain(infra.kafka_bootstrap, groups={group: topics}, outboxes=[registration_db, notifications_db],
                        also=[no_open_deliveries(notifications_db)])
            listed = (await reg.get(f"/v1/activities/{activity}/signups", headers=ORGANISER)).json()["items"]
    finally:
        await asyncio.gather(asyncio.to_thread(registration.terminate), asyncio.to_thread(notifications.terminate))

    # Anna's details went with her cancellation; Bram holds the place.
    assert sorted((p["status"], p["name"]) for p in listed) == [("cancelled", None), ("confirmed", "Bram")]
    # Every mail as the SMTP server took it, none deduplicated: each person was told each step once.
    assert [m["Subject"].split(":")[0] for m in mail.for_address(anna)] == [
        "Bevestiging van uw aanmelding", "Uw aanmelding is geannuleerd"]
    assert [m["Subject"].split(":")[0] for m in mail.for_address(bram)] == [
        "U staat op de wachtlijst", "Er is plek voor u"]
    # Nobody else was mailed about it (the sink's other mails, if any, are other test runs' events on a shared Kafka).
    assert len([m for _, m in mail.messages if title in m["Subject"]]) == 4
    assert {REGISTRATION_ACTIVITIES.name, REGISTRATION_SIGNUPS.name} <= set(topics)
