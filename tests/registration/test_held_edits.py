"""Moderation holds edits (issue 14): an untrusted organiser's change to what the public reads of a published
activity waits for a moderator; the agenda, the page and the calendars keep the approved version; participants
hear of a new time or place once it is approved. Trusted organisers' edits go live at once."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from support.services import RunningService, auth

from registration.builders import ORGANISER_A, headers, published, sign_up

pytestmark = pytest.mark.asyncio(loop_scope="module")
MODERATOR = auth("moderator")
COLLEAGUE = {"role": "organiser", "municipality": "GM0363", "subject": "org-amsterdam-collega"}


async def emitted(svc: RunningService, activity_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The events written for this activity (outbox, in order), short type and data."""
    async with svc.runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT type, payload FROM outbox WHERE key = $1 ORDER BY seq", activity_id)
    return [(r["type"].removeprefix("nl.komerbij.registration.").removesuffix(".v1"), json.loads(r["payload"]))
            for r in rows]


async def public_titles(svc: RunningService, activity_id: str, word: str) -> dict[str, Any]:
    """The title as each public channel shows it."""
    agenda = (await svc.client.get("/v1/agenda", params={"q": word, "page_size": 100})).json()["items"]
    page = (await svc.client.get(f"/v1/activities/{activity_id}")).json()
    ics = (await svc.client.get(f"/v1/activities/{activity_id}.ics")).text
    feed = (await svc.client.get("/v1/agenda.ics", params={"municipality": "GM0363"})).text
    return {"agenda": [i["title"] for i in agenda if i["id"] == activity_id], "page": page["title"],
            "ics": "SUMMARY:" + page["title"] in ics, "feed": feed}


async def test_an_untrusted_title_change_is_not_public_until_a_moderator_approves_it(svc: RunningService) -> None:
    word = uuid.uuid4().hex[:8]
    activity_id = await published(svc, title=f"Koffie {word}", capacity=10)

    r = await svc.client.patch(f"/v1/activities/{activity_id}", headers=headers(ORGANISER_A),
                               json={"title": f"Gratis prijs {word} klik hier", "capacity": 12})

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["title"] == f"Koffie {word}" and body["capacity"] == 12  # capacity is not held: live at once
    held = body["held_edit"]
    assert held["status"] == "pending" and held["fields"] == ["title"]
    assert held["changes"] == [{"field": "title", "approved": f"Koffie {word}",
                                "proposed": f"Gratis prijs {word} klik hier"}]
    shown = await public_titles(svc, activity_id, word)
    assert shown["agenda"] == [f"Koffie {word}"] and shown["page"] == f"Koffie {word}" and shown["ics"]
    assert "Gratis prijs" not in shown["feed"]
    # The colleague sees the same pending edit; the public does not see that there is one.
    colleague = (await svc.client.get(f"/v1/activities/{activity_id}", headers=headers(COLLEAGUE))).json()
    assert colleague["held_edit"]["id"] == held["id"]
    assert "held_edit" not in (await svc.client.get(f"/v1/activities/{activity_id}")).json()
    updated = [data for kind, data in await emitted(svc, activity_id) if kind == "activity.updated"]
    assert [(u["title"], u["changed_fields"]) for u in updated] == [(f"Koffie {word}", ["capacity"])]

    queue = (await svc.client.get("/v1/moderation/queue", headers=MODERATOR)).json()
    [in_queue] = [e for e in queue["edits"] if e["id"] == held["id"]]
    assert in_queue["changes"] == held["changes"] and in_queue["activity"]["id"] == activity_id
    assert in_queue["activity"]["title"] == f"Koffie {word}"
    assert activity_id not in {i["id"] for i in queue["items"]}  # not a new activity: it stays published

    assert (await svc.client.post(f"/v1/moderation/edits/{held['id']}/approve",
                                  headers=headers(ORGANISER_A))).status_code == 403
    approved = await svc.client.post(f"/v1/moderation/edits/{held['id']}/approve", headers=MODERATOR)
    assert approved.status_code == 200, approved.text
    assert approved.json()["title"] == f"Gratis prijs {word} klik hier"
    assert approved.json()["held_edit"]["status"] == "approved"
    shown = await public_titles(svc, activity_id, word)
    assert shown["agenda"] == [f"Gratis prijs {word} klik hier"] and shown["ics"]
    updated = [data for kind, data in await emitted(svc, activity_id) if kind == "activity.updated"]
    assert (updated[-1]["title"], updated[-1]["changed_fields"]) == (f"Gratis prijs {word} klik hier", ["title"])
    again = await svc.client.post(f"/v1/moderation/edits/{held['id']}/approve", headers=MODERATOR)
    assert again.status_code == 409
    assert held["id"] not in {e["id"] for e in (await svc.client.get(
        "/v1/moderation/queue", headers=MODERATOR)).json()["edits"]}


