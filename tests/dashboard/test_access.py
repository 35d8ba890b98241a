"""Who sees which figures, through the JSON API and the pages (in-process, a session cookie as the login leaves it),
and how the pages answer bad input. The browser and axe checks are in tests/pages/test_dashboard_pages.py."""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from itsdangerous import TimestampSigner
from support.infra import Infra
from support.kafka import start_group_at_end
from support.services import JWT_SECRET, RunningService, auth, running, settings_env

from komerbij.dashboard.app import build_spec
from komerbij.runtime.web import SESSION_COOKIE

pytestmark = pytest.mark.asyncio(loop_scope="module")
TOPICS = ["materials.orders", "media.mentions", "registration.activities", "registration.signups"]

PEOPLE = {
    "organiser of Amsterdam": {"role": "organiser", "municipality": "GM0363"},
    "organiser of Rotterdam": {"role": "organiser", "municipality": "GM0599"},
    "partner organiser": {"role": "organiser", "partner": "ouderenfonds"},
    "moderator": {"role": "moderator"},
    "comms": {"role": "comms"},
    "fulfilment": {"role": "fulfilment"},
    "admin": {"role": "admin"},
}
# Who may see Amsterdam's figures, and who the national overview.
AMSTERDAM = {"organiser of Amsterdam", "moderator", "comms", "admin"}
PROGRAMME_TEAM = {"moderator", "comms", "admin"}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def svc(infra: Infra) -> AsyncIterator[RunningService]:
    group = f"dashboard-access-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(infra.kafka_bootstrap, group, TOPICS)
    async with running(build_spec(group), settings_env(infra, infra.new_database("dashboard_access"))) as running_svc:
        yield running_svc


def session(person: str) -> dict[str, str]:
    """The cookie a login through Keycloak leaves (Starlette's signed session, komerbij's `user` entry)."""
    user = {"sub": f"test-{person.replace(' ', '-')}", "name": person, "municipality": None, "partner": None,
            **PEOPLE[person]}
    data = base64.b64encode(json.dumps({"user": user, "csrf": "x"}).encode())
    return {SESSION_COOKIE: TimestampSigner(JWT_SECRET).sign(data).decode()}


@pytest.mark.parametrize("person", sorted(PEOPLE))
async def test_a_municipalitys_figures_are_for_its_organisers_and_the_programme_team(
    svc: RunningService, person: str
) -> None:
    headers = auth(**PEOPLE[person])
    api = await svc.client.get("/v1/municipalities/GM0363", headers=headers)
    page = await svc.client.get("/gemeente/GM0363", cookies=session(person), headers={"accept": "text/html"})
    national = await svc.client.get("/v1/municipalities", headers=headers)
    national_page = await svc.client.get("/gemeenten", cookies=session(person), headers={"accept": "text/html"})
    allowed, team = person in AMSTERDAM, person in PROGRAMME_TEAM
    assert (api.status_code, page.status_code) == ((200, 200) if allowed else (403, 403))
    assert (national.status_code, national_page.status_code) == ((200, 200) if team else (403, 403))
    if allowed:
        assert api.json()["municipality"]["name"] == "Amsterdam"
        assert "Amsterdam: de week in cijfers" in page.text
    else:
        assert "Geen toegang" in page.text and "Amsterdam: de week" not in page.text


async def test_without_a_login_the_api_says_401_and_the_pages_send_to_the_login(svc: RunningService) -> None:
    assert (await svc.client.get("/v1/municipalities/GM0363")).status_code == 401
    for path in ("/gemeente/GM0363?editie=2026", "/gemeenten", "/gemeenten/export", "/gemeente"):
        r = await svc.client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/gemeente"), path


async def test_gemeente_sends_each_person_to_their_own_figures(svc: RunningService) -> None:
    async def where(person: str, query: str = "") -> str:
        r = await svc.client.get(f"/gemeente{query}", cookies=session(person), headers={"accept": "text/html"})
        return r.headers.get("location") or str(r.status_code)

    assert await where("organiser of Amsterdam") == "/gemeente/GM0363"
    assert await where("organiser of Rotterdam", "?editie=2026") == "/gemeente/GM0599?editie=2026"
    assert await where("moderator") == "/gemeenten"
    assert await where("comms", "?gemeente=GM0518&editie=2026") == "/gemeente/GM0518?editie=2026"
    assert await where("partner organiser") == "403"  # acts for no municipality


async def test_an_unknown_municipality_or_edition_is_named_as_such(svc: RunningService) -> None:
    comms, cookies = auth("comms"), session("comms")
    assert (await svc.client.get("/v1/municipalities/GM9999", headers=comms)).status_code == 404
    missing = await svc.client.get("/gemeente/GM9999", cookies=cookies, headers={"accept": "text/html"})
    assert missing.status_code == 404 and "Gemeente niet gevonden" in missing.text
    bad = await svc.client.get("/v1/municipalities/GM0363", params={"edition": 1999}, headers=comms)
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["query.edition"]
    for path in ("/gemeente/GM0363", "/gemeenten"):
        page = await svc.client.get(path, params={"editie": "negentien"}, cookies=cookies)
        assert page.status_code == 422
        assert 'id="veld-editie-fout"' in page.text and "kies een editie tussen" in page.text


async def test_the_overview_exports_every_municipality_as_csv(svc: RunningService) -> None:
    r = await svc.client.get("/gemeenten/export", params={"editie": "2026"}, cookies=session("moderator"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="gemeenten-2026.csv"'
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 342 and {row["edition"] for row in rows} == {"2026"}
    assert next(row for row in rows if row["code"] == "GM0363")["municipality"] == "Amsterdam"
