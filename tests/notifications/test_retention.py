"""What notifications keeps and for how long: event data until no delivery needs it (14 days), the delivery log 90
days, an open delivery as long as it is open. The purge runs as the service schedules it, on a clock moved ahead."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
from support.clock import later
from support.drain import drain
from support.infra import Infra, fetch
from support.services import RunningService, eventually

from komerbij.notifications.service import privacy

from .conftest import Publisher, activity, make_partner, notifications, signup
from .receivers import MailSink, WebhookReceiver


async def _counts(dsn: str) -> dict[str, object]:
    rows = {
        "deliveries": await fetch(dsn, "SELECT channel, status FROM deliveries ORDER BY channel, status"),
        "attempts": await fetch(dsn, "SELECT count(*) AS n FROM delivery_attempts"),
        "notices": await fetch(dsn, "SELECT event_type, data IS NOT NULL AS has_data FROM notices ORDER BY 1"),
    }
    return {"deliveries": [(r["channel"], r["status"]) for r in rows["deliveries"]],
            "attempts": rows["attempts"][0]["n"],
            "notices": [(r["event_type"], r["has_data"]) for r in rows["notices"]]}


def _nothing_to_send_now(dsn: str):
    async def check() -> str | None:
        conn = await asyncpg.connect(dsn)
        try:
            n = await conn.fetchval("SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')")
        finally:
            await conn.close()
        return f"{n} delivery(ies) still to send" if n else None

    return check


async def test_finished_deliveries_go_after_ninety_days_event_data_after_fourteen_and_open_ones_stay(
    infra: Infra, mail: MailSink, receiver: WebhookReceiver, publisher: Publisher
) -> None:
    up, down = receiver.add("up"), receiver.add("down", always_fail=True)
    dsn = infra.new_database("notif_retention")
    # A webhook retry an hour away: the failing delivery stays open ('retrying') throughout.
    async with notifications(infra, mail, database_url=dsn, WEBHOOK_RETRY_SCHEDULE="1h", RETRY_JITTER="0") as svc:
        subscription = {"event_types": ["ActivityPublished"], "municipalities": ["GM0855"]}
        await make_partner(svc.client, contact="tilburg@coalitie.example", hook=(receiver.url("up"), up.secret),
                           subscription=subscription)
        await make_partner(svc.client, hook=(receiver.url("down"), down.secret), subscription=subscription)
        await publisher.publish(activity("GM0855", title=f"Eettafel {uuid.uuid4().hex[:6]}"))
        await publisher.publish(signup(f"deelnemer-{uuid.uuid4().hex[:6]}@voorbeeld.example"))
        events = svc.runtime.spec.events
        assert events is not None
        await drain(infra.kafka_bootstrap, groups={events.consumer: events.topics}, outboxes=[dsn],
                    also=[_nothing_to_send_now(dsn)])
        before = await _counts(dsn)
        assert before == {
            "deliveries": [("email", "delivered"), ("email", "delivered"), ("webhook", "delivered"),
                           ("webhook", "retrying")],
            "attempts": 4, "notices": [("ActivityPublished", True), ("SignupConfirmed", True)]}
        await privacy.purge(svc.runtime, svc.runtime.clock.now() + timedelta(days=89))
        # 89 days on: the log is all there; the sign-up's personal data is gone, the activity's stays for the retry.
        assert await _counts(dsn) == {**before, "notices": [("ActivityPublished", True), ("SignupConfirmed", False)]}

    # The same database started on a clock 91 days ahead (without a dispatcher, which would retry the open one):
    # the scheduled purge runs at start.
    async with notifications(infra, mail, database_url=dsn, clock=later(timedelta(days=91)),
                             jobs_but=("dispatch",)) as svc:
        await eventually(lambda: _ran(svc, "privacy-purge"), what="the scheduled privacy purge")
    assert await _counts(dsn) == {"deliveries": [("webhook", "retrying")], "attempts": 1,
                                  "notices": [("ActivityPublished", True)]}


async def _ran(svc: RunningService, job: str) -> bool:
    return svc.runtime.metrics.job_runs.labels(job, "ok")._value.get() >= 1
