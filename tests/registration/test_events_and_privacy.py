"""Events read back from the real Kafka and checked against the committed JSON Schemas; the privacy purge."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from support.drain import drain
from support.infra import fetch
from support.kafka import read_topic
from support.services import RunningService, auth, eventually, running, settings_env

from komerbij.contracts.events.registration import EVENTS
from komerbij.contracts.topics import REGISTRATION_ACTIVITIES, REGISTRATION_SIGNUPS
from komerbij.registration import demo
from komerbij.registration.app import SPEC
from komerbij.registration.service.privacy import purge_participants
from registration.builders import ORGANISER_A, headers, participants, published, sign_up, submit
from registration.conftest import PUBLIC_BASE_URL

pytestmark = pytest.mark.asyncio(loop_scope="module")
SCHEMAS = Path(__file__).resolve().parents[2] / "contracts" / "schemas"
AMS = ZoneInfo("Europe/Amsterdam")


async def events_of(infra: Any, svc: RunningService, key: str) -> list[tuple[str, dict[str, str], dict[str, Any], str]]:
    """Every event on both registration topics keyed by `key`, in order per topic: read to the end once the outbox
    is empty, so nothing of them is still on its way (and a second copy would be counted)."""
    await drain(infra.kafka_bootstrap, outboxes=[svc.runtime.settings.database_url])
    found = []
    for topic in (REGISTRATION_ACTIVITIES.name, REGISTRATION_SIGNUPS.name):
        for r in await read_topic(infra.kafka_bootstrap, topic, keep=lambda r: r.key == key.encode(),
                                  until=lambda rs: True, to_end=True):
            found.append((topic, {k: v.decode() for k, v in r.headers}, json.loads(r.value), key))
    return found


def _short(cls_type: str) -> str:
    return next(c.__name__ for c in EVENTS if cls_type == c.TYPE)


async def test_every_emitted_event_validates_against_its_committed_schema(
    svc: RunningService, infra: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mod = auth("moderator")
    a = await submit(svc, capacity=1, title="Eettafel De Linde")
    await svc.client.post(f"/v1/activities/{a}/reject", headers=mod, json={"reason": "Adres onvolledig"})
    await svc.client.patch(f"/v1/activities/{a}", headers=headers(ORGANISER_A),
                           json={"venue": {"name": "De Linde", "street": "Lindengracht 14", "postcode": "1015KK",
                                           "city": "Amsterdam"}})
    assert (await svc.client.post(f"/v1/activities/{a}/publish", headers=mod)).status_code == 200
    first = await sign_up(svc, a, name="Geertruida")
    second = await sign_up(svc, a, name="Hendrika")
    assert (first["status"], second["status"]) == ("confirmed", "waitlisted")

    confirmed_type = "nl.komerbij.registration.signup.confirmed.v1"
    [confirmed] = [s for s in await events_of(infra, svc, a) if s[1]["ce_type"] == confirmed_type]
    # The event carries the link without its token (notifications adds it to the mail: test_cancel_links.py).
    cancel_url = confirmed[2]["cancel_url"]
    assert cancel_url == f"{PUBLIC_BASE_URL}/v1/signups/{first['id']}/cancel"
    r = await svc.client.post(first["cancel_url"].removeprefix(PUBLIC_BASE_URL))
    assert r.json() == {"id": first["id"], "status": "cancelled", "promoted": 1}
    moved = await svc.client.patch(f"/v1/activities/{a}", headers=headers(ORGANISER_A),
                                   json={"venue": {"name": "De Linde", "street": "Lindengracht 16",
                                                   "postcode": "1015KK", "city": "Amsterdam"}})
    held = moved.json()["held_edit"]["id"]
    assert (await svc.client.post(f"/v1/moderation/edits/{held}/approve", headers=mod)).status_code == 200
    assert (await svc.client.post(f"/v1/activities/{a}/cancel", headers=headers(ORGANISER_A))).status_code == 200

    records = await events_of(infra, svc, a)
    # Exactly these, each once, in order on its topic (one key, one partition).
    assert [h["ce_type"].removeprefix("nl.komerbij.registration.").removesuffix(".v1") for _, h, _, _ in records] == [
        "activity.submitted", "activity.rejected", "activity.updated", "activity.submitted", "activity.published",
        "activity.updated", "activity.cancelled", "signup.confirmed", "signup.waitlisted", "signup.cancelled",
        "signup.promoted", "signup.activity_changed", "signup.cancelled"]
    assert {_short(h["ce_type"]) for _, h, _, _ in records} == {c.__name__ for c in EVENTS}
    for topic, hdrs, data, key in records:
        schema = json.loads((SCHEMAS / f"{hdrs['ce_type']}.json").read_text())
        jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
        assert topic == schema["x-topic"] and key == data[schema["x-key"]] == a
        assert hdrs["ce_source"] == "/komerbij/registration" and hdrs["ce_specversion"] == "1.0"
    by_type = {}
    for _, hdrs, data, _ in records:
        by_type.setdefault(hdrs["ce_type"].removeprefix("nl.komerbij.registration.").removesuffix(".v1"), []).append(
            data)
    assert by_type["activity.published"][0]["venue"]["street"] == "Lindengracht 14"
    assert by_type["activity.published"][0]["municipality"] == "GM0363"
    assert by_type["activity.rejected"][0]["reason"] == "Adres onvolledig"
    assert "venue" in by_type["activity.updated"][0]["changed_fields"]
    assert by_type["signup.waitlisted"][0]["waitlist_position"] == 1
    promoted = by_type["signup.promoted"][0]
    assert promoted["signup_id"] == second["id"] and promoted["email"] == "hendrika@example.org"
    page = await svc.client.get(second["cancel_url"].removeprefix(PUBLIC_BASE_URL))
    assert page.status_code == 200  # the promotion mail repeats the sign-up's link, which still works
    assert by_type["signup.activity_changed"][0]["signup_id"] == second["id"]
    assert [c["reason"] for c in by_type["signup.cancelled"]] == ["participant", "activity_cancelled"]
    # Names, addresses and phone numbers never reach the logs (the test client's own httpx lines aside).
    assert caplog.records
    service_records = [str(vars(r)).lower() for r in caplog.records if r.name != "httpx"]
    assert not [r for r in service_records if "hendrika" in r or "geertruida" in r]


async def test_participant_contact_data_is_purged_thirty_days_after_the_week(own_svc: RunningService) -> None:
    svc = own_svc  # the later instance below purges everything due in the database: this test's only
    activity_id = await published(svc)
    signup = await sign_up(svc, activity_id, name="Willemijn")
    waiting_week_end = datetime(2027, 11, 6, 12, 0, tzinfo=AMS)  # 30 days after 7 October: not yet
    assert await purge_participants(svc.runtime, waiting_week_end) == 0
    assert (await participants(svc, activity_id))[0]["email"] == "willemijn@example.org"

    class LaterClock:
        def now(self) -> datetime:
            return datetime(2027, 11, 8, 9, 0, tzinfo=AMS)

    dsn = svc.runtime.settings.database_url
    env = {k.upper(): str(v) for k, v in svc.runtime.settings.model_dump().items() if v is not None}
    env["DATABASE_URL"] = dsn
    # A second instance whose scheduler believes it is 8 November 2027: the scheduled job purges on its own.
    async with running(SPEC, env, clock=LaterClock()):

        async def purged() -> list[Any]:
            rows = await fetch(dsn, "SELECT name, email, phone, purged_at FROM signups WHERE id = $1",
                               uuid.UUID(signup["id"]))
            return rows if rows[0]["purged_at"] is not None else []

        [row] = await eventually(purged, timeout=30)
    assert (row["name"], row["email"], row["phone"]) == (None, None, None)
    [p] = await participants(svc, activity_id)
    assert p["name"] is None and p["email"] is None and p["party_size"] == 1
    cancel = await svc.client.post(f"/v1/signups/{signup['id']}/cancel", params={"token": signup["cancel_token"]})
    assert cancel.status_code == 404  # the token was part of what is erased


async def test_demo_data_loads_once_and_documentation_renders(infra: Any) -> None:
    env = settings_env(infra, infra.new_database("registration_demo"), LOAD_DEMO_DATA="true")
    for _ in range(2):  # a restart adds nothing twice
        async with running(SPEC, env) as svc:
            page = (await svc.client.get("/v1/agenda", params={"q": "rollatorwandeling"})).json()
            assert page["total"] == 1 and page["items"][0]["municipality"] == "GM0518"
            total = (await svc.client.get("/v1/agenda", params={"page_size": 100})).json()["total"]
            assert (await svc.client.get("/openapi.json")).status_code == 200
            asyncapi = (await svc.client.get("/asyncapi")).json()
            assert "registration.signups" in json.dumps(asyncapi)
    assert total == len(demo._demo(2027, datetime(2027, 9, 30, tzinfo=AMS)))
