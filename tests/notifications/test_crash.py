"""The service as a real process, SIGKILLed in the middle of a dispatch round: both messages of the round have gone
over the wire (the mail taken by the SMTP server, the webhook request held open by the receiver) and neither outcome
is recorded. Nobody can know then whether they arrived; what the dispatcher promises is that the restarted service
sends each again with the id it had, so a receiver that dedupes acts once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from support.infra import Infra, fetch
from support.kafka import start_group_at_end
from support.services import ServiceProcess, eventually, settings_env

from komerbij.notifications.app import build_spec

from .conftest import ADMIN, Publisher, activity, deliveries_of, make_partner, notification_env
from .receivers import MailSink, WebhookReceiver

pytestmark = pytest.mark.slow
DEMO_IDS = ["coalitie-utrecht", "gm0363", "humanitas"]


async def test_sigkill_mid_round_resends_each_message_with_the_id_it_had_so_a_deduping_receiver_acts_once(
    infra: Infra, mail: MailSink, receiver: WebhookReceiver, publisher: Publisher, tmp_path: Path
) -> None:
    event_id = str(uuid.uuid4())
    # The receiver holds the first request of this event open: a deterministic window between record and outcome.
    hook = receiver.add("killed-mid-send", hold_event=event_id)
    dsn = infra.new_database("notifkill")
    group = f"notifications-kill-{uuid.uuid4().hex[:6]}"
    await start_group_at_end(infra.kafka_bootstrap, group, build_spec(group, dispatch_interval=1).events.topics)
    env = settings_env(infra, dsn, **notification_env(
        mail, CONSUMER_GROUP=group, DISPATCH_INTERVAL_SECONDS="0.2",
        # A short SMTP timeout leaves the mail most of the lease to start in (not sent after lease − timeout).
        DELIVERY_LEASE_SECONDS="11", SMTP_TIMEOUT_SECONDS="2", LOAD_DEMO_DATA="true",
    ))
    address = "crash@amsterdam.example"
    first = ServiceProcess("komerbij.notifications", env, tmp_path)
    await asyncio.to_thread(first.start)
    try:
        async with httpx.AsyncClient(base_url=first.url) as client:
            # Nijmegen: no other test publishes there
            ids = await make_partner(client, kind="municipality", municipality="GM0268", contact=address,
                               hook=(receiver.url("killed-mid-send"), hook.secret),
                               subscription={"event_types": ["ActivityPublished"], "municipalities": ["GM0268"]})
        title = f"Samen koken {event_id[:6]}"
        event = activity("GM0268", title=title)
        await publisher.publish(event, event_id=event_id)
        await publisher.publish(event, event_id=event_id)  # and Kafka delivers it twice

        async def round_in_flight() -> bool:
            return len(hook.of_event(event_id)) == 1 and len(mail.for_address(address)) == 1

        await eventually(round_in_flight, timeout=60)
    finally:
        await asyncio.to_thread(first.kill)

    in_flight = await fetch(dsn, """SELECT d.channel, d.status, d.attempts, d.message_id, a.outcome FROM deliveries d
                                    JOIN delivery_attempts a ON a.delivery_id = d.id
                                    WHERE d.event_id = $1 ORDER BY d.channel""", event_id)
    assert [(r["channel"], r["status"], r["attempts"], r["outcome"]) for r in in_flight] == [
        ("email", "sending", 1, "sending"), ("webhook", "sending", 1, "sending")]
    message_id, webhook_id = (r["message_id"] for r in in_flight)
    hook.released.set()

    second = ServiceProcess("komerbij.notifications", env, tmp_path)
    await asyncio.to_thread(second.start)
    try:
        async with httpx.AsyncClient(base_url=second.url) as client:
            async def all_delivered() -> list[dict]:
                # The partner's own (the newest 100 of all would do, unless another test run shares the Kafka and
                # its events keep the demo partners busy).
                items = await deliveries_of(client, event_id, partner=ids["partner"])
                return items if len(items) == 2 and all(d["status"] == "delivered" for d in items) else []

            delivered = await eventually(all_delivered, timeout=60)
            demo = await client.get("/v1/partners", headers=ADMIN)  # loaded by both starts, present once
            assert sorted(p["id"] for p in demo.json()["items"] if p["id"] in DEMO_IDS) == sorted(DEMO_IDS)
    finally:
        await asyncio.to_thread(second.kill)  # nothing to prove about its shutdown; killing is quicker

    for delivery in delivered:
        assert [a["outcome"] for a in delivery["log"]] == ["interrupted", "delivered"], delivery["channel"]
    # Each sent twice over the wire, counted as the receivers got them (the first outcome is unknowable), with the
    # one id it had: a receiver that dedupes (webhook-id, as Standard Webhooks asks; Message-ID) acts on it once.
    assert hook.ids_of(event_id) == [webhook_id, webhook_id]
    assert all(r["verified"] for r in hook.of_event(event_id))
    assert [m["Message-ID"] for m in mail.for_address(address)] == [message_id, message_id]
    assert all(title in m["Subject"] for m in mail.for_address(address))
