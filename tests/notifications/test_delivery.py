"""End to end through real Kafka, PostgreSQL, SMTP (aiosmtpd) and HTTP: routing, exactly-once, retries, failures.

Each test has a service of its own (its database, its consumer group at the end of the topics, its mail sink and
webhook receiver), so what it counts is its own; `settle` (the drain barrier) comes before every "exactly" and
"never".
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import jsonschema
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from prometheus_client.parser import text_string_to_metric_families
from support.infra import Infra
from support.services import RunningService, auth, eventually

from komerbij.contracts.events.materials import OrderLine, OrderShipped, StockLow
from komerbij.contracts.events.media import MentionRecorded
from komerbij.contracts.events.registration import SignupWaitlisted
from komerbij.notifications.service import digest, privacy

from .conftest import ADMIN, Publisher, activity, deliveries_of, make_partner, notifications, settle, signup
from .receivers import MailSink, WebhookReceiver

SCHEMAS = Path(__file__).resolve().parents[2] / "contracts" / "schemas"


@pytest_asyncio.fixture
async def svc(infra: Infra, mail: MailSink) -> AsyncIterator[RunningService]:
    async with notifications(infra, mail) as service:
        yield service


async def test_activity_for_gm0363_reaches_the_subscribed_partner_once_by_mail_and_webhook_even_when_redelivered(
    infra: Infra, svc: RunningService, mail: MailSink, receiver: WebhookReceiver, publisher: Publisher
) -> None:
    hook = receiver.add("amsterdam")
    ids = await make_partner(
        svc.client, kind="municipality", municipality="GM0363", name="Gemeente Amsterdam",
        contact="ontmoeten@amsterdam.example", hook=(receiver.url("amsterdam"), hook.secret),
        subscription={"event_types": ["ActivityPublished"], "municipalities": ["GM0363"], "mode": "immediate"},
    )
    other = await make_partner(svc.client, contact="rotterdam@coalitie.example", subscription={
        "event_types": ["ActivityPublished"], "municipalities": ["GM0599"]})
    title = f"Eettafel in de Pijp {uuid.uuid4().hex[:6]}"
    event = activity("GM0363", title=title)
    event_id = await publisher.publish(event)
    await publisher.publish(event, event_id=event_id)  # Kafka hands the same event over a second time

    await settle(infra, svc)
    found = await deliveries_of(svc.client, event_id)
    assert sorted((d["channel"], d["status"]) for d in found) == [("email", "delivered"), ("webhook", "delivered")]
    assert all(d["partner_id"] == ids["partner"] and d["attempts"] == 1 for d in found)
    received = hook.of_event(event_id)
    assert len(received) == 1 and received[0]["verified"]  # once, although Kafka handed it over twice
    assert received[0]["body"]["data"]["title"] == title
    assert received[0]["body"]["type"] == "nl.komerbij.registration.activity.published.v1"
    messages = mail.for_address("ontmoeten@amsterdam.example")  # every copy the SMTP server took, none deduped
    assert [m["Subject"] for m in messages] == [f"Nieuwe activiteit in Amsterdam: {title}"]
    assert messages[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Only this activity's mails: on a Kafka shared with another test run, that run's activities come here too.
    assert [to for to, m in mail.messages if title in m["Subject"]] == [["ontmoeten@amsterdam.example"]], \
        "the partner for GM0599 gets nothing"
    assert await deliveries_of(svc.client, event_id, partner=other["partner"]) == []


async def test_receiver_failing_three_times_gets_the_webhook_on_the_fourth_attempt_after_backoff(
    svc: RunningService, receiver: WebhookReceiver, publisher: Publisher
) -> None:
    hook = receiver.add("den-haag", fail_first=3)
    await make_partner(svc.client, hook=(receiver.url("den-haag"), hook.secret), subscription={
        "event_types": ["ActivityPublished"], "municipalities": ["GM0518"]})
    event_id = await publisher.publish(activity("GM0518"))

    async def delivered() -> dict | None:
        found = await deliveries_of(svc.client, event_id, channel="webhook")
        return found[0] if found and found[0]["status"] == "delivered" else None

    delivery = await eventually(delivered)
    assert delivery["attempts"] == 4
    assert [a["outcome"] for a in delivery["log"]] == ["error", "error", "error", "delivered"]
    assert [a["http_status"] for a in delivery["log"]] == [500, 500, 500, 204]
    requests = hook.of_event(event_id)
    assert len(requests) == 4 and len(set(hook.ids_of(event_id))) == 1, "every retry carries the same webhook-id"
    gaps = [b["at"] - a["at"] for a, b in pairwise(requests)]
    for gap, planned in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert gap >= planned * 0.9  # the schedule's wait, less at most the configured 10 % jitter


async def test_receiver_failing_always_ends_failed_dead_lettered_and_the_endpoint_disabled(
    infra: Infra, svc: RunningService, mail: MailSink, receiver: WebhookReceiver, publisher: Publisher
) -> None:
    hook = receiver.add("utrecht", always_fail=True)
    ids = await make_partner(svc.client, contact="webbeheer@utrecht.example",
                             hook=(receiver.url("utrecht"), hook.secret),
                             subscription={"event_types": ["ActivityPublished"], "municipalities": ["GM0344"],
                                           "mode": "digest"})
    first = await publisher.publish(activity("GM0344"))

    async def failed(event_id: str) -> dict | None:
        found = await deliveries_of(svc.client, event_id, channel="webhook")
        return found[0] if found and found[0]["status"] == "failed" else None

    delivery = await eventually(lambda: failed(first))
    assert delivery["attempts"] == 4 and delivery["last_error"] == "HTTP 500"

    async def disabled() -> bool:
        r = await svc.client.get(f"/v1/partners/{ids['partner']}", headers=ADMIN)
        return r.json()["webhooks"][0]["disabled_at"] is not None

    for _ in range(5):  # keep failing until the failures span WEBHOOK_DISABLE_AFTER
        if await disabled():
            break
        later = await publisher.publish(activity("GM0344"))
        await eventually(lambda later=later: failed(later))
    assert await disabled()
    notice = await eventually(lambda: mail.received("webbeheer@utrecht.example"))
    assert notice[0]["Subject"] == "Uw webhook voor meldingen is uitgeschakeld"
    assert "uitgeschakeld" in notice[0].get_body(("plain",)).get_content()

    await settle(infra, svc)
    requests_before = len(hook.requests)
    after = await publisher.publish(activity("GM0344"))
    await settle(infra, svc)
    assert await svc.runtime.pool.fetchval("SELECT count(*) FROM notices WHERE event_id = $1", after) == 1
    assert await deliveries_of(svc.client, after, channel="webhook") == []
    assert len(hook.requests) == requests_before

    refused = await svc.client.post(f"/v1/deliveries/{delivery['id']}/retry", headers=ADMIN)
    assert refused.status_code == 409 and "uitgeschakeld" in refused.json()["detail"]
    dead = await _dead_letter_of(infra, "registration.activities.dlq", first)
    assert dead["dlq_error_class"] == "NotificationDeliveryFailed"
    assert dead["dlq_attempts"] == "4" and dead["dlq_channel"] == "webhook"
    assert dead["dlq_delivery_id"] == delivery["id"]


async def _dead_letter_of(infra: Infra, topic: str, event_id: str) -> dict[str, str]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=infra.kafka_bootstrap, auto_offset_reset="earliest",
                                group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        async def found() -> dict[str, str] | None:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers}
                    if headers.get("ce_id") == event_id:
                        return headers
            return None

        return await eventually(found)
    finally:
        await consumer.stop()


async def test_one_click_unsubscribe_stops_partner_mail_and_the_purge_erases_the_contact_after_30_days(
    infra: Infra, svc: RunningService, mail: MailSink, publisher: Publisher
) -> None:
    address = "nieuws@zwolle-ontmoet.example"
    ids = await make_partner(svc.client, contact=address, subscription={
        "event_types": ["ActivityPublished"], "municipalities": ["GM0193"]})
    tag = uuid.uuid4().hex[:6]
    await publisher.publish(activity("GM0193", title=f"Wandelen langs de Vecht {tag}"))
    first = (await eventually(lambda: mail.received(address, tag)))[0]
    link = first["List-Unsubscribe"].strip("<>")
    path = link.removeprefix("http://notifications.test")
    assert link in first.get_body(("plain",)).get_content()

    page = await svc.client.get(path)
    assert page.status_code == 200 and "Afmelden" in page.text
    assert (await svc.client.get(path + "x")).status_code == 404
    r = await svc.client.post(path, content="List-Unsubscribe=One-Click",
                              headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and "U bent afgemeld" in r.text

    later = await publisher.publish(activity("GM0193", title=f"Tweede wandeling {tag}"))
    await settle(infra, svc)
    assert await svc.runtime.pool.fetchval("SELECT count(*) FROM notices WHERE event_id = $1", later) == 1
    assert await deliveries_of(svc.client, later) == []
    assert len(mail.for_address(address)) == 1, "only the mail from before the unsubscribe"

    now = svc.runtime.clock.now()
    assert await privacy.purge(svc.runtime, now + timedelta(days=29)) == 0
    assert await privacy.purge(svc.runtime, now + timedelta(days=31)) == 1
    partner = (await svc.client.get(f"/v1/partners/{ids['partner']}", headers=ADMIN)).json()
    assert partner["contacts"] == []
    stored = await svc.runtime.pool.fetchval(
        "SELECT count(*) FROM contacts WHERE email = $1", address)
    assert stored == 0
    again = await svc.client.post(f"/v1/partners/{ids['partner']}/contacts",
                                  json={"name": "Kim", "email": address.upper()}, headers=ADMIN)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "email"
    consent = await svc.client.post(f"/v1/partners/{ids['partner']}/contacts",
                                    json={"name": "Kim", "email": address, "confirmed_consent": True},
                                    headers=ADMIN)
    assert consent.status_code == 201
    erased = await svc.client.delete(f"/v1/contacts/{consent.json()['id']}", headers=ADMIN)
    assert erased.status_code == 204
    assert await svc.runtime.pool.fetchval("SELECT count(*) FROM contacts WHERE email = $1", address) == 0


async def test_participant_confirmation_mail_carries_the_cancel_link_in_dutch_text_and_html(
    infra: Infra, svc: RunningService, mail: MailSink, publisher: Publisher
) -> None:
    organiser = await make_partner(svc.client, contact="organisator@anker.example", subscription={
        "event_types": ["SignupConfirmed"], "municipalities": ["GM0599"]}, id=f"anker-{uuid.uuid4().hex[:6]}")
    participant = f"deelnemer-{uuid.uuid4().hex[:6]}@voorbeeld.example"
    event = signup(participant, owner_partner_id=organiser["partner"])
    event_id = await publisher.publish(event)
    message = (await eventually(lambda: mail.received(participant)))[0]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert message["Subject"] == "Bevestiging van uw aanmelding: Koffie & ontmoeting"
    assert "Fijn dat u erbij komt" in text and "Fijn dat u erbij komt" in html
    assert "Beste Mevrouw De Vries" in text and f"/agenda/{event.activity_id}" in text  # the page, not the API
    assert event.cancel_url in text
    assert f'href="{event.cancel_url.replace("&", "&amp;")}"' in html
    assert message["List-Unsubscribe"] is None, "transactional mail has no unsubscribe header"

    to_organiser = (await eventually(lambda: mail.received("organisator@anker.example")))[0]
    organiser_text = to_organiser.get_body(("plain",)).get_content()
    assert "Er is een nieuwe aanmelding" in organiser_text
    assert participant not in organiser_text and event.cancel_url not in organiser_text
    await settle(infra, svc)
    found = await deliveries_of(svc.client, event_id)
    assert sorted((d["recipient"].split(":")[0], d["status"]) for d in found) == [
        ("contact", "delivered"), ("participant", "delivered")]
    assert len(mail.for_address(participant)) == len(mail.for_address("organisator@anker.example")) == 1

    # Once delivered, the participant's details stay only until the event-data retention has passed.
    pool = svc.runtime.pool
    holds = "SELECT count(*) FROM notices WHERE event_id = $1 AND strpos(data::text, $2) > 0"
    assert await pool.fetchval(holds, event_id, participant) == 1
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE address = $1", participant) == 0
    await privacy.purge(svc.runtime, svc.runtime.clock.now() + timedelta(days=15))
    assert await pool.fetchval(holds, event_id, participant) == 0


async def test_order_updates_go_to_the_orderer_and_stock_alerts_to_the_admins(
    svc: RunningService, mail: MailSink, publisher: Publisher
) -> None:
    order_id, product = f"ORD-{uuid.uuid4().hex[:6]}", f"Placemats {uuid.uuid4().hex[:6]}"
    await publisher.publish(OrderShipped(
        order_id=order_id, municipality="GM0855", edition_year=2026, status="shipped",
        lines=[OrderLine(sku="POSTER-A3", quantity=20)], organisation="Welzijn Tilburg",
        contact_email="inkoop@welzijntilburg.example", carrier="PostNL", tracking_code="3SABC123",
    ))
    await publisher.publish(StockLow(sku="PLACEMAT", name=product, stock_on_hand=40, reserved=30, threshold=50))
    order_mail = (await eventually(lambda: mail.received("inkoop@welzijntilburg.example", order_id)))[0]
    assert "verzonden" in order_mail["Subject"] and "3SABC123" in order_mail.get_body(("plain",)).get_content()
    stock_mail = (await eventually(lambda: mail.received("voorraad@programmateam.example", product)))[0]
    assert stock_mail["Subject"] == f"Voorraad laag: {product}"


async def test_digest_subscription_collects_events_into_one_mail_per_partner_per_day(
    infra: Infra, mail: MailSink, publisher: Publisher
) -> None:
    # Without the service's own digest job: on the real clock it could send at 23:59, in the middle of the test.
    async with notifications(infra, mail, jobs_but=("digest",)) as svc:
        await _digest_collects_events_into_one_mail(infra, svc, mail, publisher)


async def _digest_collects_events_into_one_mail(infra: Infra, svc: RunningService, mail: MailSink,
                                                publisher: Publisher) -> None:
    address = "dagoverzicht@fonds.example"
    await make_partner(svc.client, kind="national_partner", sector="fondsen", contact=address, subscription={
        "event_types": ["ActivityPublished", "ActivityCancelled"], "provinces": ["Groningen"], "mode": "digest"})
    tag = uuid.uuid4().hex[:6]
    titles = [f"Taalcafé {tag}", f"Rollatorwandeling {tag}"]
    events = [await publisher.publish(activity("GM0014", title=t)) for t in titles]

    async def collected() -> bool:
        n = await svc.runtime.pool.fetchval(
            "SELECT count(*) FROM digest_items WHERE event_id = ANY($1::text[])", events)
        return n == 2

    await eventually(collected)
    await settle(infra, svc)
    assert mail.for_address(address) == []
    for event_id in events:
        assert await deliveries_of(svc.client, event_id) == []

    assert await digest.send_digests(svc.runtime, datetime(2026, 9, 30, 21, 58, tzinfo=UTC)) == 0  # 23:58 CEST
    at_digest_time = datetime(2026, 9, 30, 21, 59, 30, tzinfo=UTC)
    assert await digest.send_digests(svc.runtime, at_digest_time) == 1
    assert await digest.send_digests(svc.runtime, at_digest_time + timedelta(seconds=20)) == 0
    await settle(infra, svc)
    messages = mail.for_address(address)
    assert len(messages) == 1
    text = messages[0].get_body(("plain",)).get_content()
    assert messages[0]["Subject"] == "Dagoverzicht Week tegen Eenzaamheid – woensdag 30 september 2026"
    assert all(t in text for t in titles) and "meldingen" in text
    assert messages[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(infra: Infra) -> AsyncIterator[RunningService]:
    """One service for the tests that only ask and are answered (access rules, validation): they count nothing, and
    a service each would cost a second per case. Partner p1 exists. It sends nothing: the webhooks made here point
    outside this machine."""
    sink = MailSink().start()
    try:
        async with notifications(infra, sink, jobs_but=("dispatch",)) as service:
            await make_partner(service.client, id="p1")
            yield service
    finally:
        sink.stop()


# Each route with what the admin gets: partner p1 exists; the contact and the delivery do not.
ROUTES = [
    ("POST", "/v1/partners", {"name": "X", "kind": "welfare"}, 201),
    ("GET", "/v1/partners", None, 200),
    ("GET", "/v1/partners/p1", None, 200),
    ("PATCH", "/v1/partners/p1", {"name": "Y"}, 200),
    ("POST", "/v1/partners/p1/contacts", {"name": "Kim", "email": "kim@example.org"}, 201),
    ("DELETE", "/v1/contacts/9d1c2f7e-0000-4000-8000-000000000404", None, 404),
    ("POST", "/v1/partners/p1/subscriptions", {"event_types": ["ActivityPublished"]}, 201),
    ("POST", "/v1/partners/p1/webhooks", {"url": "https://example.org/h", "secret": "whsec_" + "A" * 40}, 201),
    ("GET", "/v1/deliveries", None, 200),
    ("POST", "/v1/deliveries/9d1c2f7e-0000-4000-8000-000000000405/retry", None, 404),
]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("method", "path", "body", "admitted"), ROUTES)
async def test_admin_routes_refuse_anonymous_and_non_admin_callers(
    shared: RunningService, method: str, path: str, body: dict | None, admitted: int
) -> None:
    svc = shared
    anonymous = await svc.client.request(method, path, json=body)
    assert anonymous.status_code == 401
    for role in ("organiser", "moderator", "comms", "fulfilment"):
        r = await svc.client.request(method, path, json=body, headers=auth(role, municipality="GM0363"))
        assert r.status_code == 403, (role, r.text)
        assert r.json()["title"] == "Geen toegang"
    r = await svc.client.request(method, path, json=body, headers=ADMIN)
    assert r.status_code == admitted, r.text


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/partners", {"name": "Gemeente", "kind": "municipality"}, "municipality"),
    ("/v1/partners", {"name": "Gemeente", "kind": "municipality", "municipality": "GM9999"}, "municipality"),
    ("/v1/partners", {"name": "Welzijn", "kind": "welfare", "sector": "sport"}, "sector"),
    ("/v1/partners", {"name": "X", "kind": "bakery"}, "kind"),
    ("/v1/partners/{p}/contacts", {"name": "Kim", "email": "geen-adres"}, "email"),
    ("/v1/partners/{p}/webhooks", {"url": "http://example.org/h", "secret": "whsec_" + "A" * 40}, "url"),
    ("/v1/partners/{p}/webhooks", {"url": "https://example.org/h", "secret": "geheim"}, "secret"),
    ("/v1/partners/{p}/subscriptions", {"event_types": ["OrderShipped"]}, "event_types.0"),
    ("/v1/partners/{p}/subscriptions", {"event_types": ["ActivityPublished"], "municipalities": ["GM9999"]},
     "municipalities.0"),
    ("/v1/partners/{p}/subscriptions", {"event_types": ["ActivityPublished"], "mode": "weekly"}, "mode"),
])
@pytest.mark.asyncio(loop_scope="module")
async def test_bad_input_is_422_naming_the_field(shared: RunningService, path: str, body: dict, field: str) -> None:
    svc = shared
    partner = await make_partner(svc.client)
    r = await svc.client.post(path.format(p=partner["partner"]), json=body, headers=ADMIN)
    assert r.status_code == 422, r.text
    assert r.json()["title"] == "Ongeldige invoer"
    assert field in [e["field"] for e in r.json()["errors"]]


async def test_partner_ids_match_registration_owners_and_can_be_read_and_changed(svc: RunningService) -> None:
    r = await svc.client.post("/v1/partners", json={"id": "humanitas-test", "name": "Humanitas",
                                                    "kind": "national_partner", "sector": "zorg en welzijn"},
                              headers=ADMIN)
    assert r.status_code == 201 and r.json()["id"] == "humanitas-test"
    duplicate = await svc.client.post("/v1/partners", json={"id": "humanitas-test", "name": "H", "kind": "welfare"},
                                      headers=ADMIN)
    assert duplicate.status_code == 409
    changed = await svc.client.patch("/v1/partners/humanitas-test", json={"name": "Humanitas Nederland"},
                                     headers=ADMIN)
    assert changed.status_code == 200 and changed.json()["name"] == "Humanitas Nederland"
    listed = await svc.client.get("/v1/partners", params={"kind": "national_partner"}, headers=ADMIN)
    assert "humanitas-test" in [p["id"] for p in listed.json()["items"]]
    assert (await svc.client.get("/v1/partners/nope", headers=ADMIN)).status_code == 404
    assert (await svc.client.get("/openapi.json")).status_code == 200
    assert (await svc.client.get("/asyncapi")).status_code == 200


async def test_delivery_events_match_their_committed_json_schemas(
    infra: Infra, svc: RunningService, receiver: WebhookReceiver, publisher: Publisher
) -> None:
    ok, bad = receiver.add("schema-ok"), receiver.add("schema-bad", always_fail=True)
    for name, hook in (("schema-ok", ok), ("schema-bad", bad)):
        await make_partner(svc.client, hook=(receiver.url(name), hook.secret), subscription={
            "event_types": ["MentionRecorded"], "municipalities": ["GM0202"]})
    mention = MentionRecorded(mention_id=str(uuid.uuid4()), title="Arnhem eet samen", url="https://rtv.example/1",
                              outlet_id="rtv-oost", outlet_name="RTV Oost", medium="tv", scope="regional",
                              published_at=datetime(2026, 10, 1, 9, tzinfo=UTC), municipalities=["GM0202"])
    event_id = await publisher.publish(mention)
    delivery_schemas = SCHEMAS.glob("nl.komerbij.notifications.delivery.*.json")
    schemas = {path.stem: json.loads(path.read_text()) for path in delivery_schemas}
    consumer = AIOKafkaConsumer("notifications.deliveries", bootstrap_servers=infra.kafka_bootstrap,
                                auto_offset_reset="earliest", group_id=None, enable_auto_commit=False)
    await consumer.start()
    seen: dict[str, dict] = {}
    try:
        async def both() -> bool:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    body = json.loads(record.value)
                    if body["event_id"] == event_id:
                        seen[dict(record.headers)["ce_type"].decode()] = body
            return len(seen) == 2

        await eventually(both, timeout=60)
    finally:
        await consumer.stop()
    assert set(seen) == set(schemas)
    failed = (await deliveries_of(svc.client, event_id, status="failed"))[0]
    bad.always_fail = False  # the receiver is repaired: an admin sends the failed delivery once more
    retried = await svc.client.post(f"/v1/deliveries/{failed['id']}/retry", headers=ADMIN)
    assert retried.status_code == 202, retried.text

    async def redelivered() -> dict | None:
        found = await deliveries_of(svc.client, event_id, status="delivered")
        return next((d for d in found if d["id"] == failed["id"]), None)

    again = await eventually(redelivered)
    assert again["attempts"] == 5 and len(set(bad.ids_of(event_id))) == 1
    assert (await svc.client.post(f"/v1/deliveries/{failed['id']}/retry", headers=ADMIN)).status_code == 409
    for type_name, body in seen.items():
        jsonschema.validate(body, schemas[type_name])
        assert body["channel"] == "webhook" and "@" not in json.dumps(body)
    await settle(infra, svc)
    # This service's own counts, from zero: the good hook once; the bad one three retries, a failure, then (after
    # the admin's retry) a delivery. Webhooks only: on a Kafka shared with another test run, this service also
    # mails the participants of that run's sign-ups.
    assert await _series(svc, "komerbij_deliveries_total", "webhook") == {
        ("webhook", "delivered"): 2, ("webhook", "retrying"): 3, ("webhook", "failed"): 1}

    async def gauge_refreshed() -> dict[tuple[str, str], float] | None:
        current = await _series(svc, "komerbij_deliveries_current", "webhook")
        return current if current == {("webhook", "delivered"): 2} else None

    await eventually(gauge_refreshed)


async def _series(svc: RunningService, name: str, channel: str | None = None) -> dict[tuple[str, str], float]:
    """The non-zero samples of a metric labelled by channel and status (of one channel, if given)."""
    found = {}
    for family in text_string_to_metric_families((await svc.client.get("/metrics")).text):
        for sample in family.samples:
            if sample.name == name and sample.value and channel in (None, sample.labels["channel"]):
                found[(sample.labels["channel"], sample.labels["status"])] = sample.value
    return found


async def test_a_municipality_organiser_is_found_by_its_cbs_code_and_a_partner_never_sees_other_sign_ups(
    infra: Infra, svc: RunningService, mail: MailSink, publisher: Publisher
) -> None:
    tilburg = await make_partner(svc.client, kind="municipality", municipality="GM0855", name="Gemeente Tilburg",
                                 contact="welzijn@tilburg.example",
                                 subscription={"event_types": ["SignupWaitlisted"], "municipalities": []})
    base = signup(f"wachtende-{uuid.uuid4().hex[:6]}@voorbeeld.example").model_dump()
    ours = SignupWaitlisted(**{**base, "municipality": "GM0855", "owner_municipality": "GM0855",
                               "activity_title": f"Bingo {uuid.uuid4().hex[:6]}"}, waitlist_position=3)
    theirs = SignupWaitlisted(**{**base, "signup_id": str(uuid.uuid4()), "municipality": "GM0855",
                                 "owner_partner_id": "someone-else", "activity_title": f"Quiz {uuid.uuid4().hex[:6]}"},
                              waitlist_position=1)
    ours_id, theirs_id = await publisher.publish(ours), await publisher.publish(theirs)
    to_participant = (await eventually(lambda: mail.received(ours.email or "", ours.activity_title)))[0]
    assert "U staat op de wachtlijst (plaats 3)" in to_participant.get_body(("plain",)).get_content()
    to_municipality = (await eventually(lambda: mail.received("welzijn@tilburg.example", ours.activity_title)))[0]
    assert to_municipality["Subject"].startswith("Er staat iemand nieuw op de wachtlijst")
    await settle(infra, svc)
    assert len(mail.for_address("welzijn@tilburg.example")) == 1, "nothing about the other organiser's sign-up"
    assert [d["partner_id"] for d in await deliveries_of(svc.client, ours_id) if d["partner_id"]] == [
        tilburg["partner"]]
    assert [d for d in await deliveries_of(svc.client, theirs_id) if d["partner_id"]] == []
