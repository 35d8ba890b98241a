"""A partner contact's own page, `/voorkeuren/{token}` (issue 16.5): what their organisation hears about, where and
how often, and unsubscribing from everything. No login: the signed token is the key. A GET never changes anything,
a POST carries the page's CSRF token and is rate limited; the subscriptions change as the API shows them.
In-process against real PostgreSQL and Kafka (the browser test in tests/pages follows a link from a real mail).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from support.infra import Infra
from support.services import RunningService, running, settings_env

from komerbij.notifications.app import build_spec
from komerbij.notifications.domain.signatures import preferences_token, unsubscribe_token

from .conftest import ADMIN, UNSUBSCRIBE_SECRET, make_partner, notifications
from .pages import csrf_of, error_at, field_value
from .receivers import MailSink

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(infra: Infra) -> AsyncIterator[RunningService]:
    """One service for the module (each test has partners of its own); it sends nothing."""
    sink = MailSink().start()
    try:
        async with notifications(infra, sink, jobs_but=("dispatch",)) as service:
            yield service
    finally:
        sink.stop()


async def _partner(svc: RunningService) -> dict[str, str]:
    return await make_partner(svc.client, kind="municipality", municipality="GM0363", name="Gemeente Amsterdam",
                              contact=f"ontmoeten-{uuid.uuid4().hex[:6]}@amsterdam.example",
                              id=f"gm0363-{uuid.uuid4().hex[:6]}",
                              subscription={"event_types": ["ActivityPublished"], "municipalities": ["GM0363"]})


async def _subscriptions(svc: RunningService, partner_id: str) -> list[dict[str, Any]]:
    r = await svc.client.get(f"/v1/partners/{partner_id}", headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()["subscriptions"]


def _token(contact_id: str, **kwargs: Any) -> str:
    return preferences_token(UNSUBSCRIBE_SECRET, contact_id, **kwargs)


async def test_the_contact_changes_what_their_organisation_hears_and_a_get_changes_nothing(
    svc: RunningService
) -> None:
    ids = await _partner(svc)
    before = await _subscriptions(svc, ids["partner"])
    path = f"/voorkeuren/{_token(ids['contact'])}"

    page = await svc.client.get(path)
    assert page.status_code == 200 and "Gemeente Amsterdam" in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and "no-store" in page.headers["cache-control"]
    assert field_value(page.text, "subscriptions.0.municipalities") == "Amsterdam"
    assert 'name="subscriptions.0.event_types" value="ActivityPublished" checked' in page.text
    assert await _subscriptions(svc, ids["partner"]) == before, "a GET changes nothing"

    wanted = {"subscriptions.0.id": before[0]["id"], "subscriptions.0.event_types": ["ActivityPublished",
                                                                                     "MentionRecorded"],
              "subscriptions.0.municipalities": "Utrecht, zaanstad", "subscriptions.0.provinces": ["Groningen"],
              "subscriptions.0.mode": "digest"}
    forged = await svc.client.post(path, data=wanted)  # no CSRF token: not from the page
    assert forged.status_code == 403
    assert await _subscriptions(svc, ids["partner"]) == before

    saved = await svc.client.post(path, data={**wanted, "csrf_token": csrf_of(page.text)})
    assert saved.status_code == 303 and saved.headers["location"] == path
    assert await _subscriptions(svc, ids["partner"]) == [{
        "id": before[0]["id"], "event_types": ["ActivityPublished", "MentionRecorded"],
        "municipalities": ["GM0344", "GM0479"], "provinces": ["Groningen"], "mode": "digest"}]
    shown = await svc.client.get(path)
    assert "Uw voorkeuren zijn opgeslagen." in shown.text
    assert field_value(shown.text, "subscriptions.0.municipalities") == "Utrecht, Zaanstad"

    wrong = await svc.client.post(path, data={"csrf_token": csrf_of(shown.text), "subscriptions.0.id": before[0]["id"],
                                              "subscriptions.0.municipalities": "Amsterdm, Utrecht",
                                              "subscriptions.0.mode": "immediate"})
    assert wrong.status_code == 422
    assert error_at(wrong.text, "subscriptions.0.municipalities") == "Deze gemeente kennen wij niet: Amsterdm"
    assert error_at(wrong.text, "subscriptions.0.event_types") == "Kies minstens één soort melding."
    assert field_value(wrong.text, "subscriptions.0.municipalities") == "Amsterdm, Utrecht", "what was typed stays"
    assert (await _subscriptions(svc, ids["partner"]))[0]["mode"] == "digest", "nothing saved"


async def test_a_partner_without_subscription_gets_one_and_another_partners_subscription_is_out_of_reach(
    svc: RunningService
) -> None:
    bare = await make_partner(svc.client, kind="welfare", name="Welzijn Zuid", contact="zuid@welzijn.example")
    other = await _partner(svc)
    path = f"/voorkeuren/{_token(bare['contact'])}"
    page = await svc.client.get(path)
    assert field_value(page.text, "subscriptions.0.id") == ""
    form = {"csrf_token": csrf_of(page.text), "subscriptions.0.id": "", "subscriptions.0.mode": "immediate",
            "subscriptions.0.event_types": ["SignupConfirmed"], "subscriptions.0.municipalities": ""}
    assert (await svc.client.post(path, data=form)).status_code == 303
    [made] = await _subscriptions(svc, bare["partner"])
    assert (made["event_types"], made["municipalities"], made["provinces"]) == (["SignupConfirmed"], [], [])

    theirs = (await _subscriptions(svc, other["partner"]))[0]
    stolen = await svc.client.post(path, data={**form, "subscriptions.0.id": theirs["id"]})
    assert stolen.status_code == 409
    assert (await _subscriptions(svc, other["partner"]))[0] == theirs


async def test_only_a_valid_preferences_token_opens_the_page(svc: RunningService) -> None:
    ids = await _partner(svc)
    now = svc.runtime.clock.now().timestamp()
    assert (await svc.client.get(f"/voorkeuren/{_token(ids['contact'])}")).status_code == 200
    expired = _token(ids["contact"], now=now - timedelta(days=91).total_seconds())
    assert (await svc.client.get(f"/voorkeuren/{expired}")).status_code == 404
    one_click = unsubscribe_token(UNSUBSCRIBE_SECRET, ids["contact"])  # the other link's token: another door
    assert (await svc.client.get(f"/voorkeuren/{one_click}")).status_code == 404
    assert (await svc.client.get(f"/unsubscribe/{_token(ids['contact'])}")).status_code == 404
    forged = preferences_token("some-other-key-of-16-bytes", ids["contact"])
    assert (await svc.client.get(f"/voorkeuren/{forged}")).status_code == 404
    page = await svc.client.get(f"/voorkeuren/{forged}", headers={"accept": "text/html"})
    assert "Deze link werkt niet" in page.text
    assert (await svc.client.delete(f"/v1/contacts/{ids['contact']}", headers=ADMIN)).status_code == 204
    assert (await svc.client.get(f"/voorkeuren/{_token(ids['contact'])}")).status_code == 404, "erased"


async def test_unsubscribing_from_everything_stops_the_contacts_mail_and_leaves_the_choices_alone(
    svc: RunningService
) -> None:
    ids = await _partner(svc)
    path = f"/voorkeuren/{_token(ids['contact'])}"
    page = await svc.client.get(path)
    done = await svc.client.post(f"{path}/afmelden", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 303
    r = await svc.client.get(f"/v1/partners/{ids['partner']}", headers=ADMIN)
    [contact] = r.json()["contacts"]
    assert contact["unsubscribed_at"] is not None
    after = await svc.client.get(path)
    assert "U bent afgemeld" in after.text and "Voorkeuren opslaan" not in after.text
    late = await svc.client.post(path, data={"csrf_token": csrf_of(page.text), "subscriptions.0.id": "",
                                             "subscriptions.0.event_types": ["MentionRecorded"],
                                             "subscriptions.0.mode": "immediate"})
    assert late.status_code == 409
    assert [s["event_types"] for s in await _subscriptions(svc, ids["partner"])] == [["ActivityPublished"]]


async def test_the_preferences_form_is_rate_limited_like_every_public_write(infra: Infra) -> None:
    strict = {"RATE_LIMIT_BURST": "3", "RATE_LIMIT_PER_MINUTE": "0.001", "RATE_LIMIT_EXEMPT_NETWORKS": ""}
    env = settings_env(infra, infra.new_database("notif_prefs_rate"), **strict)
    async with running(build_spec(dispatch=False), env) as svc:
        ids = await make_partner(svc.client, contact="kim@voorbeeld.example")
        path = f"/voorkeuren/{preferences_token(env['UNSUBSCRIBE_SECRET'], ids['contact'])}"
        token = csrf_of((await svc.client.get(path)).text)
        statuses = [(await svc.client.post(f"{path}/afmelden", data={"csrf_token": token})).status_code
                    for _ in range(4)]
    assert statuses == [303, 303, 303, 429]
