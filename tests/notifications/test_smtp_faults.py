"""When the relay takes no mail from us (wrong password, our sender refused, no STARTTLS), no mail is at fault: the
mails wait (logged as `deferred`, never failed for it) and go out once the relay is fixed, each once. When it
refuses some recipients of a mail, what it said about each is kept, and a refusal for now is retried for those
recipients only. Real PostgreSQL, a real SMTP relay (aiosmtpd) with its faults switched on and off."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import asyncpg
import pytest
import pytest_asyncio
from support.infra import Infra

from komerbij.contracts.events.materials import StockLow
from komerbij.contracts.events.notifications import NotificationDelivered
from komerbij.notifications.service.dispatch import dispatch_due

from .conftest import signup
from .dispatching import (
    attempt_log,
    database,
    deliveries_of,
    dispatcher,
    outcome_events,
    record,
    rounds_until,
)
from .faults import FaultyRelay

pytestmark = [pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]  # a relay on 127.0.0.1


@pytest_asyncio.fixture(loop_scope="module")
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    async with database(infra, "notifsmtp") as p:
        yield p


@pytest.fixture
def relay() -> Iterator[FaultyRelay]:
    server = FaultyRelay(login="komerbij", password="nieuw-wachtwoord").start()
    yield server
    server.stop()


@pytest.fixture
def open_relay() -> Iterator[FaultyRelay]:
    server = FaultyRelay().start()
    yield server
    server.stop()


async def _three_mails(pool: asyncpg.Pool, tag: str) -> tuple[list[str], list[str]]:
    addresses = [f"{tag}-{i}-{uuid.uuid4().hex[:6]}@voorbeeld.example" for i in range(3)]
    return addresses, await record(pool, [signup(a) for a in addresses])


async def _due_again(pool: asyncpg.Pool) -> None:
    """Deferred mails due at once: the wait is the schedule's business, tested elsewhere."""
    await pool.execute("UPDATE deliveries SET next_attempt_at = now() WHERE status = 'retrying'")


async def _assert_delivered_once_after(pool: asyncpg.Pool, relay: FaultyRelay, addresses: list[str],
                                       event_ids: list[str], deferred: str) -> None:
    assert [len(relay.to(a)) for a in addresses] == [1, 1, 1]
    assert set(relay.sends_per_message_id().values()) == {1}
    for row in await deliveries_of(pool, event_ids):
        assert row["status"] == "delivered"
        log = await attempt_log(pool, row["id"])
        assert [outcome for _, outcome, _ in log[:-1]] == ["deferred"] * (len(log) - 1) and len(log) >= 3
        assert deferred in str(log[0][2]) and log[-1][1] == "delivered"  # the first of a round's mails says it
        assert [t for t, _ in await outcome_events(pool, row["id"])] == [NotificationDelivered.TYPE]


async def test_a_rotated_smtp_password_defers_the_mails_until_it_is_fixed_and_fails_none(
    pool: asyncpg.Pool, relay: FaultyRelay
) -> None:
    # One retry on the schedule: were a refused login counted against the mails, two rounds would fail them.
    d = dispatcher(pool, relay.port, username="komerbij", password="oud-wachtwoord", mail_retry_schedule="0.2s")
    addresses, event_ids = await _three_mails(pool, "wachtwoord")

    for _ in range(3):
        outcomes = await dispatch_due(d, datetime.now(UTC))
        assert [o.status for o in outcomes] == ["retrying"] * 3
        await _due_again(pool)
    assert relay.accepted == []
    assert relay.connections == 3, "one connection per round, not one per mail"

    d.mailer._password = "nieuw-wachtwoord"  # the operator puts the new password in place
    await rounds_until(d, pool, event_ids)
    await _assert_delivered_once_after(pool, relay, addresses, event_ids, "SMTP AUTH: refused (535)")


async def test_a_refused_sender_defers_the_mails_until_the_relay_takes_it(
    pool: asyncpg.Pool, open_relay: FaultyRelay
) -> None:
    d = dispatcher(pool, open_relay.port, mail_retry_schedule="0.2s")
    open_relay.refuse_sender = "550 5.7.1 Sender address rejected: not owned by user"
    addresses, event_ids = await _three_mails(pool, "afzender")

    for _ in range(2):
        outcomes = await dispatch_due(d, datetime.now(UTC))
        assert [o.status for o in outcomes] == ["retrying"] * 3
        await _due_again(pool)
    open_relay.refuse_sender = None
    await rounds_until(d, pool, event_ids)
    await _assert_delivered_once_after(pool, open_relay, addresses, event_ids, "SMTP MAIL FROM: refused (550)")


async def test_starttls_the_relay_does_not_offer_defers_the_mails_instead_of_failing_one(
    pool: asyncpg.Pool, open_relay: FaultyRelay
) -> None:
    d = dispatcher(pool, open_relay.port, starttls=True, mail_retry_schedule="")  # no retry at all: yet not failed
    _, event_ids = await _three_mails(pool, "tls")

    outcomes = await dispatch_due(d, datetime.now(UTC))

    assert [o.status for o in outcomes] == ["retrying"] * 3
    assert open_relay.accepted == []
    for row in await deliveries_of(pool, event_ids):
        assert row["status"] == "retrying" and row["address"] is not None
        [(_, outcome, error)] = await attempt_log(pool, row["id"])
        assert outcome == "deferred" and error is not None and error.startswith("SMTP ")
        assert await outcome_events(pool, row["id"]) == []


async def test_recipients_refused_by_the_relay_are_kept_and_one_refused_for_now_is_retried_alone(
    pool: asyncpg.Pool, open_relay: FaultyRelay
) -> None:
    tag = uuid.uuid4().hex[:6]
    gets, later, never = (f"{who}-{tag}@programmateam.example" for who in ("voorraad", "inkoop", "vertrokken"))
    d = dispatcher(pool, open_relay.port, admin_emails=f"{gets},{later},{never}")
    open_relay.refuse_once[later] = "450 4.2.1 Mailbox busy, try again later"
    open_relay.refuse[never] = "550 5.1.1 Mailbox unavailable"
    event_ids = await record(pool, [StockLow(sku=f"PLACEMAT-{tag}", name=f"Placemats {tag}", stock_on_hand=40,
                                             reserved=30, threshold=50)])

    await rounds_until(d, pool, event_ids)

    assert [len(open_relay.to(a)) for a in (gets, later, never)] == [1, 1, 0], "each once, the retry to one only"
    assert [a.recipients for a in open_relay.accepted if tag in a.subject] == [[gets], [later]]
    [row] = await deliveries_of(pool, event_ids)
    assert row["status"] == "delivered" and row["address"] is None
    log = await attempt_log(pool, row["id"])
    assert log == [(1, "error", "SMTP 450, 550: refused for 2 of 3 recipients"), (2, "delivered", None)]
    assert [t for t, _ in await outcome_events(pool, row["id"])] == [NotificationDelivered.TYPE]