async def test_participants_hear_of_a_new_time_only_once_it_is_approved(svc: RunningService) -> None:
    activity_id = await published(svc, capacity=1)
    first = await sign_up(svc, activity_id, name="Aaltje")
    waiting = await sign_up(svc, activity_id, name="Bep")
    assert waiting["status"] == "waitlisted"
    new_time = {"starts_at": "2027-10-02T10:00:00+02:00", "ends_at": "2027-10-02T12:00:00+02:00"}

    r = await svc.client.patch(f"/v1/activities/{activity_id}", headers=headers(ORGANISER_A), json=new_time)
    assert r.json()["starts_at"] == "2027-10-01T14:00:00+02:00"
    assert sorted(r.json()["held_edit"]["fields"]) == ["ends_at", "starts_at"]
    assert "signup.activity_changed" not in [kind for kind, _ in await emitted(svc, activity_id)]

    edit_id = r.json()["held_edit"]["id"]
    assert (await svc.client.post(f"/v1/moderation/edits/{edit_id}/approve", headers=MODERATOR)).status_code == 200
    told = [data for kind, data in await emitted(svc, activity_id) if kind == "signup.activity_changed"]
    assert sorted(t["signup_id"] for t in told) == sorted([first["id"], waiting["id"]])
    for t in told:
        assert t["starts_at"] == "2027-10-02T08:00:00Z" and t["changed_fields"] == ["starts_at", "ends_at"]
        assert t["email"] in ("aaltje@example.org", "bep@example.org")
        assert "token" not in t["cancel_url"]


async def test_a_rejected_edit_leaves_the_approved_version_and_tells_the_organisation_why(
    svc: RunningService,
) -> None:
    activity_id = await published(svc, title="Wandelen in het park")
    r = await svc.client.patch(f"/v1/activities/{activity_id}", headers=headers(ORGANISER_A),
                               json={"online_url": "https://phish.example/login"})
    edit_id = r.json()["held_edit"]["id"]
    rejected = await svc.client.post(f"/v1/moderation/edits/{edit_id}/reject", headers=MODERATOR,
                                     json={"reason": "Deze link hoort niet bij de activiteit"})
    assert rejected.status_code == 200 and rejected.json()["online_url"] is None
    seen = (await svc.client.get(f"/v1/activities/{activity_id}", headers=headers(COLLEAGUE))).json()
    assert seen["held_edit"]["status"] == "rejected"
    assert seen["held_edit"]["reason"] == "Deze link hoort niet bij de activiteit"
    assert (await svc.client.get(f"/v1/activities/{activity_id}")).json()["online_url"] is None
    assert (await svc.client.post(f"/v1/moderation/edits/{edit_id}/approve", headers=MODERATOR)).status_code == 409
    assert [k for k, _ in await emitted(svc, activity_id)].count("activity.updated") == 0


