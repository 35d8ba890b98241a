"""The nieuwsflits in notifications, against real Kafka, PostgreSQL and an SMTP server:

- an edition sent to 1,000 subscribed contacts reaches each exactly once although notifications is stopped
  (SIGTERM) in the middle of the send and started again, while an activity's mail goes to the same partners: the
  edition's mails (by their deliveries' Message-IDs) counted per recipient in the SMTP catcher, and the
  pace never above NEWSLETTER_MAILS_PER_SECOND (plus a second's worth saved up), from the database's release stamps;
- every mail has RFC 8058 one-click headers and the contact's /voorkeuren link, and the progress reaches media as
  NewsletterProgress (sent 1,000 of 1,000);
- a contact who unsubscribes with the one-click link has name and address erased by the scheduled purge after 30
  days (on a controlled clock), and the keyed hash left behind refuses a re-import without consent.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import pytest
from support.clock import ControlledClock
from support.infra import Infra, fetch
from support.kafka import cloudevent, data, produce, read_topic, start_group_at_end
from support.services import ServiceProcess, eventually, settings_env

from komerbij.contracts.events.newsletter import NewsletterProgress, NewsletterSent
from komerbij.contracts.events.registration import ActivityPublished
from komerbij.notifications.app import build_spec
from komerbij.notifications.domain.signatures import address_hash
from komerbij.notifications.service import privacy

from .conftest import ADMIN, UNSUBSCRIBE_SECRET, activity, make_partner, notifications
from .receivers import MailSink

pytestmark = [pytest.mark.slow]
CONTACTS = 1000
RATE = 100  # mails per second: the send takes ~10 s, long enough to stop the service in the middle of it


@pytest.fixture
def sink() -> Iterator[MailSink]:
    server = MailSink().start()
    yield server
    server.stop()


def edition(title: str = "Week tegen Eenzaamheid 2026") -> NewsletterSent:
    edition_id = str(uuid.uuid4())
    return NewsletterSent(
        edition_id=edition_id, number=7, title=title, intro="De week komt eraan.", sent_at=datetime.now(UTC),
        archive_url="https://www.komerbij.example/media/nieuwsflits/archief/7",
        body_html="<h1>Week tegen Eenzaamheid 2026</h1><p>De week komt eraan.</p>",
        body_text="WEEK TEGEN EENZAAMHEID 2026\n\nDe week komt eraan.\n")


async def _subscribed_contacts(dsn: str, n: int) -> list[str]:
    """n contacts over 10 partners subscribed to the nieuwsflits, plus some who must not get it: a partner without
    the subscription, and an unsubscribed contact."""
    addresses = [f"lezer-{i}@partner{i % 10}.example" for i in range(n)]
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for p in range(11):
                await conn.execute("INSERT INTO partners (id, name, kind) VALUES ($1, $2, 'local_coalition')",
                                   f"p{p}", f"Partner {p}")
            await conn.executemany("INSERT INTO contacts (id, partner_id, name, email) VALUES ($1, $2, $3, $4)",
                                   [(uuid.uuid4(), f"p{i % 10}", f"Lezer {i}", a) for i, a in enumerate(addresses)])
            await conn.execute("""INSERT INTO contacts (id, partner_id, name, email, unsubscribed_at)
                                  VALUES ($1, 'p0', 'Afgemeld', 'afgemeld@partner0.example', now())""", uuid.uuid4())
            await conn.execute("INSERT INTO contacts (id, partner_id, name, email) VALUES ($1, 'p10', 'Niet', "
                               "'niet-geabonneerd@partner10.example')", uuid.uuid4())
            for p in range(10):  # two subscriptions naming it for p0: still one mail per contact
                await conn.execute("""INSERT INTO subscriptions (id, partner_id, event_types, mode)
                                      VALUES ($1, $2, '{NewsletterSent,ActivityPublished}', 'immediate')""",
                                   uuid.uuid4(), f"p{p}")
            await conn.execute("""INSERT INTO subscriptions (id, partner_id, event_types, mode)
                                  VALUES ($1, 'p0', '{NewsletterSent}', 'digest')""", uuid.uuid4())
            await conn.execute("""INSERT INTO subscriptions (id, partner_id, event_types, mode)
                                  VALUES ($1, 'p10', '{ActivityPublished}', 'immediate')""", uuid.uuid4())
    finally:
        await conn.close()
    return addresses


async def _count(dsn: str, query: str, *args: object) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def test_a_nieuwsflits_to_1000_contacts_reaches_each_once_across_a_restart_mid_send(
    infra: Infra, sink: MailSink, tmp_path: Path,
) -> None:
    dsn = infra.new_database("nieuwsflits")
    group = f"notifications-nf-{uuid.uuid4().hex[:6]}"
    await start_group_at_end(infra.kafka_bootstrap, group, build_spec(group).events.topics)  # type: ignore[union-attr]
    env = settings_env(
        infra, dsn, CONSUMER_GROUP=group, SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink.port),
        UNSUBSCRIBE_SECRET=UNSUBSCRIBE_SECRET, PUBLIC_BASE_URL="http://notifications.test",
        PAGES_BASE_URL="https://www.komerbij.example", NEWSLETTER_MAILS_PER_SECOND=str(RATE),
        DISPATCH_INTERVAL_SECONDS="0.2", SMTP_TIMEOUT_SECONDS="5", WEBHOOK_TIMEOUT_SECONDS="5",
        DELIVERY_LEASE_SECONDS="30",
    )
    first = await asyncio.to_thread(ServiceProcess("komerbij.notifications", env, tmp_path).start)
    addresses = await _subscribed_contacts(dsn, CONTACTS)
    sent = edition()
    await produce(infra.kafka_bootstrap, NewsletterSent.TOPIC, [(sent.key.encode(), *cloudevent(sent))])
    notice = f"nieuwsflits:{sent.edition_id}"
    delivered = "SELECT count(*) FROM deliveries WHERE event_id = $1 AND status = 'delivered'"

    async def under_way() -> int:
        n = await _count(dsn, delivered, notice)
        return n if n >= CONTACTS // 5 else 0
    await eventually(under_way, timeout=120, what="a fifth of the nieuwsflits delivered")
    # Partners' other mail goes on beside the nieuwsflits (and the same mailboxes): an activity for all of them.
    news = activity(title="Samen eten terwijl de nieuwsflits uitgaat")
    await produce(infra.kafka_bootstrap, ActivityPublished.TOPIC, [(news.key.encode(), *cloudevent(news))])
    await asyncio.to_thread(first.terminate)
    before_restart = await _count(dsn, delivered, notice)
    assert before_restart < CONTACTS, "the restart must come in the middle of the send"
    # The same edition again (a producer's retry under another event id): nobody gets it twice.
    await produce(infra.kafka_bootstrap, NewsletterSent.TOPIC, [(sent.key.encode(), *cloudevent(sent))])

    async def this_editions_mails() -> list[tuple[list[str], EmailMessage]]:
        """The mails of this notice's deliveries (the sink also holds the activity's)."""
        return sink.with_message_ids({r["message_id"] for r in await fetch(
            dsn, "SELECT message_id FROM deliveries WHERE event_id = $1", notice)})

    second = await asyncio.to_thread(ServiceProcess("komerbij.notifications", env, tmp_path).start)
    try:
        async def all_delivered() -> bool:
            return (await _count(dsn, delivered, notice) >= CONTACTS
                    and len(await this_editions_mails()) >= CONTACTS)
        await eventually(all_delivered, timeout=180, what="every contact's nieuwsflits delivered")
        progress = await read_topic(
            infra.kafka_bootstrap, NewsletterProgress.TOPIC, timeout=60,
            keep=lambda r: data(r).get("edition_id") == sent.edition_id,
            until=lambda rs: any(data(r).get("sent", 0) >= CONTACTS for r in rs))
        # Everything that was going to happen has happened: the progress says so.
        mails = await this_editions_mails()
        received = Counter(to for tos, _ in mails for to in tos)
        assert set(received) == set(addresses), set(received) ^ set(addresses)
        assert [a for a, n in received.items() if n != 1] == [], "each contact exactly one mail"
        assert len(mails) == CONTACTS
        async def the_activitys_mails_too() -> bool:
            return len(sink.messages) - len(mails) >= CONTACTS + 1  # its partners' contacts, 'niet-geabonneerd' too
        await eventually(the_activitys_mails_too, timeout=120, what="the activity's mails beside the nieuwsflits")
        subject = "Nieuwsflits 7: Week tegen Eenzaamheid 2026"
        assert sum(m["Subject"] == subject for _, m in sink.messages) == CONTACTS, "none outside its deliveries"
        assert await _count(dsn, delivered, notice) == CONTACTS
        last = NewsletterProgress.model_validate(data(progress[-1]))
        assert (last.total, last.sent, last.failed, last.skipped) == (CONTACTS, CONTACTS, 0, 0)
        assert before_restart < CONTACTS <= last.sent

        _, message = mails[0]
        assert message["Subject"] == subject
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Unsubscribe"].startswith("<http://notifications.test/unsubscribe/")
        text = message.get_body(("plain",)).get_content()
        assert "De week komt eraan." in text and "https://www.komerbij.example/voorkeuren/" in text
        assert "<h1>Week tegen Eenzaamheid 2026</h1>" in message.get_body(("html",)).get_content()
        assert len({m["Message-ID"] for _, m in mails}) == CONTACTS

        # The pace: in no second did more go to the dispatcher than a second's worth plus what a pause saves up.
        conn = await asyncpg.connect(dsn)
        try:
            stamps = sorted(r["released_at"] for r in await conn.fetch(
                "SELECT released_at FROM newsletter_recipients WHERE edition_id = $1", sent.edition_id))
        finally:
            await conn.close()
        assert len(stamps) == CONTACTS
        j = 0
        for i, start in enumerate(stamps):
            while j < len(stamps) and stamps[j] < start + timedelta(seconds=1):
                j += 1
            assert j - i <= 2 * RATE, f"{j - i} mails released within a second of {start}"
    finally:
        await asyncio.to_thread(second.terminate)


async def test_a_contact_who_unsubscribes_is_erased_after_30_days_and_the_hash_blocks_a_reimport(
    infra: Infra, sink: MailSink,
) -> None:
    clock = ControlledClock(datetime.now(UTC))
    async with notifications(infra, sink, clock=clock, jobs_but=("privacy-purge",),
                             PAGES_BASE_URL="https://www.komerbij.example") as svc:
        address = f"lezer-{uuid.uuid4().hex[:6]}@humanitas.example"
        ids = await make_partner(svc.client, contact=address, subscription={
            "event_types": ["NewsletterSent"], "mode": "immediate"})
        sent = edition("Nieuwsflits van oktober")
        await produce(infra.kafka_bootstrap, NewsletterSent.TOPIC, [(sent.key.encode(), *cloudevent(sent))])

        async def arrived() -> bool:
            return any(address in tos for tos, _ in sink.messages)
        await eventually(arrived, timeout=60, what="the nieuwsflits in the contact's mailbox")
        message = next(m for tos, m in sink.messages if address in tos)
        one_click = message["List-Unsubscribe"].strip("<>").removeprefix("http://notifications.test")
        r = await svc.client.post(one_click, data={"List-Unsubscribe": "One-Click"})
        assert r.status_code == 200, r.text
        contact = uuid.UUID(ids["contact"])
        dsn = svc.runtime.settings.database_url
        row = "SELECT count(*) FROM contacts WHERE id = $1 AND name = 'Kim' AND email = $2"

        assert await privacy.purge(svc.runtime, clock.advance(timedelta(days=29))) == 0
        assert await _count(dsn, row, contact, address) == 1, "kept within the 30 days"
        assert await privacy.purge(svc.runtime, clock.advance(timedelta(days=2))) == 1
        assert await _count(dsn, "SELECT count(*) FROM contacts WHERE id = $1", contact) == 0
        assert await _count(dsn, "SELECT count(*) FROM deliveries WHERE contact_id = $1 OR address = $2",
                            contact, address) == 0
        hashed = address_hash(UNSUBSCRIBE_SECRET, address)
        assert await _count(dsn, "SELECT count(*) FROM suppressed_addresses WHERE address_hash = $1", hashed) == 1
        assert address not in hashed

        again = await svc.client.post(f"/v1/partners/{ids['partner']}/contacts",
                                      json={"name": "Kim", "email": address.upper()}, headers=ADMIN)
        assert again.status_code == 409, again.text
        assert again.json()["errors"][0]["field"] == "email"
