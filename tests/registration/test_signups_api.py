"""Sign-ups without an account: capacity under concurrency, the waitlist, the cancel link, participant lists."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from support.services import RunningService, auth, eventually

from registration.builders import (
    ORGANISER_A,
    ORGANISER_B,
    cancel_signup,
    headers,
    participants,
    published,
    sign_up,
    submit,
)
from registration.conftest import PUBLIC_BASE_URL

pytestmark = pytest.mark.asyncio(loop_scope="module")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


async def test_fifty_concurrent_signups_never_exceed_capacity_and_cancellations_promote_the_first_waitlisted(
    svc: RunningService,
) -> None:
    activity_id = await published(svc, capacity=10)
    results = await asyncio.gather(*(sign_up(svc, activity_id, name=f"Deelnemer{n}") for n in range(50)))

    confirmed = [r for r in results if r["status"] == "confirmed"]
    waitlisted = sorted((r for r in results if r["status"] == "waitlisted"), key=lambda r: r["waitlist_position"])
    assert len(confirmed) == 10 and len(waitlisted) == 40
    assert [r["waitlist_position"] for r in waitlisted] == list(range(1, 41))
    listed = await participants(svc, activity_id)
    assert sum(p["party_size"] for p in listed if p["status"] == "confirmed") == 10

    for signup in confirmed[:2]:
        assert (await cancel_signup(svc, signup))["status"] == "cancelled"

    status = {p["id"]: p["status"] for p in await participants(svc, activity_id)}
    assert [status[r["id"]] for r in waitlisted[:3]] == ["confirmed", "confirmed", "waitlisted"]
    assert all(status[r["id"]] == "waitlisted" for r in waitlisted[2:])
    assert list(status.values()).count("confirmed") == 10


async def test_party_of_three_behind_a_single_free_place_is_skipped_not_split(svc: RunningService) -> None:
    activity_id = await published(svc, capacity=3)
    a, b, c = [await sign_up(svc, activity_id, name=n) for n in ("Anna", "Bram", "Cor")]
    trio = await sign_up(svc, activity_id, name="Familie", party_size=3)
    single = await sign_up(svc, activity_id, name="Els")
    assert (trio["status"], trio["waitlist_position"]) == ("waitlisted", 1)
    assert (single["status"], single["waitlist_position"]) == ("waitlisted", 2)

    assert (await cancel_signup(svc, a))["promoted"] == 1
    status = {p["id"]: p["status"] for p in await participants(svc, activity_id)}
    assert status[trio["id"]] == "waitlisted" and status[single["id"]] == "confirmed"

    await cancel_signup(svc, b)
    await cancel_signup(svc, c)  # two seats free, the party of three still does not fit
    status = {p["id"]: p["status"] for p in await participants(svc, activity_id)}
    assert status[trio["id"]] == "waitlisted"
    await cancel_signup(svc, single)
    status = {p["id"]: p["status"] for p in await participants(svc, activity_id)}
    assert status[trio["id"]] == "confirmed"
    assert sum(p["party_size"] for p in await participants(svc, activity_id) if p["status"] == "confirmed") == 3


@pytest.mark.parametrize("body, fields", [
    ({"name": "Truus", "email": None, "phone": None, "party_size": 1, "consent": True}, ["email", "phone"]),
    ({"name": "Truus", "email": "truus@example.org", "phone": None, "party_size": 1, "consent": False},
     ["consent"]),
    ({"name": "Truus", "email": "truus@example.org", "party_size": 0, "consent": True}, ["party_size"]),
    ({"name": "", "email": "truus@example.org", "party_size": 1, "consent": True}, ["name"]),
    ({"name": "Truus", "phone": "12", "party_size": 1, "consent": True}, ["phone"]),
])
async def test_invalid_signup_is_refused_naming_the_field(svc: RunningService, body: dict, fields: list) -> None:
    activity_id = await published(svc)
    r = await svc.client.post(f"/v1/activities/{activity_id}/signups", json=body)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == fields


async def test_phone_only_signup_is_fine_and_unlimited_capacity_always_confirms(svc: RunningService) -> None:
    activity_id = await published(svc, capacity=None, max_party_size=20)
    r = await svc.client.post(f"/v1/activities/{activity_id}/signups",
                              json={"name": "Henk", "phone": "06 12345678", "party_size": 20, "consent": True})
    assert r.status_code == 201 and r.json()["status"] == "confirmed"


async def test_signups_only_for_published_activities_that_go_ahead(svc: RunningService) -> None:
    draft = await submit(svc)
    body = {"name": "Truus", "email": "truus@example.org", "party_size": 1, "consent": True}
    assert (await svc.client.post(f"/v1/activities/{draft}/signups", json=body)).status_code == 404
    activity_id = await published(svc)
    signup = await sign_up(svc, activity_id)
    r = await svc.client.post(f"/v1/activities/{activity_id}/cancel", headers=headers(ORGANISER_A))
    assert r.status_code == 200
    assert (await svc.client.post(f"/v1/activities/{activity_id}/signups", json=body)).status_code == 409
    # The participants' sign-ups end with the activity, and their contact details are no longer kept.
    [p] = await participants(svc, activity_id)
    assert p["id"] == signup["id"] and p["status"] == "cancelled" and p["email"] is None


async def test_cancel_link_shows_a_dutch_page_and_only_post_cancels(svc: RunningService) -> None:
    activity_id = await published(svc, title="Koffie & <ontmoeting>")
    signup = await sign_up(svc, activity_id)
    assert signup["cancel_url"] == f"{PUBLIC_BASE_URL}/v1/signups/{signup['id']}/cancel?token={signup['cancel_token']}"
    url = signup["cancel_url"].removeprefix(PUBLIC_BASE_URL)

    page = await svc.client.get(url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Wilt u uw aanmelding annuleren?" in page.text and 'method="post"' in page.text
    assert "Koffie &amp; &lt;ontmoeting&gt;" in page.text  # escaped
    assert (await participants(svc, activity_id))[0]["status"] == "confirmed"  # a GET changes nothing

    wrong = await svc.client.post(f"/v1/signups/{signup['id']}/cancel", params={"token": "geraden"})
    assert wrong.status_code == 404
    wrong_page = await svc.client.get(f"/v1/signups/{signup['id']}/cancel", params={"token": "geraden"})
    assert wrong_page.status_code == 404 and "Deze link werkt niet (meer)" in wrong_page.text
    done = await svc.client.post(url, headers={"Accept": "text/html"}, data={})
    assert done.status_code == 200 and "Uw aanmelding is geannuleerd" in done.text
    assert (await participants(svc, activity_id))[0]["status"] == "cancelled"
    again = await svc.client.post(url)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert "al geannuleerd" in (await svc.client.get(url)).text


async def test_only_the_owner_and_admin_see_participants(svc: RunningService) -> None:
    activity_id = await published(svc)
    before = datetime.now(UTC)
    await sign_up(svc, activity_id, name="Zoë")
    after = datetime.now(UTC)
    for who in (ORGANISER_A, {"role": "admin"}):
        [p] = await participants(svc, activity_id, who)
        assert p["name"] == "Zoë" and p["email"] == "zoë@example.org" and p["party_size"] == 1
    signed_up_at = datetime.fromisoformat(p["signed_up_at"])
    assert signed_up_at.utcoffset() == signed_up_at.astimezone(AMSTERDAM).utcoffset()  # in Dutch time
    assert before - timedelta(minutes=1) <= signed_up_at <= after + timedelta(minutes=1)
    for path in (f"/v1/activities/{activity_id}/signups", f"/v1/activities/{activity_id}/signups.csv"):
        assert (await svc.client.get(path, headers=headers(ORGANISER_B))).status_code in (403, 404)
        # A colleague of the same organisation may (test_organisation_access.py).
        same_town = {"role": "organiser", "municipality": "GM0363", "subject": "another-organiser"}
        assert (await svc.client.get(path, headers=headers(same_town))).status_code == 200
        assert (await svc.client.get(path, headers=auth("moderator"))).status_code == 403
        assert (await svc.client.get(path)).status_code == 401

    r = await svc.client.get(f"/v1/activities/{activity_id}/signups.csv", headers=headers(ORGANISER_A))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows == [{"naam": "Zoë", "e-mail": "zoë@example.org", "telefoon": "", "aantal personen": "1",
                     "status": "bevestigd", "aangemeld op": p["signed_up_at"]}]


async def test_more_capacity_promotes_the_waitlist_and_less_than_taken_is_refused(svc: RunningService) -> None:
    activity_id = await published(svc, capacity=1)
    await sign_up(svc, activity_id, name="Een")
    waiting = await sign_up(svc, activity_id, name="Twee")
    assert waiting["status"] == "waitlisted"
    r = await svc.client.patch(f"/v1/activities/{activity_id}", headers=headers(ORGANISER_A), json={"capacity": 2})
    assert r.status_code == 200 and r.json()["places_left"] == 0
    assert {p["status"] for p in await participants(svc, activity_id)} == {"confirmed"}
    r = await svc.client.patch(f"/v1/activities/{activity_id}", headers=headers(ORGANISER_A), json={"capacity": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "capacity"


async def test_business_metrics_count_activities_and_signups_by_status(own_svc: RunningService) -> None:
    svc = own_svc  # a database of its own: the gauges count only what this test made
    for capacity in (1, 5):
        activity_id = await published(svc, capacity=capacity)
        for name in ("Anna", "Bram"):
            await sign_up(svc, activity_id, name=name)
    await submit(svc)
    wanted = {'komerbij_activities{status="published"}': 2, 'komerbij_activities{status="submitted"}': 1,
              'komerbij_signups{status="confirmed"}': 3, 'komerbij_signups{status="waitlisted"}': 1}

    async def exported() -> dict[str, float] | None:
        lines = dict(x.rsplit(" ", 1) for x in (await svc.client.get("/metrics")).text.splitlines()
                     if x and not x.startswith("#"))
        found = {series: float(lines.get(series, "nan")) for series in wanted}
        return found if found == wanted else None

    await eventually(exported, timeout=20)