async def test_a_moderator_approves_exactly_the_version_they_saw(svc: RunningService) -> None:
    """A further change makes a new edit (the earlier one is superseded): approving what was looked at before
    cannot publish what came after it."""
    activity_id = await published(svc, title="Eettafel")
    seen = (await svc.client.patch(f"/v1/activities/{activity_id}", headers=headers(ORGANISER_A),
                                   json={"title": "Eettafel op vrijdag"})).json()["held_edit"]
    later = (await svc.client.patch(f"/v1/activities/{activity_id}", headers=headers(COLLEAGUE),
                                    json={"description": "Kijk op https://phish.example"})).json()["held_edit"]
    assert later["id"] != seen["id"] and sorted(later["fields"]) == ["description", "title"]
    assert (await svc.client.post(f"/v1/moderation/edits/{seen['id']}/approve", headers=MODERATOR)).status_code == 409
    assert (await svc.client.get(f"/v1/activities/{activity_id}")).json()["title"] == "Eettafel"
    r = await svc.client.post(f"/v1/moderation/edits/{later['id']}/approve", headers=MODERATOR)
    assert r.json()["title"] == "Eettafel op vrijdag" and "phish" in r.json()["description"]
    # Changing a held field back to what is approved takes the proposal back.
    back = await svc.client.patch(f"/v1/activities/{activity_id}", headers=headers(ORGANISER_A),
                                  json={"title": "Iets anders"})
    assert back.json()["held_edit"]["status"] == "pending"
    undone = await svc.client.patch(f"/v1/activities/{activity_id}", headers=headers(ORGANISER_A),
                                    json={"title": "Eettafel op vrijdag"})
    assert undone.json()["held_edit"]["status"] == "withdrawn"
    assert (await svc.client.post(f"/v1/moderation/edits/{back.json()['held_edit']['id']}/approve",
                                  headers=MODERATOR)).status_code == 409


async def test_trusted_organisers_edits_go_live_at_once_and_participants_are_told(svc: RunningService) -> None:
    trusted = {"role": "organiser", "municipality": "GM0363", "subject": f"vertrouwd-{uuid.uuid4().hex[:6]}"}
    r = await svc.client.put(f"/v1/trusted-organisers/{trusted['subject']}", headers=MODERATOR,
                             json={"organisation": "GM0363"})
    assert r.status_code == 200
    activity_id = await published(svc, title="Bingo")
    signup = await sign_up(svc, activity_id, name="Cor")
    pending = (await svc.client.patch(f"/v1/activities/{activity_id}", headers=headers(ORGANISER_A),
                                      json={"title": "Bingo!!", "description": "Een nieuwe omschrijving"})).json()
    venue = {"name": "Het Buurthuis", "street": "Dorpsstraat 3", "postcode": "1015 KK", "city": "Amsterdam"}

    r = await svc.client.patch(f"/v1/activities/{activity_id}", headers=headers(trusted),
                               json={"venue": venue, "title": "Bingo in het buurthuis"})

    body = r.json()
    assert body["title"] == "Bingo in het buurthuis" and body["venue"]["name"] == "Het Buurthuis"
    assert (await svc.client.get(f"/v1/activities/{activity_id}")).json()["title"] == "Bingo in het buurthuis"
    # The trusted word on the title settles it; the colleague's description still waits.
    assert body["held_edit"]["status"] == "pending" and body["held_edit"]["fields"] == ["description"]
    assert body["held_edit"]["id"] != pending["held_edit"]["id"]
    [told] = [data for kind, data in await emitted(svc, activity_id) if kind == "signup.activity_changed"]
    assert told["signup_id"] == signup["id"] and told["changed_fields"] == ["venue"]
    assert told["location"].startswith("Het Buurthuis, Dorpsstraat 3")


async def test_cancelling_an_activity_withdraws_its_pending_edit(svc: RunningService) -> None:
    activity_id = await published(svc)
    edit_id = (await svc.client.patch(f"/v1/activities/{activity_id}", headers=headers(ORGANISER_A),
                                      json={"title": "Anders"})).json()["held_edit"]["id"]
    assert (await svc.client.post(f"/v1/activities/{activity_id}/cancel",
                                  headers=headers(ORGANISER_A))).status_code == 200
    assert edit_id not in {e["id"] for e in (await svc.client.get(
        "/v1/moderation/queue", headers=MODERATOR)).json()["edits"]}
    assert (await svc.client.post(f"/v1/moderation/edits/{edit_id}/approve", headers=MODERATOR)).status_code == 409
    unknown = await svc.client.post(f"/v1/moderation/edits/{uuid.uuid4()}/approve", headers=MODERATOR)
    assert unknown.status_code == 404
