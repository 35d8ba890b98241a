"""Organisations own activities, people act for them (issue 14): every organiser of the owning organisation may see
and manage an activity, its participants and edits; nobody else (admins aside), whatever the token's subject."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from support.infra import Infra
from support.services import RunningService, auth

from komerbij.runtime import db
from registration.builders import activity, headers, published, sign_up, submit

pytestmark = pytest.mark.asyncio(loop_scope="module")

AMSTERDAM_1 = {"role": "organiser", "municipality": "GM0363", "subject": "welzijn-west-anna"}
AMSTERDAM_2 = {"role": "organiser", "municipality": "GM0363", "subject": "welzijn-west-bert"}  # a colleague
ROTTERDAM_SAME_SUBJECT = {"role": "organiser", "municipality": "GM0599", "subject": "welzijn-west-anna"}
ROTTERDAM = {"role": "organiser", "municipality": "GM0599", "subject": "rotterdam-carla"}
PARTNER_1 = {"role": "organiser", "partner": "zonnebloem", "subject": "zb-dirk"}
PARTNER_2 = {"role": "organiser", "partner": "zonnebloem", "subject": "zb-eva"}
OTHER_PARTNER_SAME_SUBJECT = {"role": "organiser", "partner": "ouderenfonds", "subject": "zb-dirk"}
# A national partner's token may also name a municipality: then it acts for that municipality, not the partner.
PARTNER_IN_ROTTERDAM = {"role": "organiser", "partner": "zonnebloem", "municipality": "GM0599", "subject": "zb-dirk"}


async def test_colleagues_see_the_participant_list_an_organiser_elsewhere_with_the_same_subject_does_not(
    svc: RunningService,
) -> None:
    """The issue's acceptance: two organisers of GM0363 with different subjects both see the participant list;
    an organiser of GM0599 with the first one's subject does not."""
    activity_id = await published(svc, AMSTERDAM_1)
    await sign_up(svc, activity_id, name="Greet")
    for who in (AMSTERDAM_1, AMSTERDAM_2):
        r = await svc.client.get(f"/v1/activities/{activity_id}/signups", headers=headers(who))
        assert r.status_code == 200 and [p["name"] for p in r.json()["items"]] == ["Greet"]
    r = await svc.client.get(f"/v1/activities/{activity_id}/signups", headers=headers(ROTTERDAM_SAME_SUBJECT))
    assert r.status_code in (403, 404) and "Greet" not in r.text


async def _routes(svc: RunningService, owner: dict[str, str]) -> list[tuple[str, str, Any, set[int]]]:
    """Every object-level route, each on a fresh object of `owner`'s organisation: (method, path, body, allowed)."""
    draft = await submit(svc, owner, **_where(owner))
    listed = await published(svc, owner, **_where(owner))
    await sign_up(svc, listed, name=f"Deelnemer{uuid.uuid4().hex[:6]}")
    editable = await published(svc, owner, **_where(owner))
    to_cancel = await published(svc, owner, **_where(owner))
    return [
        ("GET", f"/v1/activities/{draft}", None, {200}),
        ("GET", f"/v1/activities/{draft}.ics", None, {404}),  # a draft has no calendar file for anyone
        ("PATCH", f"/v1/activities/{draft}", {"description": "Samen koken en eten, met de buren."}, {200}),
        ("PATCH", f"/v1/activities/{editable}", {"capacity": 12}, {200}),
        ("GET", f"/v1/activities/{listed}/signups", None, {200}),
        ("GET", f"/v1/activities/{listed}/signups.csv", None, {200}),
        ("POST", f"/v1/activities/{to_cancel}/cancel", None, {200}),
    ]


def _where(who: dict[str, str]) -> dict[str, Any]:
    return {"municipality": who["municipality"]} if "municipality" in who else {"municipality": None}


