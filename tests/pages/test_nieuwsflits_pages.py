"""The nieuwsflits pages as HTML, on the media service in-process against real PostgreSQL and Kafka: compose (with
the messages at their fields), the preview as readers will see it (the mail's HTML in its frame, the plain text),
send (one `NewsletterSent` on media.newsletters, a second send refused), the progress notifications reports, and
the public archive. "Uitgelicht" comes from media's own read model of registration.activities, fed here through
Kafka as registration would feed it."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.infra import Infra
from support.kafka import cloudevent, data, produce, read_topic, start_group_at_end
from support.services import RunningService, eventually, running, settings_env

from komerbij.contracts.events.newsletter import NewsletterProgress, NewsletterSent
from komerbij.contracts.events.registration import ActivityCancelled, ActivityPublished, Venue
from komerbij.media.app import SPEC

from .html_tree import Element, field_error, parse
from .test_media_pages import COMMS, log_in, mention, outlet, page

PAGES_BASE = "https://www.komerbij.example"


@pytest.fixture
async def media(infra: Infra) -> AsyncIterator[RunningService]:
    group = f"media-nieuwsflits-{uuid.uuid4().hex[:8]}"
    events = SPEC.events
    assert events is not None
    await start_group_at_end(infra.kafka_bootstrap, group, list(events.topics))  # only this test's events
    env = settings_env(infra, infra.new_database("media_nieuwsflits"), PAGES_BASE_URL=PAGES_BASE)
    async with running(dataclasses.replace(SPEC, jobs=[], events=events.with_consumer(group)), env) as svc:
        yield svc


def _activity(title: str, starts: datetime, **extra: Any) -> ActivityPublished:
    return ActivityPublished(
        activity_id=f"act-{uuid.uuid4().hex[:10]}", edition_year=starts.year, title=title, category="samen-eten",
        starts_at=starts, ends_at=starts + timedelta(hours=2), municipality="GM0363", province="Noord-Holland",
        online=False, venue=Venue(name="Buurthuis De Boom", street="Dam 1", postcode="1012 JS", city="Amsterdam"),
        **extra)


async def post(svc: RunningService, path: str, csrf: str, form: dict[str, Any], status: int) -> Any:
    answer = await svc.client.post(path, data={"csrf_token": csrf, **form}, headers={"accept": "text/html"})
    assert answer.status_code == status, (answer.status_code, answer.text[:3000])
    return answer


def text_of(doc: Element) -> str:
    return " ".join(doc.text.split())


async def test_comms_compose_preview_and_send_a_nieuwsflits_and_the_archive_shows_it(
    media: RunningService, infra: Infra,
) -> None:
    soon = datetime.now(UTC) + timedelta(days=20)
    dinner, walk, gone = (_activity("Samen eten in de Boom", soon), _activity("Wandeling langs de Amstel", soon),
                          _activity("Gaat niet door", soon))
    await produce(infra.kafka_bootstrap, ActivityPublished.TOPIC, [
        (e.key.encode(), *cloudevent(e)) for e in (dinner, walk, gone)])
    cancelled = ActivityCancelled(**gone.model_dump())
    await produce(infra.kafka_bootstrap, ActivityCancelled.TOPIC, [(gone.key.encode(), *cloudevent(cancelled))])

    async def agenda() -> list[str]:
        r = await media.client.get("/v1/agenda", headers=COMMS)
        ids = [a["activity_id"] for a in r.json()["items"]]
        return ids if {dinner.activity_id, walk.activity_id} <= set(ids) and gone.activity_id not in ids else []
    await eventually(agenda, what="the published activities in media's agenda, the cancelled one not")

    paper_name = f"Het Parool {uuid.uuid4().hex[:4]}"
    paper = await outlet(media, paper_name, "print", "regional", province="Noord-Holland")
    first = await mention(media, paper, "Aanschuiven bij de buren", "2026-09-30T09:00:00+02:00",
                          url="https://parool.example/aanschuiven")
    second = await mention(media, paper, "Koffie in de bibliotheek", "2026-10-02T18:00:00+02:00",
                           url="https://parool.example/koffie")
    await mention(media, paper, "Niet uitgelicht", "2026-10-01T12:00:00+02:00", url="https://parool.example/niet")
    outside = await mention(media, paper, "Uitgelicht maar te vroeg", "2026-09-01T12:00:00+02:00",
                            url="https://parool.example/vroeg")
    for mention_id in (first, second, outside):
        r = await media.client.patch(f"/v1/mentions/{mention_id}", json={"featured": True}, headers=COMMS)
        assert r.status_code == 200, r.text

    csrf = log_in(media)
    form = (await page(media, "/media/nieuwsflits/nieuw")).one("form", action="/media/nieuwsflits/nieuw")
    assert {dinner.activity_id, walk.activity_id} <= {i.get("value") for i in form.all("input", name="activity_ids")}
    assert gone.activity_id not in {i.get("value") for i in form.all("input", name="activity_ids")}

    # Wrong: no title, a period the wrong way round, a date people mistype, half a section.
    wrong = {"title": "", "intro": "Beste lezer", "period_from": "2026-10-05", "period_to": "2026-09-28",
             "dates.0.day": "31-31-2026", "dates.0.label": "Start", "sections.0.heading": "Alleen een kop"}
    doc = parse((await post(media, "/media/nieuwsflits/nieuw", csrf, wrong, 422)).text)
    assert field_error(doc, "title") == "Geef de nieuwsflits een titel."
    assert field_error(doc, "dates.0.day") == "Vul een geldige datum in, bijvoorbeeld 1-10-2026."
    assert doc.by_id("veld-intro").text == "Beste lezer"
    assert doc.by_id("veld-period-from").get("value") == "2026-10-05"
    wrong.update({"title": "Week tegen Eenzaamheid 2026", "dates.0.day": "2026-10-01"})
    doc = parse((await post(media, "/media/nieuwsflits/nieuw", csrf, wrong, 422)).text)
    assert field_error(doc, "sections.0.text") == "Vul dit in."
    wrong.update({"sections.0.text": "Een stuk."})
    doc = parse((await post(media, "/media/nieuwsflits/nieuw", csrf, wrong, 422)).text)
    assert field_error(doc, "period_to") == "De einddatum ligt voor de begindatum."

    composed = {
        "title": "Week tegen Eenzaamheid 2026", "intro": "Beste lezer,\n\nDe week komt eraan.",
        "period_from": "2026-09-28", "period_to": "2026-10-04",
        "sections.0.heading": "Kom erbij-pakket", "sections.0.text": "Bestel het pakket voor uw activiteit.",
        "dates.0.day": "2026-10-08", "dates.0.label": "Landelijke afsluiting", "dates.1.day": "1-10-2026",
        "dates.1.label": "Start van de week", "activity_ids": [walk.activity_id, dinner.activity_id],
    }
    created = await post(media, "/media/nieuwsflits/nieuw", csrf, composed, 303)
    edition_path = created.headers["location"]
    edition_id = edition_path.rsplit("/", 1)[1]

    doc = await page(media, edition_path)
    assert doc.one("h1").text == "Week tegen Eenzaamheid 2026"
    plain = doc.one("pre", cls="komerbij-mail-text").text
    expected_in_order = [
        "Beste [naam van de contactpersoon],", "WEEK TEGEN EENZAAMHEID 2026", "De week komt eraan.",
        "Kom erbij-pakket", "Uitgelicht", "- Wandeling langs de Amstel", "- Samen eten in de Boom",
        "In de media", "Het Parool", "woensdag 30 september 2026: Aanschuiven bij de buren",
        "https://parool.example/aanschuiven", "vrijdag 2 oktober 2026: Koffie in de bibliotheek",
        "Data om te onthouden", "donderdag 1 oktober 2026: Start van de week",
        "donderdag 8 oktober 2026: Landelijke afsluiting",
        "Uw gegevens worden bij afmelding na maximaal 1 maand verwijderd.",
    ]
    at = 0
    for piece in expected_in_order:
        found = plain.find(piece, at)
        assert found >= 0, (piece, plain)
        at = found
    assert "Niet uitgelicht" not in plain and "te vroeg" not in plain
    assert f"{PAGES_BASE}/agenda/{walk.activity_id}" in plain
    frame = doc.one("iframe")
    assert frame.get("src") == f"{edition_path}/mail.html" and frame.get("title")

    mail = await media.client.get(f"{edition_path}/mail.html")
    assert mail.status_code == 200
    assert "frame-ancestors 'self'" in mail.headers["content-security-policy"]
    assert "script" not in mail.headers["content-security-policy"]
    mail_doc = parse(mail.text)
    links = {a.get("href"): a.text for a in mail_doc.all("a")}
    assert links["https://parool.example/aanschuiven"] == "Aanschuiven bij de buren"
    assert links["https://parool.example/koffie"] == "Koffie in de bibliotheek"
    assert links[f"{PAGES_BASE}/agenda/{dinner.activity_id}"] == "Samen eten in de Boom"

    # Edit the draft: the form shows what it holds; a change is kept.
    edit = (await page(media, f"{edition_path}/bewerken")).one("form", action=f"{edition_path}/bewerken")
    assert edit.one("input", name="sections.0.heading").get("value") == "Kom erbij-pakket"
    composed["title"] = "De Week tegen Eenzaamheid 2026"
    await post(media, f"{edition_path}/bewerken", csrf, composed, 303)

    sent = await post(media, f"{edition_path}/versturen", csrf, {}, 303)
    assert sent.headers["location"] == f"{edition_path}?verstuurd=1"
    records = await read_topic(infra.kafka_bootstrap, NewsletterSent.TOPIC,
                               keep=lambda r: data(r).get("edition_id") == edition_id, until=lambda rs: len(rs) >= 1)
    event = NewsletterSent.model_validate(data(records[0]))
    assert (event.number, event.title) == (1, "De Week tegen Eenzaamheid 2026")
    assert [m.title for m in event.mentions] == ["Aanschuiven bij de buren", "Koffie in de bibliotheek"]
    assert [(m.outlet, m.url) for m in event.mentions] == [(paper_name, "https://parool.example/aanschuiven"),
                                                            (paper_name, "https://parool.example/koffie")]
    assert [a.activity_id for a in event.activities] == [walk.activity_id, dinner.activity_id]
    assert event.archive_url == f"{PAGES_BASE}/media/nieuwsflits/archief/1"
    assert event.body_text in (await media.client.get(f"/v1/newsletters/{edition_id}/preview",
                                                      headers=COMMS)).json()["text"]

    again = await post(media, f"{edition_path}/versturen", csrf, {}, 409)
    assert "al verstuurd" in text_of(parse(again.text))
    assert (await media.client.post(f"/v1/newsletters/{edition_id}/send", headers=COMMS)).status_code == 409
    refused = await media.client.put(f"/v1/newsletters/{edition_id}", headers=COMMS, json={"title": "Anders"})
    assert refused.status_code == 409
    records = await read_topic(infra.kafka_bootstrap, NewsletterSent.TOPIC, to_end=True,
                               keep=lambda r: data(r).get("edition_id") == edition_id, until=lambda rs: True)
    assert len(records) == 1, "one send, one event"

    # Progress as notifications reports it; a late, older report changes nothing. The newest report wins, and the
    # page tests' stack runs a real notifications on the same Kafka: it takes this edition's NewsletterSent too and
    # reports its own counts, stamped with its clock, whenever its job ticks. These reports are stamped an hour ahead,
    # so they are the newest whatever that one reports during the test, and what the page shows is theirs.
    now = datetime.now(UTC) + timedelta(hours=1)
    reports = [NewsletterProgress(edition_id=edition_id, total=5, sent=3, at=now),
               NewsletterProgress(edition_id=edition_id, total=5, sent=1, at=now - timedelta(seconds=5))]
    await produce(infra.kafka_bootstrap, NewsletterProgress.TOPIC,
                  [(r.key.encode(), *cloudevent(r)) for r in reports])

    async def progress() -> str:
        shown = (await page(media, edition_path)).by_id("voortgang").text
        return shown if shown.startswith("3 van 5") else ""
    await eventually(progress, what="the progress notifications reported, on the edition's page")

    # The archive is public: no login needed.
    media.client.cookies.clear()
    archive = await page(media, "/media/nieuwsflits/archief")
    assert [a.text for a in archive.all("a") if a.get("href") == "/media/nieuwsflits/archief/1"] == [
        "Nieuwsflits 1: De Week tegen Eenzaamheid 2026"]
    archived = await page(media, "/media/nieuwsflits/archief/1")
    body = text_of(archived)
    assert "Aanschuiven bij de buren" in body and "Wandeling langs de Amstel" in body
    assert "Niet uitgelicht" not in body
    await page(media, "/media/nieuwsflits/archief/2", status=404)
    assert (await media.client.get(edition_path)).status_code == 303  # the edition's own page is comms'
