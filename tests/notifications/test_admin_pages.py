"""The partner register's pages for the programme team, `/partners` (issue 16.5): partners, contacts, webhooks (a
signed test event through the guarded client, enabling a disabled one), subscriptions, and the delivery log with its
filters. In-process against real PostgreSQL and Kafka, a real SMTP server and webhook receiver; the session is the
signed cookie a login leaves (the browser test in tests/pages logs in through Keycloak).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from support.infra import Infra
from support.services import RunningService, eventually

from komerbij.notifications.service.partners import TEST_EVENT_TYPE

from .conftest import ADMIN, Publisher, activity, deliveries_of, make_partner, notifications, settle
from .pages import CSRF, error_at, field_value, log_in_as
from .receivers import MailSink, WebhookReceiver

pytestmark = pytest.mark.asyncio(loop_scope="module")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(infra: Infra) -> AsyncIterator[RunningService]:
    """One dispatching service for the module; every test has partners, hooks and addresses of its own."""
    sink = MailSink().start()
    try:
        async with notifications(infra, sink) as service:
            log_in_as(service.client, "admin")
            yield service
    finally:
        sink.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def publisher(infra: Infra) -> AsyncIterator[Publisher]:
    p = Publisher(infra.kafka_bootstrap)
    await p.producer.start()
    yield p
    await p.producer.stop()


def flash_of(html: str) -> str:
    match = re.search(r'class="utrecht-alert__message">\s*<p class="utrecht-paragraph">([^<]*)</p>', html)
    assert match, "the page shows no message"
    return match.group(1)


async def post(svc: RunningService, path: str, **form: object) -> tuple[int, str]:
    """A form posted as the page posts it; after a redirect, the page it leads to (and its message)."""
    r = await svc.client.post(path, data={"csrf_token": CSRF, **form})
    if r.status_code == 303:
        target = r.headers["location"].split("#")[0]
        page = await svc.client.get(target)
        assert page.status_code == 200, page.text
        return 303, page.text
    return r.status_code, r.text


async def test_only_the_programme_team_enters_the_partner_pages(svc: RunningService) -> None:
    try:
        svc.client.cookies.clear()
        anonymous = await svc.client.get("/partners/bezorgingen?status=failed")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/login?next=/partners/bezorgingen%3Fstatus%3Dfailed"
        log_in_as(svc.client, "organiser", municipality="GM0363")
        organiser = await svc.client.get("/partners", headers={"accept": "text/html"})
        assert organiser.status_code == 403 and "Geen toegang" in organiser.text
        assert 'href="/partners"' not in organiser.text, "the menu does not offer the room"
    finally:
        log_in_as(svc.client, "admin")
    admin = await svc.client.get("/partners")
    assert admin.status_code == 200 and 'aria-current="page"' in admin.text and "Partner toevoegen" in admin.text


async def test_a_partner_with_contact_webhook_and_subscription_is_made_on_the_pages(
    svc: RunningService, receiver: WebhookReceiver
) -> None:
    tag = uuid.uuid4().hex[:6]
    status, page = await post(svc, "/partners", id=f"zwolle {tag}", name="", kind="", municipality="Zwolle")
    assert status == 422
    assert error_at(page, "name") == "Vul dit in." and error_at(page, "kind") == "Kies een soort partner."
    assert error_at(page, "id") == "Alleen letters, cijfers en . _ : - (geen spaties)."
    assert field_value(page, "id") == f"zwolle {tag}" and field_value(page, "municipality") == "Zwolle"
    status, page = await post(svc, "/partners", id="bezorgingen", name="X", kind="welfare")
    assert status == 422 and error_at(page, "id") == "Dit id is gereserveerd; kies een ander."

    partner_id = f"zwolle-{tag}"
    status, page = await post(svc, "/partners", id=partner_id, name="Gemeente Zwolle", kind="municipality",
                              municipality="Zwolle")
    assert status == 303 and flash_of(page) == "Partner Gemeente Zwolle is toegevoegd."
    assert "Zwolle (GM0193)" in page
    base = f"/partners/{partner_id}"

    status, page = await post(svc, f"{base}/contactpersonen", name="Kim", email="kim@zwolle")
    assert status == 422 and error_at(page, "email") == "Geen geldig e-mailadres." and field_value(
        page, "email") == "kim@zwolle"
    status, page = await post(svc, f"{base}/contactpersonen", name="Kim Bos", email=f"kim-{tag}@zwolle.example")
    assert status == 303 and f"kim-{tag}@zwolle.example" in page

    status, page = await post(svc, f"{base}/webhooks", url="https://10.20.30.40/hook", secret="whsec_" + "A" * 40)
    assert status == 422
    assert error_at(page, "url") == "Dit adres is niet openbaar bereikbaar (intern, lokaal of gereserveerd)."
    offered = field_value((await svc.client.get(base)).text, "secret")
    assert offered is not None and offered.startswith("whsec_") and len(offered) > 40, "a fresh secret is offered"
    hook = receiver.add(f"zwolle-{tag}")
    status, page = await post(svc, f"{base}/webhooks", url=receiver.url(f"zwolle-{tag}"), secret=hook.secret)
    assert status == 303 and receiver.url(f"zwolle-{tag}") in page

    status, page = await post(svc, f"{base}/abonnementen", event_types=["ActivityPublished", "MentionRecorded"],
                              municipalities="Zwolle, Kampen", provinces=["Overijssel"], mode="digest")
    assert status == 303 and flash_of(page) == "Het abonnement is toegevoegd."
    status, page = await post(svc, f"{base}/abonnementen", municipalities="Zwol", mode="immediate")
    assert status == 422 and error_at(page, "event_types") == "Kies minstens één soort melding."
    r = await svc.client.get(f"/v1/partners/{partner_id}", headers=ADMIN)
    [subscription] = r.json()["subscriptions"]
    assert subscription | {"id": ""} == {"id": "", "event_types": ["ActivityPublished", "MentionRecorded"],
                                         "municipalities": ["GM0166", "GM0193"], "provinces": ["Overijssel"],
                                         "mode": "digest"}
    [contact] = r.json()["contacts"]
    status, page = await post(svc, f"{base}/abonnementen/{subscription['id']}/verwijderen")
    assert status == 303 and (await svc.client.get(f"/v1/partners/{partner_id}", headers=ADMIN)).json()[
        "subscriptions"] == []
    status, page = await post(svc, f"{base}/contactpersonen/{contact['id']}/wissen")
    assert status == 303 and f"kim-{tag}@zwolle.example" not in page


async def test_a_test_event_goes_signed_through_the_guarded_client_and_its_outcome_is_shown(
    svc: RunningService, receiver: WebhookReceiver
) -> None:
    tag = uuid.uuid4().hex[:6]
    good, bad = receiver.add(f"good-{tag}"), receiver.add(f"bad-{tag}", always_fail=True)
    ids = await make_partner(svc.client, hook=(receiver.url(f"good-{tag}"), good.secret), id=f"hooks-{tag}")
    r = await svc.client.post(f"/v1/partners/{ids['partner']}/webhooks", headers=ADMIN,
                              json={"url": receiver.url(f"bad-{tag}"), "secret": bad.secret})
    failing = r.json()["id"]
    inside = uuid.uuid4()  # registered before the rules, say: an address the outbound guard refuses to connect to
    await svc.runtime.pool.execute("INSERT INTO webhooks (id, partner_id, url, secret) VALUES ($1, $2, $3, $4)",
                                   inside, ids["partner"], "https://10.20.30.40/hook", good.secret)
    base = f"/partners/{ids['partner']}/webhooks"

    status, page = await post(svc, f"{base}/{ids['webhook']}/test")
    assert status == 303 and flash_of(page) == "Het testbericht is afgeleverd: de ontvanger antwoordde HTTP 204."
    [request] = good.requests
    assert request["verified"], "signed with the webhook's secret (Standard Webhooks)"
    assert request["body"]["type"] == TEST_EVENT_TYPE and request["body"]["data"]["partner_id"] == ids["partner"]
    assert request["id"].startswith("msg_")

    status, page = await post(svc, f"{base}/{failing}/test")
    assert flash_of(page) == "Het testbericht is niet afgeleverd: de ontvanger antwoordde HTTP 500."
    status, page = await post(svc, f"{base}/{inside}/test")
    assert flash_of(page) == ("Het testbericht is niet afgeleverd: dit adres mogen wij niet bereiken (alleen "
                              "openbare adressen).")
    api = await svc.client.post(f"/v1/partners/{ids['partner']}/webhooks/{inside}/test", headers=ADMIN)
    assert api.status_code == 200 and api.json()["delivered"] is False
    assert api.json()["error"].startswith("refused: ")
    other = await make_partner(svc.client)
    assert (await svc.client.post(f"/partners/{other['partner']}/webhooks/{ids['webhook']}/test",
                                  data={"csrf_token": CSRF})).status_code == 404, "only the partner's own hooks"
    assert (await svc.client.post(f"{base}/{ids['webhook']}/test")).status_code == 403, "no CSRF token: refused"
    assert len(good.requests) == 1 and await deliveries_of(svc.client, request["body"]["id"]) == []


async def test_a_disabled_webhook_is_enabled_again_and_gets_the_next_events(
    infra: Infra, svc: RunningService, receiver: WebhookReceiver, publisher: Publisher
) -> None:
    tag = uuid.uuid4().hex[:6]
    hook = receiver.add(f"deventer-{tag}")
    ids = await make_partner(svc.client, kind="municipality", municipality="GM0150", name="Gemeente Deventer",
                             hook=(receiver.url(f"deventer-{tag}"), hook.secret), id=f"deventer-{tag}",
                             subscription={"event_types": ["ActivityPublished"], "municipalities": ["GM0150"]})
    await svc.runtime.pool.execute(
        "UPDATE webhooks SET disabled_at = now(), failing_since = now() - interval '1 day' WHERE id = $1",
        uuid.UUID(ids["webhook"]))
    page = (await svc.client.get(f"/partners/{ids['partner']}")).text
    assert "uitgeschakeld op" in page and "Weer inschakelen" in page
    while_off = await publisher.publish(activity("GM0150", title=f"Terwijl hij uit stond {tag}"))
    await settle(infra, svc)
    assert await deliveries_of(svc.client, while_off) == [] and hook.requests == []

    status, page = await post(svc, f"/partners/{ids['partner']}/webhooks/{ids['webhook']}/inschakelen")
    assert status == 303 and flash_of(page).startswith("De webhook is weer ingeschakeld")
    [webhook] = (await svc.client.get(f"/v1/partners/{ids['partner']}", headers=ADMIN)).json()["webhooks"]
    assert webhook["disabled_at"] is None and webhook["failing_since"] is None, "its old failures count no more"
    after = await publisher.publish(activity("GM0150", title=f"Weer aan {tag}"))
    await eventually(lambda: _received(hook, after))
    assert [r["verified"] for r in hook.of_event(after)] == [True]

    # The API does the same (the page calls its use case).
    await svc.runtime.pool.execute("UPDATE webhooks SET disabled_at = now() WHERE id = $1", uuid.UUID(ids["webhook"]))
    r = await svc.client.post(f"/v1/partners/{ids['partner']}/webhooks/{ids['webhook']}/enable", headers=ADMIN)
    assert r.status_code == 204
    assert (await svc.client.get(f"/v1/partners/{ids['partner']}", headers=ADMIN)).json()["webhooks"][0][
        "disabled_at"] is None


async def _received(hook: object, event_id: str) -> bool:
    return bool(hook.of_event(event_id))  # type: ignore[attr-defined]


def shown_count(html: str) -> int:
    match = re.search(r'id="bezorgingen-titel">(\d+) bezorging', html)
    assert match, "the log says how many it shows"
    return int(match.group(1))


async def test_the_delivery_log_filters_by_partner_status_channel_and_period_and_retries_a_failure(
    infra: Infra, svc: RunningService, receiver: WebhookReceiver, publisher: Publisher
) -> None:
    tag = uuid.uuid4().hex[:6]
    fine, failing = receiver.add(f"fine-{tag}"), receiver.add(f"failing-{tag}", always_fail=True)
    subscription = {"event_types": ["ActivityPublished"], "municipalities": ["GM0153"]}
    a = await make_partner(svc.client, name="Coalitie Enschede", contact=f"a-{tag}@enschede.example",
                           hook=(receiver.url(f"fine-{tag}"), fine.secret), subscription=subscription)
    b = await make_partner(svc.client, name="Welzijn Enschede", contact=f"b-{tag}@enschede.example",
                           hook=(receiver.url(f"failing-{tag}"), failing.secret), subscription=subscription)
    event_id = await publisher.publish(activity("GM0153", title=f"Enschede eet samen {tag}"))
    await settle(infra, svc)
    found = {(d["partner_id"], d["channel"]): d for d in await deliveries_of(svc.client, event_id)}
    assert found[(b["partner"], "webhook")]["status"] == "failed"

    log = "/partners/bezorgingen"
    today = datetime.now(AMSTERDAM).date()
    by_a = (await svc.client.get(log, params={"partner": a["partner"]})).text
    assert shown_count(by_a) == 2 and by_a.count('<td class="utrecht-table__cell">Coalitie Enschede</td>') == 2
    assert shown_count((await svc.client.get(log, params={"partner": a["partner"], "channel": "webhook"})).text) == 1
    failed = (await svc.client.get(log, params={"partner": b["partner"], "status": "failed",
                                                "van": today.isoformat(), "tot": today.isoformat()})).text
    assert shown_count(failed) == 1 and "HTTP 500" in failed and "Opnieuw versturen" in failed
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert shown_count((await svc.client.get(log, params={"partner": a["partner"], "van": tomorrow})).text) == 0
    assert shown_count((await svc.client.get(log, params={"partner": a["partner"], "tot": (
        today - timedelta(days=1)).isoformat()})).text) == 0
    wrong = await svc.client.get(log, params={"van": "1-10-2026", "tot": "2026-10-01", "status": "kwijt"})
    assert wrong.status_code == 422
    assert error_at(wrong.text, "van") == "Vul een datum in, bijvoorbeeld 2026-10-01."
    assert error_at(wrong.text, "status") == "Kies een van de mogelijkheden."
    assert field_value(wrong.text, "van") == "1-10-2026"
    backwards = await svc.client.get(log, params={"van": "2026-10-02", "tot": "2026-10-01"})
    assert error_at(backwards.text, "tot") == "De einddatum ligt vóór de begindatum."

    delivery = found[(b["partner"], "webhook")]
    before = len(failing.of_event(event_id))
    back = f"{log}?partner={b['partner']}&status=failed"
    r = await svc.client.post(f"{log}/{delivery['id']}/opnieuw", data={"csrf_token": CSRF, "terug": back})
    assert r.status_code == 303 and r.headers["location"] == back
    await eventually(lambda: _tried_again(failing, event_id, before))
    # The API's period filter: the same rows.
    since = datetime.combine(today, datetime.min.time(), tzinfo=AMSTERDAM).isoformat()
    api = await svc.client.get("/v1/deliveries", params={"partner": a["partner"], "since": since}, headers=ADMIN)
    assert len(api.json()["items"]) == 2
    naive = await svc.client.get("/v1/deliveries", params={"since": "2026-10-01T00:00:00"}, headers=ADMIN)
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "since"


async def _tried_again(hook: object, event_id: str, before: int) -> bool:
    return len(hook.of_event(event_id)) > before  # type: ignore[attr-defined]


async def test_the_api_changes_and_deletes_a_subscription_as_the_pages_do(svc: RunningService) -> None:
    ids = await make_partner(svc.client, subscription={"event_types": ["ActivityPublished"]})
    path = f"/v1/partners/{ids['partner']}/subscriptions/{ids['subscription']}"
    r = await svc.client.put(path, headers=ADMIN, json={"event_types": ["MentionRecorded"], "provinces": ["utrecht"],
                                                        "mode": "digest"})
    assert r.status_code == 200, r.text
    [s] = (await svc.client.get(f"/v1/partners/{ids['partner']}", headers=ADMIN)).json()["subscriptions"]
    assert (s["event_types"], s["provinces"], s["mode"]) == (["MentionRecorded"], ["Utrecht"], "digest")
    refused = await svc.client.put(path, headers=ADMIN, json={"event_types": ["OrderPlaced"]})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "event_types.0"
    other = await make_partner(svc.client)
    assert (await svc.client.delete(f"/v1/partners/{other['partner']}/subscriptions/{ids['subscription']}",
                                    headers=ADMIN)).status_code == 404
    assert (await svc.client.delete(path, headers=ADMIN)).status_code == 204
    assert (await svc.client.delete(path, headers=ADMIN)).status_code == 404