@pytest.mark.parametrize(("owner", "callers"), [
    (AMSTERDAM_1, {"same organisation, other subject": (AMSTERDAM_2, True),
                   "same subject, other organisation": (ROTTERDAM_SAME_SUBJECT, False),
                   "other organisation": (ROTTERDAM, False),
                   "a partner": (PARTNER_1, False),
                   "admin": ({"role": "admin"}, True)}),
    (PARTNER_1, {"same organisation, other subject": (PARTNER_2, True),
                 "same subject, other organisation": (OTHER_PARTNER_SAME_SUBJECT, False),
                 "same subject and partner, acting for a municipality": (PARTNER_IN_ROTTERDAM, False),
                 "other organisation": (AMSTERDAM_1, False),
                 "admin": ({"role": "admin"}, True)}),
], ids=["municipality", "national partner"])
async def test_matrix_of_object_level_routes_by_organisation_not_subject(
    svc: RunningService, owner: dict[str, str], callers: dict[str, tuple[dict[str, str], bool]]
) -> None:
    failures = []
    for label, (who, allowed) in callers.items():
        for method, path, body, ok in await _routes(svc, owner):
            r = await svc.client.request(method, path, json=body, headers=headers(who))
            expected = ok if allowed else {403, 404}
            if r.status_code not in expected:
                failures.append(f"{label}: {method} {path} → {r.status_code}, expected {sorted(expected)}")
    assert not failures, "\n".join(failures)


async def test_the_organisation_list_shows_every_activity_of_the_organisation_with_seats_and_waitlist(
    svc: RunningService,
) -> None:
    mine = await published(svc, AMSTERDAM_1, capacity=1, title="Lijst: van Anna")
    colleagues = await submit(svc, AMSTERDAM_2, title="Lijst: van Bert")
    elsewhere = await published(svc, ROTTERDAM_SAME_SUBJECT, municipality="GM0599", title="Lijst: Rotterdam")
    await sign_up(svc, mine, name="Een")
    await sign_up(svc, mine, name="Twee")
    await sign_up(svc, mine, name="Drie")

    async def listed(who: dict[str, str], **params: Any) -> dict[str, dict[str, Any]]:
        r = await svc.client.get("/v1/organisation/activities", headers=headers(who),
                                 params={"page_size": 200, **params})
        assert r.status_code == 200, r.text
        return {i["id"]: i for i in r.json()["items"]}

    for who in (AMSTERDAM_1, AMSTERDAM_2):
        items = await listed(who)
        assert {mine, colleagues} <= set(items) and elsewhere not in items
        assert all(i["owner_organisation"] == "GM0363" for i in items.values())
        assert (items[mine]["status"], items[mine]["seats_taken"], items[mine]["waitlist_count"]) == (
            "published", 1, 2)
        assert items[colleagues]["status"] == "submitted" and items[colleagues]["waitlist_count"] == 0
        assert items[mine]["held_edit"] is None
    rotterdam = await listed(ROTTERDAM_SAME_SUBJECT)
    assert elsewhere in rotterdam and mine not in rotterdam
    assert set(await listed(AMSTERDAM_1, status="submitted")) >= {colleagues}
    assert mine not in await listed(AMSTERDAM_1, status="submitted")
    other = await svc.client.get("/v1/organisation/activities", headers=headers(AMSTERDAM_1),
                                 params={"organisation": "GM0599"})
    assert other.status_code == 403
    by_admin = await listed({"role": "admin"}, organisation="GM0599")
    assert elsewhere in by_admin and mine not in by_admin
    nobody = await svc.client.get("/v1/organisation/activities", headers=auth("organiser", subject="x"))
    assert nobody.status_code == 403
    assert (await svc.client.get("/v1/organisation/activities", headers=auth("moderator"))).status_code == 403
    assert (await svc.client.get("/v1/organisation/activities")).status_code == 401


