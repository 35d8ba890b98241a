"""Public sign-up without abuse (issue 14): one active sign-up per e-mail address and per phone number for an
activity (held by the database, also under concurrent requests), a party no larger than the organiser allows, and a
name that cannot carry a link into the confirmation mail."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from support.infra import Infra
from support.services import RunningService

from komerbij.registration.domain.signup import email_key, phone_key
from komerbij.runtime import db
from registration.builders import ORGANISER_A, headers, participants, published

pytestmark = pytest.mark.asyncio(loop_scope="module")


def person(email: str | None = None, phone: str | None = None, name: str = "Truus", party_size: int = 1) -> dict:
    return {"name": name, "email": email, "phone": phone, "party_size": party_size, "consent": True}


async def post(svc: RunningService, activity_id: str, body: dict[str, Any]) -> Any:
    return await svc.client.post(f"/v1/activities/{activity_id}/signups", json=body)


async def seats(svc: RunningService, activity_id: str) -> int:
    r = await svc.client.get(f"/v1/activities/{activity_id}", headers=headers(ORGANISER_A))
    return r.json()["seats_taken"]


async def test_the_same_address_signing_up_twice_gets_a_dutch_409_and_the_first_signup_is_untouched(
    svc: RunningService,
) -> None:
    activity_id = await published(svc, capacity=10)
    first = await post(svc, activity_id, person("truus@example.org", party_size=2))
    assert first.status_code == 201
    before = await participants(svc, activity_id)

    again = await post(svc, activity_id, person("Truus@Example.org", name="Truus de Vries", party_size=3))

    assert again.status_code == 409, again.text
    problem = again.json()
    assert problem["title"] == "U bent al aangemeld"
    assert "bevestigingsmail" in problem["detail"] and "link" in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == ["email"]
    assert await participants(svc, activity_id) == before  # one sign-up, as it was
    assert await seats(svc, activity_id) == 2
    # The cancel link of the first still works, and afterwards the address may sign up anew.
    cancelled = await svc.client.post(f"/v1/signups/{first.json()['id']}/cancel",
                                      params={"token": first.json()["cancel_token"]})
    assert cancelled.status_code == 200
    assert (await post(svc, activity_id, person("truus@example.org"))).status_code == 201


@pytest.mark.parametrize(("first", "second", "field"), [
    (person("jan.jansen@example.org"), person("JAN.Jansen@Example.ORG"), "email"),
    (person("jan@example.org"), person("jan+agenda@example.org"), "email"),
    (person(phone="06 12345678"), person(phone="+31 6 1234 5678"), "phone"),
    (person(phone="06-12345678"), person(phone="0031 (0)6 12345678"), "phone"),
    (person("a@example.org", "0612345678"), person("b@example.org", "06 1234 5678"), "phone"),
])
async def test_one_mailbox_or_number_however_written_is_one_signup(
    svc: RunningService, first: dict, second: dict, field: str
) -> None:
    activity_id = await published(svc, capacity=None)
    assert (await post(svc, activity_id, first)).status_code == 201
    r = await post(svc, activity_id, second)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == field


async def test_the_same_address_may_sign_up_for_another_activity_and_a_waitlisted_one_counts_too(
    svc: RunningService,
) -> None:
    full = await published(svc, capacity=1)
    other = await published(svc)
    assert (await post(svc, full, person("vol@example.org"))).json()["status"] == "confirmed"
    waiting = await post(svc, full, person("wacht@example.org"))
    assert waiting.json()["status"] == "waitlisted"
    assert (await post(svc, full, person("wacht@example.org"))).status_code == 409
    assert (await post(svc, other, person("wacht@example.org"))).status_code == 201


async def test_concurrent_signups_with_one_address_let_exactly_one_in(svc: RunningService) -> None:
    """The unique index decides, not a look-up before the insert: twenty requests at once, one sign-up."""
    activity_id = await published(svc, capacity=50)
    results = await asyncio.gather(*(post(svc, activity_id, person("gelijk@example.org", name=f"Poging{n}",
                                                                    party_size=2)) for n in range(20)))
    codes = sorted(r.status_code for r in results)
    assert codes == [201] + [409] * 19, codes
    [p] = await participants(svc, activity_id)
    assert p["status"] == "confirmed" and p["party_size"] == 2
    assert await seats(svc, activity_id) == 2  # the refused ones counted no seats


async def test_the_organiser_sets_the_largest_party_default_four_at_most_twenty(svc: RunningService) -> None:
    default = await published(svc, capacity=None)
    public = (await svc.client.get(f"/v1/activities/{default}")).json()
    assert public["max_party_size"] == 4
    assert (await post(svc, default, person("vier@example.org", party_size=4))).status_code == 201
    five = await post(svc, default, person("vijf@example.org", party_size=5))
    assert five.status_code == 422 and five.json()["errors"][0]["field"] == "party_size"
    assert "hooguit 4 personen" in five.json()["errors"][0]["message"]
    assert await seats(svc, default) == 4

    roomy = await published(svc, capacity=None, max_party_size=8)
    assert (await svc.client.get(f"/v1/activities/{roomy}")).json()["max_party_size"] == 8
    assert (await post(svc, roomy, person("acht@example.org", party_size=8))).status_code == 201
    r = await svc.client.patch(f"/v1/activities/{roomy}", headers=headers(ORGANISER_A), json={"max_party_size": 1})
    assert r.status_code == 200 and r.json()["max_party_size"] == 1  # not a held field: at once
    assert (await post(svc, roomy, person("twee@example.org", party_size=2))).status_code == 422
    for too_many in (21, 0):
        r = await svc.client.patch(f"/v1/activities/{roomy}", headers=headers(ORGANISER_A),
                                   json={"max_party_size": too_many})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "max_party_size"


@pytest.mark.parametrize("name", [
    "Klik op https://evil.example/prijs", "www.gratis-prijs.nl", "evil.example", "Kijk op Evil.Com.", "jan@evil.nl",
    "Prijs: evil.example/x", "evil。example", "xn--bcher-kva.example", "Mevrouw (win-nu.nl)",
])
async def test_a_name_that_carries_a_link_is_refused(svc: RunningService, name: str) -> None:
    activity_id = await published(svc)
    r = await post(svc, activity_id, person(f"{uuid.uuid4().hex[:8]}@example.org", name=name))
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["name"], r.text


async def test_the_migration_keys_existing_signups_and_keeps_earlier_duplicates(infra: Infra) -> None:
    """Sign-ups from before the rule: the first of a duplicate pair gets the key, the index can be built, and
    from then on no further duplicate of either gets in. The SQL keys equal the domain's."""
    migrations = db.load_migrations("runtime", "komerbij.runtime.migrations") + db.load_migrations(
        "registration", "komerbij.registration.migrations")
    later = {"003_signup_limits.sql", "004_organisations.sql", "005_held_edits.sql"}
    pool = await db.create_pool(infra.new_database("registration"), max_size=2)
    try:
        await db.migrate(pool, [m for m in migrations if m.name not in later])
        activity_id = uuid.uuid4()
        rows = [("Truus+1@Example.org", None, "confirmed"), ("truus@example.org", None, "waitlisted"),
                (None, "+31 (0)6 1234 5678", "confirmed"), (None, "06-12345678", "confirmed"),
                ("weg@example.org", "0201234567", "cancelled")]
        ids = [uuid.uuid4() for _ in rows]
        async with pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO activities (id, edition_year, status, title, description, category, starts_at,
                       ends_at, target_groups, capacity, accessibility, contact, kom_erbij, owner_subject,
                       search_text)
                   VALUES ($1, 2022, 'published', 'Eettafel', 'Samen eten', 'eettafel', '2022-10-01 17:00+02',
                           '2022-10-01 19:00+02', '{ouderen}', NULL, '{}', $2, true, 'org', 'eettafel')""",
                activity_id, {"name": "Welzijn", "email": "info@example.org", "phone": None},
            )
            for signup_id, (email, phone, status) in zip(ids, rows, strict=True):
                await conn.execute(
                    """INSERT INTO signups (id, activity_id, status, party_size, email, phone, consent_at)
                       VALUES ($1, $2, $3, 1, $4, $5, now())""",
                    signup_id, activity_id, status, email, phone,
                )
        assert await db.migrate(pool, migrations) == [f"registration/{m}" for m in sorted(later)]
        async with pool.acquire() as conn:
            keys = {r["id"]: (r["email_key"], r["phone_key"])
                    for r in await conn.fetch("SELECT id, email_key, phone_key FROM signups")}
            assert keys == {ids[0]: (email_key(rows[0][0]), None), ids[1]: (None, None),
                            ids[2]: (None, phone_key(rows[2][1])), ids[3]: (None, None), ids[4]: (None, None)}
            assert keys[ids[0]][0] == "truus@example.org" and keys[ids[2]][1] == "0612345678"
            with pytest.raises(Exception, match="signups_one_per_email"):
                await conn.execute(
                    """INSERT INTO signups (id, activity_id, status, party_size, consent_at, email_key)
                       VALUES ($1, $2, 'confirmed', 1, now(), 'truus@example.org')""", uuid.uuid4(), activity_id)
            assert await conn.fetchval("SELECT max_party_size FROM activities WHERE id = $1", activity_id) == 4
    finally:
        await pool.close()