async def test_trust_is_for_a_person_acting_for_one_organisation(svc: RunningService) -> None:
    subject = f"vertrouwd-{uuid.uuid4().hex[:6]}"
    in_amsterdam = {"role": "organiser", "municipality": "GM0363", "subject": subject}
    in_rotterdam = {"role": "organiser", "municipality": "GM0599", "subject": subject}
    r = await svc.client.put(f"/v1/trusted-organisers/{subject}", headers=auth("moderator"),
                             json={"organisation": "GM0363", "note": "Welzijn West"})
    assert r.status_code == 200 and r.json()["organisation"] == "GM0363"
    amsterdam = await svc.client.post("/v1/activities", json=activity(), headers=headers(in_amsterdam))
    rotterdam = await svc.client.post("/v1/activities", json=activity(municipality="GM0599"),
                                      headers=headers(in_rotterdam))
    assert amsterdam.json()["status"] == "published"
    assert rotterdam.json()["status"] == "submitted"
    entries = (await svc.client.get("/v1/trusted-organisers", headers=auth("moderator"))).json()["items"]
    assert [(e["subject"], e["organisation"]) for e in entries if e["subject"] == subject] == [(subject, "GM0363")]
    for body in ({"note": "geen organisatie"}, {"organisation": "GM9999"}, {"organisation": "partner:"}):
        r = await svc.client.put(f"/v1/trusted-organisers/{subject}", headers=auth("moderator"), json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "organisation"
    assert (await svc.client.put(f"/v1/trusted-organisers/{subject}", headers=auth("moderator"),
                                 json={"organisation": "partner:zonnebloem"})).status_code == 200
    gone = await svc.client.delete(f"/v1/trusted-organisers/{subject}", headers=auth("moderator"),
                                   params={"organisation": "GM0363"})
    assert gone.status_code == 204
    entries = (await svc.client.get("/v1/trusted-organisers", headers=auth("moderator"))).json()["items"]
    assert [e["organisation"] for e in entries if e["subject"] == subject] == ["partner:zonnebloem"]


async def test_the_migration_gives_existing_activities_their_organisation_and_places_trust_only_where_clear(
    infra: Infra,
) -> None:
    migrations = db.load_migrations("runtime", "komerbij.runtime.migrations") + db.load_migrations(
        "registration", "komerbij.registration.migrations")
    later = {"004_organisations.sql", "005_held_edits.sql"}
    pool = await db.create_pool(infra.new_database("registration"), max_size=2)
    try:
        await db.migrate(pool, [m for m in migrations if m.name not in later])
        owners = {uuid.uuid4(): ("anna", "GM0363", None), uuid.uuid4(): ("anna", "GM0363", "zonnebloem"),
                  uuid.uuid4(): ("dirk", None, "zonnebloem"), uuid.uuid4(): ("jan", "GM0363", None),
                  uuid.uuid4(): ("jan", "GM0599", None), uuid.uuid4(): ("beheer", None, None)}
        async with pool.acquire() as conn:
            for activity_id, (subject, municipality, partner) in owners.items():
                await conn.execute(
                    """INSERT INTO activities (id, edition_year, status, title, description, category, starts_at,
                           ends_at, target_groups, accessibility, contact, kom_erbij, owner_subject,
                           owner_municipality, owner_partner, search_text)
                       VALUES ($1, 2022, 'published', 'Eettafel', 'Samen eten', 'eettafel', '2022-10-01 17:00+02',
                               '2022-10-01 19:00+02', '{ouderen}', '{}', $2, true, $3, $4, $5, 'eettafel')""",
                    activity_id, {"name": "Welzijn", "email": "info@example.org", "phone": None}, subject,
                    municipality, partner,
                )
            await conn.executemany("INSERT INTO trusted_organisers (subject, added_by) VALUES ($1, 'moderator')",
                                   [("anna",), ("dirk",), ("jan",), ("nobody",)])
        assert await db.migrate(pool, migrations) == [f"registration/{m}" for m in sorted(later)]
        async with pool.acquire() as conn:
            organisation = {r["id"]: r["owner_organisation"]
                            for r in await conn.fetch("SELECT id, owner_organisation FROM activities")}
            trusted = {r["subject"]: r["organisation"]
                       for r in await conn.fetch("SELECT subject, organisation FROM trusted_organisers")}
    finally:
        await pool.close()
    expected = {"GM0363": 3, "GM0599": 1, "partner:zonnebloem": 1, None: 1}
    assert {o: list(organisation.values()).count(o) for o in set(organisation.values())} == expected
    # jan acted for two municipalities and nobody registered anything: their trust waits for a moderator.
    assert trusted == {"anna": "GM0363", "dirk": "partner:zonnebloem", "jan": None, "nobody": None}
