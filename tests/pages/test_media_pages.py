"""The comms team's pages (/media) as HTML, on the media service in-process against real PostgreSQL and Kafka:
filters, a mention's page and its edits, manual entry with its messages at the fields, the vendor import, feeds
with "poll now" (a real local feed server), outlets, and the coverage dashboard with its CSV, whose numbers must be
the API's. The same flows in Chromium behind the front door are in test_media_in_the_browser.py.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import itsdangerous
import pytest
from media.feed_server import FeedServer, Route, rss
from support.infra import Infra
from support.services import RunningService, auth, running, settings_env

from komerbij.media.app import SPEC
from komerbij.runtime.web import SESSION_COOKIE

from .html_tree import Element, field_error, parse

COMMS = auth("comms")
LEAD = ("Tijdens de Week tegen Eenzaamheid schuiven in Breda bewoners aan voor koffie bij de buurtsuper. Het ANP "
        "sprak met vrijwilligers en gasten over wat een kop koffie kan doen.")


@pytest.fixture
async def media(infra: Infra) -> AsyncIterator[RunningService]:
    env = settings_env(infra, infra.new_database("media_pages"), MEDIA_FEED_TIMEOUT_SECONDS="2")
    async with running(dataclasses.replace(SPEC, jobs=[]), env) as svc:
        yield svc


def log_in(svc: RunningService, role: str = "comms") -> str:
    """A session cookie as the login callback writes it (signed with the session key); returns its CSRF token."""
    csrf = f"csrf-{role}-token"
    session = {"user": {"sub": f"test-{role}", "name": "Sanne Visser", "role": role, "municipality": None,
                        "partner": None}, "csrf": csrf}
    signer = itsdangerous.TimestampSigner(svc.runtime.settings.session_key)
    svc.client.cookies.set(SESSION_COOKIE, signer.sign(base64.b64encode(json.dumps(session).encode())).decode())
    return csrf


async def page(svc: RunningService, path: str, status: int = 200, **params: Any) -> Element:
    answer = await svc.client.get(path, params=params or None, headers={"accept": "text/html"})
    assert answer.status_code == status, (answer.status_code, answer.text[:2000])
    assert "style=" not in answer.text, "the CSP allows no inline style attributes"
    return parse(answer.text)


async def outlet(svc: RunningService, name: str, medium: str = "online", scope: str = "national", **extra: Any
                 ) -> str:
    r = await svc.client.post("/v1/outlets", json={"name": name, "medium": medium, "scope": scope, **extra},
                              headers=COMMS)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def mention(svc: RunningService, outlet_id: str, title: str, when: str, **extra: Any) -> str:
    body = {"outlet_id": outlet_id, "title": title, "published_at": when, **extra}
    if "url" not in body and "note" not in body:
        body["note"] = "uitzending"
    r = await svc.client.post("/v1/mentions", json=body, headers=COMMS)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def titles(doc: Element) -> list[str]:
    return [h.text for h in doc.all("h3", cls="komerbij-mention__title")]


# --- who may enter ---------------------------------------------------------------------------------------------

async def test_the_comms_room_sends_visitors_to_login_and_refuses_other_roles(media: RunningService) -> None:
    anonymous = await media.client.get("/media/dekking?from=2026-09-01")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/media/dekking%3Ffrom%3D2026-09-01"
    log_in(media, "organiser")
    refused = await page(media, "/media", status=403)
    assert refused.one("h1").text == "Geen toegang"
    log_in(media, "comms")
    doc = await page(media, "/media")
    assert doc.one("h1").text == "Vermeldingen in de media"
    room = doc.one("nav", aria_label="Media")
    assert [a.get("href") for a in room.all("a")] == ["/media", "/media/dekking", "/media/vermeldingen/nieuw",
                                                      "/media/import", "/media/feeds", "/media/titels"]


# --- the list and its filters ----------------------------------------------------------------------------------

async def test_the_filters_narrow_the_list_by_period_medium_scope_province_municipality_text_and_featured(
    media: RunningService,
) -> None:
    log_in(media)
    tv = await outlet(media, "NOS Journaal", "tv")
    brabant = await outlet(media, "Omroep Brabant", "radio", "regional", province="Noord-Brabant")
    paper = await outlet(media, "De Stentor", "print", "regional", province="Gelderland")
    await mention(media, tv, "Samen eten tegen eenzaamheid", "2026-10-01")
    await mention(media, brabant, "Wandelen in Tilburg tijdens de week", "2026-10-02")
    zwolle = await mention(media, paper, "Koffieochtend in Zwolle", "2026-10-03")
    await mention(media, paper, "Oude week: Koffie in Apeldoorn", "2025-10-03")
    r = await media.client.patch(f"/v1/mentions/{zwolle}", json={"featured": True, "municipalities": ["GM0193"]},
                                 headers=COMMS)
    assert r.status_code == 200, r.text

    everything = await page(media, "/media")
    assert everything.one("h2", id="resultaten").text == "4 vermeldingen"
    assert titles(everything)[0] == "Koffieochtend in Zwolle"  # newest first
    cases = [
        ({"from": "2026-09-01", "to": "2026-10-02"}, {"Samen eten tegen eenzaamheid",
                                                      "Wandelen in Tilburg tijdens de week"}),
        ({"from": "1-10-2026", "to": "1-10-2026"}, {"Samen eten tegen eenzaamheid"}),  # as people type a date
        ({"medium": "tv"}, {"Samen eten tegen eenzaamheid"}),
        ({"scope": "regional", "from": "2026-01-01"}, {"Wandelen in Tilburg tijdens de week",
                                                       "Koffieochtend in Zwolle"}),
        ({"province": "Noord-Brabant"}, {"Wandelen in Tilburg tijdens de week"}),  # the outlet's region
        ({"province": "Overijssel"}, {"Koffieochtend in Zwolle"}),  # a place it names (Zwolle)
        ({"municipality": "GM0193"}, {"Koffieochtend in Zwolle"}),
        ({"q": "KOFFIE"}, {"Koffieochtend in Zwolle", "Oude week: Koffie in Apeldoorn"}),
        ({"q": "stentor", "from": "2026-01-01"}, {"Koffieochtend in Zwolle"}),  # the outlet's name counts
        ({"featured": "ja"}, {"Koffieochtend in Zwolle"}),
        ({"featured": "nee", "medium": "print"}, {"Oude week: Koffie in Apeldoorn"}),
    ]
    for params, expected in cases:
        doc = await page(media, "/media", **params)
        assert set(titles(doc)) == expected, params
        for name, value in params.items():  # the form shows what was asked
            field = doc.by_id("veld-" + name)
            shown = field.get("value") if field.tag == "input" else next(
                (o.get("value") for o in field.all("option") if "selected" in o.attrs), None)
            assert shown == value, (name, shown)
    featured = (await page(media, "/media", featured="ja")).one("li", cls="komerbij-mention")
    assert "Uitgelicht" in featured.text


async def test_wrong_filters_are_named_at_their_fields_and_nothing_is_listed(media: RunningService) -> None:
    log_in(media)
    doc = await page(media, "/media", status=422, **{"from": "2026-10-05", "to": "2026-10-01", "medium": "fax"})
    assert field_error(doc, "to") == "De einddatum ligt voor de begindatum."
    assert field_error(doc, "medium") == "Kies een soort medium uit de lijst."
    assert doc.by_id("veld-from").get("value") == "2026-10-05"
    assert not doc.all(id="resultaten")
    doc = await page(media, "/media", status=422, **{"from": "morgen", "municipality": "GM9999"})
    assert field_error(doc, "from") == "Vul een geldige datum in, bijvoorbeeld 30-9-2026."
    assert field_error(doc, "municipality") == "Kies een gemeente uit de lijst."


async def test_the_list_pages_through_many_mentions_keeping_its_filters(media: RunningService) -> None:
    log_in(media)
    tv = await outlet(media, "Omroep West", "tv", "regional")
    for day in range(1, 28):
        await mention(media, tv, f"Uitzending {day:02d}", f"2026-09-{day:02d}")
    first = await page(media, "/media", medium="tv")
    assert first.one("h2", id="resultaten").text == "27 vermeldingen"
    assert len(titles(first)) == 25
    following = first.one("a", rel="next").get("href")
    assert following == "/media?medium=tv&pagina=2"
    second = await page(media, following)
    assert titles(second) == ["Uitzending 02", "Uitzending 01"]
    assert second.one("a", rel="prev").get("href") == "/media?medium=tv&pagina=1"


async def test_the_csv_of_the_list_has_what_the_filters_found_with_formulas_made_harmless(
    media: RunningService,
) -> None:
    log_in(media)
    site = await outlet(media, "Nieuwssite", "online")
    copier = await outlet(media, "Kopieerkrant", "online")
    await mention(media, site, "=HYPERLINK(\"http://x.test\") Koffie in Breda", "2026-10-01",
                  url="https://nieuwssite.test/breda", summary=LEAD)
    await mention(media, copier, "=HYPERLINK(\"http://x.test\") Koffie in Breda", "2026-10-01T14:00:00",
                  url="https://kopieerkrant.test/breda", summary=LEAD)
    await mention(media, site, "Iets anders", "2026-08-01", url="https://nieuwssite.test/anders")
    doc = await page(media, "/media", **{"from": "2026-09-01"})
    link = doc.one("a", where=lambda a: (a.get("href") or "").startswith("/media/vermeldingen.csv"))
    answer = await media.client.get(link.get("href") or "")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert sorted(r["outlet"] for r in rows) == ["Kopieerkrant", "Nieuwssite"]  # the copy too; not August's
    assert all(r["title"].startswith("'=HYPERLINK") for r in rows)


# --- one mention -----------------------------------------------------------------------------------------------

async def test_a_mention_page_shows_its_copies_and_places_and_comms_edit_judgement_tags_featured_and_places(
    media: RunningService,
) -> None:
    csrf = log_in(media)
    agency = await outlet(media, "ANP-site", "online")
    regional = await outlet(media, "BN De Stem", "print", "regional", province="Noord-Brabant")
    original = await mention(media, agency, "Koffie bij de buurtsuper in Breda", "2026-10-01T09:00:00",
                             url="https://anp.test/breda", summary=LEAD)
    copy = await mention(media, regional, "Koffie bij de buurtsuper in Breda", "2026-10-01T15:00:00",
                         url="https://bndestem.test/breda", summary=LEAD)

    doc = await page(media, f"/media/vermeldingen/{original}")
    assert doc.one("h1").text == "Koffie bij de buurtsuper in Breda"
    copies = doc.one("ul", cls="komerbij-copies")
    assert "BN De Stem" in copies.text and copies.one("a", href=f"/media/vermeldingen/{copy}")
    places = doc.by_id("veld-municipalities")
    assert [(c.get("value"), "checked" in c.attrs) for c in places.all("input", type="checkbox")] == [
        ("GM0758", True)]  # Breda, found in the title
    assert "Breda" in places.text
    copy_page = await page(media, f"/media/vermeldingen/{copy}")
    assert copy_page.one("a", href=f"/media/vermeldingen/{original}")  # the way back to the original

    answer = await media.client.post(f"/media/vermeldingen/{original}", data={
        "csrf_token": csrf, "featured": "ja", "sentiment": "positive", "tags": "Interview, ouderen , interview",
        "municipality_add": "GM0363"})  # Breda unchecked, Amsterdam added
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/media/vermeldingen/{original}?opgeslagen=1"
    stored = (await media.client.get(f"/v1/mentions/{original}", headers=COMMS)).json()
    assert (stored["featured"], stored["sentiment"], stored["tags"], stored["municipalities"]) == (
        True, "positive", ["interview", "ouderen"], ["GM0363"])
    doc = await page(media, answer.headers["location"])
    assert "De wijzigingen zijn opgeslagen." in doc.one("div", role="status").text
    assert "Uitgelicht in de nieuwsbrief" in doc.one("main").text
    assert doc.by_id("veld-tags").get("value") == "interview, ouderen"
    assert "checked" in doc.by_id("veld-featured-1").attrs
    assert [c.get("value") for c in doc.by_id("veld-municipalities").all("input", type="checkbox")] == ["GM0363"]


async def test_an_edit_the_rules_refuse_is_named_at_its_field_and_what_was_typed_stays(
    media: RunningService,
) -> None:
    csrf = log_in(media)
    mention_id = await mention(media, await outlet(media, "Radio 1", "radio"), "Gesprek over eenzaamheid",
                               "2026-10-02")
    too_long = "een label dat veel langer is dan veertig tekens mag zijn"
    answer = await media.client.post(f"/media/vermeldingen/{mention_id}", data={
        "csrf_token": csrf, "sentiment": "negative", "tags": f"radio, {too_long}", "featured": "ja"})
    assert answer.status_code == 422
    doc = parse(answer.text)
    assert field_error(doc, "tags") == "Gebruik hoogstens 40 tekens."
    assert doc.by_id("veld-tags").get("value") == f"radio, {too_long}"
    assert "checked" in doc.by_id("veld-featured-1").attrs
    assert doc.one("a", href="#veld-tags")  # the summary at the top leads to it
    stored = (await media.client.get(f"/v1/mentions/{mention_id}", headers=COMMS)).json()
    assert (stored["featured"], stored["sentiment"], stored["tags"]) == (False, None, [])


async def test_an_unknown_mention_is_a_dutch_not_found_page(media: RunningService) -> None:
    log_in(media)
    doc = await page(media, "/media/vermeldingen/6b0f8a8e-64c4-4a5b-9f0e-9d1c1c2b3a4d", status=404)
    assert doc.one("h1").text == "Vermelding niet gevonden"


# --- manual entry ----------------------------------------------------------------------------------------------

async def test_manual_entry_names_each_mistake_at_its_field_keeps_what_was_typed_and_then_records(
    media: RunningService,
) -> None:
    csrf = log_in(media)
    tv = await outlet(media, "EenVandaag", "tv", reach=900000)
    form = await page(media, "/media/vermeldingen/nieuw")
    options = [o.get("value") for o in form.by_id("veld-outlet-id").all("option")]
    assert options == ["", tv]
    typed = {"csrf_token": csrf, "outlet_id": "", "title": "", "published_at": "31-02-2026", "published_time": "25u",
             "reach": "veel", "url": "", "note": "", "programme": "Avondeditie <live>"}
    answer = await media.client.post("/media/vermeldingen/nieuw", data=typed)
    assert answer.status_code == 422
    doc = parse(answer.text)
    assert {name: field_error(doc, name) for name in ("outlet_id", "title", "published_at", "published_time",
                                                      "reach", "url")} == {
        "outlet_id": "Kies het medium waarin het verscheen.",
        "title": "Vul de titel of kop in.",
        "published_at": "Vul een geldige datum in, bijvoorbeeld 30-9-2026.",
        "published_time": "Vul een tijd in zoals 20:30, of laat het leeg.",
        "reach": "Vul het bereik in als heel getal, bijvoorbeeld 250000.",
        "url": "Geef een link, of beschrijf in de notitie waar het te zien of te horen was.",
    }
    assert doc.by_id("veld-programme").get("value") == "Avondeditie <live>"  # kept (and escaped in the HTML)
    assert "Avondeditie &lt;live&gt;" in answer.text
    assert doc.by_id("veld-published-at").get("value") == "31-02-2026"

    answer = await media.client.post("/media/vermeldingen/nieuw", data={
        **typed, "outlet_id": tv, "title": "Ouderen over de Week tegen Eenzaamheid", "published_at": "2026-10-01",
        "published_time": "18:15", "reach": "1.200.000", "url": "https://eenvandaag.test/ouderen",
        "sentiment": "positive", "tags": "tv, interview"})
    assert answer.status_code == 303, answer.text[:3000]
    recorded = parse((await media.client.get(answer.headers["location"])).text)
    assert "De vermelding is vastgelegd." in recorded.one("div", role="status").text
    facts = recorded.one("dl", cls="komerbij-facts").text
    assert "1 oktober 2026, 18:15" in facts and "1.200.000" in facts and "Avondeditie <live>" in facts

    again = await media.client.post("/media/vermeldingen/nieuw", data={
        **typed, "outlet_id": tv, "title": "Nog eens", "published_at": "2026-10-01", "published_time": "",
        "reach": "", "url": "https://www.eenvandaag.test/ouderen/?utm_source=x"})  # the same article
    assert again.status_code == 409
    doc = parse(again.text)
    assert field_error(doc, "url") == "Deze link is al vastgelegd."
    assert doc.one("a", href=answer.headers["location"].split("?")[0])


# --- the vendor's CSV ------------------------------------------------------------------------------------------

VENDOR_CSV = (
    "Bron;Kop;Datum;Link;Bereik;Mediatype;Niveau\r\n"
    "Dagblad van het Noorden;Soep en gezelschap in Groningen;30-09-2026 08:00;https://dvhn.test/soep;120.000;"
    "krant;regionaal\r\n"
    "Dagblad van het Noorden;Zonder datum;;https://dvhn.test/leeg;;krant;regionaal\r\n"
    "Onbekende Site;Wandeling in Assen;01-10-2026;https://onbekend.test/assen;;;\r\n"
    "RTV Drenthe;Koor zingt in Emmen;02-10-2026 19:00;;80000;tv;regionaal\r\n"
)


async def test_the_vendor_import_lists_bad_rows_by_line_and_column_and_shows_what_was_kept(
    media: RunningService,
) -> None:
    csrf = log_in(media)
    answer = await media.client.post("/media/import", data={"csrf_token": csrf},
                                     files={"file": ("export.csv", VENDOR_CSV.encode("cp1252"), "text/csv")})
    assert answer.status_code == 200, answer.text[:3000]
    doc = parse(answer.text)
    assert doc.by_id("import-uitkomst").text == (
        "2 vermeldingen bewaard, 2 nieuwe mediatitels aangemaakt. 2 regels zijn niet bewaard omdat er iets mis "
        "mee is; zie hieronder.")
    errors = [[td.text for td in tr.all("td")] for tr in doc.by_id("regelfouten").one("tbody").all("tr")]
    assert errors == [
        ["3", "Datum", "Verplicht veld is leeg"],
        ["4", "Medium (mediatitel)", "Onbekend medium 'Onbekende Site'; voeg het eerst toe of vul de kolommen "
                                     "medium en bereikgebied"],
    ]
    assert set(titles(doc)) == {"Soep en gezelschap in Groningen", "Koor zingt in Emmen"}
    listed = await page(media, "/media")
    assert set(titles(listed)) == {"Soep en gezelschap in Groningen", "Koor zingt in Emmen"}

    again = parse((await media.client.post("/media/import", data={"csrf_token": csrf}, files={
        "file": ("export.csv", VENDOR_CSV.encode("cp1252"), "text/csv")})).text)
    assert "1 stonden er al" in again.by_id("import-uitkomst").text  # the row with a link is known by it


async def test_the_import_says_which_column_it_cannot_find_and_takes_the_name_people_give(
    media: RunningService,
) -> None:
    csrf = log_in(media)
    export = "Titel van het stuk;Bron;Datum\r\nMaaltijd in Zwolle;De Stentor;01-10-2026\r\n"
    await outlet(media, "De Stentor", "print", "regional")
    answer = await media.client.post("/media/import", data={"csrf_token": csrf},
                                     files={"file": ("x.csv", export.encode(), "text/csv")})
    assert answer.status_code == 422
    doc = parse(answer.text)
    assert field_error(doc, "mapping.title") == ("Geen kolom gevonden voor titel of kop: vul in hoe die kolom in uw "
                                                 "bestand heet.")
    assert "open" in doc.one("details").attrs  # the column names are in view
    answer = await media.client.post("/media/import", data={"csrf_token": csrf, "mapping.title": "Titel van het stuk"},
                                     files={"file": ("x.csv", export.encode(), "text/csv")})
    assert answer.status_code == 200
    assert titles(parse(answer.text)) == ["Maaltijd in Zwolle"]
    nothing = await media.client.post("/media/import", data={"csrf_token": csrf})
    assert field_error(parse(nothing.text), "file") == "Kies het CSV-bestand van het monitoringbureau."


async def test_the_import_page_takes_files_beyond_the_default_body_limit_up_to_ten_megabytes(
    media: RunningService,
) -> None:
    csrf = log_in(media)
    await outlet(media, "Groot Dagblad", "print")
    rows = "".join(f"Groot Dagblad;Bericht {i} over de Week tegen Eenzaamheid;01-10-2026;"
                   f"https://groot.test/{i}\r\n" for i in range(3))
    big = ("Bron;Kop;Datum;Link\r\n" + rows + ";;;\r\n" * 40_000).encode()  # empty rows: ~240 KB in all
    assert len(big) > 3 * 64 * 1024  # well over the default body limit
    answer = await media.client.post("/media/import", data={"csrf_token": csrf},
                                     files={"file": ("groot.csv", big, "text/csv")})
    assert answer.status_code == 200, answer.text[:500]
    assert parse(answer.text).by_id("import-uitkomst").text == "3 vermeldingen bewaard."
    too_big = b"x" * (10 * 1024 * 1024 + 100 * 1024)
    refused = await media.client.post("/media/import", data={"csrf_token": csrf}, headers={"accept": "text/html"},
                                      files={"file": ("te-groot.csv", too_big, "text/csv")})
    assert refused.status_code == 413
    assert parse(refused.text).one("h1").text == "Te groot om te versturen"  # a page in Dutch, for a browser


# --- feeds -----------------------------------------------------------------------------------------------------

class _Redirect(BaseHTTPRequestHandler):
    """Sends every request on to an address inside a private network, as a hijacked feed might."""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", "http://10.20.30.40/feed.xml")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def redirecting_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    finally:
        server.shutdown()
        server.server_close()


def _feed_card(doc: Element, outlet_name: str) -> Element:
    return doc.one("li", cls="komerbij-feed", where=lambda li: li.one("h2").text == outlet_name)


async def test_poll_now_shows_what_it_found_and_a_refused_address_as_a_clear_error(
    media: RunningService, redirecting_server: str,
) -> None:
    csrf = log_in(media)
    good = await outlet(media, "Tubantia", "online", "regional")
    hijacked = await outlet(media, "Gekaapte Site", "online", "local")
    with FeedServer() as server:
        server.routes["/rss.xml"] = Route(body=rss(
            ("Week tegen Eenzaamheid: koffie in Enschede", "https://tubantia.test/koffie", "Samen koffie drinken.",
             "Thu, 01 Oct 2026 09:00:00 +0200"),
            ("Verkeer op de A1", "https://tubantia.test/a1", "File.", "Thu, 01 Oct 2026 09:30:00 +0200"),
        ))
        for outlet_id, url in ((good, server.url("/rss.xml")), (hijacked, redirecting_server)):
            added = await media.client.post("/media/feeds", data={
                "csrf_token": csrf, "outlet_id": outlet_id, "url": url, "interval_minutes": "30"})
            assert added.status_code == 303, added.text[:2000]
        doc = await page(media, "/media/feeds", toegevoegd="1")
        card = _feed_card(doc, "Tubantia")
        assert "Nog niet opgehaald" in card.text and "nog nooit" in card.text
        form = card.one("form")
        polled = await media.client.post(form.get("action") or "", data={"csrf_token": csrf})
        assert polled.status_code == 303
        doc = await page(media, polled.headers["location"].split("#")[0])
        card = _feed_card(doc, "Tubantia")
        assert card.by_id("ophaal-uitkomst").text == (
            "Opgehaald. 1 nieuwe vermelding, 0 al bekend, 1 niet over de week.")
        assert "Werkt" in card.text and "elke 30 minuten" in card.text

        other = _feed_card(doc, "Gekaapte Site").one("form").get("action") or ""
        polled = await media.client.post(other, data={"csrf_token": csrf})
        doc = await page(media, polled.headers["location"].split("#")[0])
        card = _feed_card(doc, "Gekaapte Site")
        outcome = card.by_id("ophaal-uitkomst")
        assert outcome.get("role") == "alert"
        assert outcome.text == ("Ophalen is mislukt. Geweigerd: 10.20.30.40 is geen openbaar internetadres. Een "
                                "feed mag alleen van een openbare website komen.")
        assert "Mislukt" in card.text and "(technisch: refused: 10.20.30.40 is not a public address)" in card.text
        assert not server.hits("/feed.xml")
    feeds = (await media.client.get("/v1/feeds", headers=COMMS)).json()["items"]
    assert {f["outlet_name"]: f["status"] for f in feeds} == {"Tubantia": "ok", "Gekaapte Site": "failing"}


async def test_a_feed_at_an_address_inside_a_network_is_refused_when_added(media: RunningService) -> None:
    csrf = log_in(media)
    site = await outlet(media, "Intranet", "online")
    answer = await media.client.post("/media/feeds", data={
        "csrf_token": csrf, "outlet_id": site, "url": "http://10.0.0.7/rss", "interval_minutes": "0"})
    assert answer.status_code == 422
    doc = parse(answer.text)
    assert field_error(doc, "url") == "Dit adres is niet openbaar bereikbaar (intern, lokaal of gereserveerd)."
    assert field_error(doc, "interval_minutes") == "Vul een heel aantal minuten in, van 1 tot 10080 (een week)."
    assert doc.by_id("veld-url").get("value") == "http://10.0.0.7/rss"


# --- outlets ---------------------------------------------------------------------------------------------------

async def test_outlets_show_their_reach_and_its_source_and_new_ones_are_checked(media: RunningService) -> None:
    csrf = log_in(media)
    await outlet(media, "Trouw", "print", reach=250000, reach_source="NOM 2026", reach_date="2026-01-15")
    await outlet(media, "Buurtblog", "online", "local", municipality="GM0363")
    doc = await page(media, "/media/titels")
    rows = {tr.one("th").text: [td.text for td in tr.all("td")] for tr in doc.by_id("mediatitels").one(
        "tbody").all("tr")}
    assert rows == {"Buurtblog": ["Online", "Lokaal, Amsterdam", "onbekend", "–"],
                    "Trouw": ["Krant of tijdschrift", "Landelijk", "250.000", "NOM 2026 (15 januari 2026)"]}
    refused = await media.client.post("/media/titels", data={
        "csrf_token": csrf, "name": "trouw", "medium": "print", "scope": "national", "reach": "veel"})
    assert refused.status_code == 422
    doc = parse(refused.text)
    assert field_error(doc, "reach") == "Vul het bereik in als heel getal, bijvoorbeeld 250000."
    duplicate = await media.client.post("/media/titels", data={
        "csrf_token": csrf, "name": "trouw", "medium": "print", "scope": "national"})
    assert duplicate.status_code == 409
    assert field_error(parse(duplicate.text), "name") == "Er is al een mediatitel met deze naam."
    added = await media.client.post("/media/titels", data={
        "csrf_token": csrf, "name": "Omroep Gelderland", "medium": "radio", "scope": "regional",
        "province": "Gelderland", "reach": "310.000", "reach_source": "opgave omroep"})
    assert added.status_code == 303
    stored = {o["name"]: o for o in (await media.client.get("/v1/outlets", headers=COMMS)).json()["items"]}
    assert (stored["Omroep Gelderland"]["reach"], stored["Omroep Gelderland"]["reach_source"]) == (
        310000, "opgave omroep")


# --- the coverage dashboard ------------------------------------------------------------------------------------

def _number(text: str) -> int:
    return int(text.replace(".", ""))


def _table(doc: Element, key: str) -> dict[str, dict[str, int]]:
    table = doc.one("table", data_indeling=key)
    return {tr.get("data-key") or "": {td.get("data-veld") or "": _number(td.text) for td in tr.all("td")}
            for tr in table.one("tbody").all("tr")}


async def test_the_dashboard_shows_the_coverage_apis_numbers_in_charts_and_tables_and_its_csv(
    media: RunningService,
) -> None:
    log_in(media)
    national = await outlet(media, "Landelijke Site", "online", reach=1_000_000)
    regional = await outlet(media, "Brabants Dagblad", "print", "regional", province="Noord-Brabant", reach=90_000)
    radio = await outlet(media, "Radio Zwolle", "radio", "local", municipality="GM0193")  # reach unknown
    await mention(media, national, "Koffie bij de buurtsuper in Breda", "2026-10-01T09:00:00",
                  url="https://landelijk.test/breda", summary=LEAD)
    await mention(media, regional, "Koffie bij de buurtsuper in Breda", "2026-10-01T16:00:00",
                  url="https://bd.test/breda", summary=LEAD)  # a syndicated copy
    await mention(media, radio, "Zingen tegen eenzaamheid", "2026-10-03", reach=5000)
    await mention(media, radio, "Luisteren naar ouderen", "2026-10-04")
    await mention(media, radio, "Buiten de periode", "2026-11-30")
    period = {"from": "2026-09-17", "to": "2026-10-22"}
    doc = await page(media, "/media/dekking", **period)
    api = (await media.client.get("/v1/coverage", params=period, headers=COMMS)).json()

    totals = {key: _number(doc.by_id(f"totaal-{name}").text) for key, name in (
        ("articles", "artikelen"), ("copies", "kopieen"), ("mentions", "vermeldingen"),
        ("reach_estimate", "geschat-bereik"))}
    assert totals == {k: api["totals"][k] for k in totals} == {
        "articles": 3, "copies": 1, "mentions": 4, "reach_estimate": 1_095_000}
    fields = ("mentions", "articles", "copies", "reach_estimate")
    for key, api_key in (("medium", "by_medium"), ("bereikgebied", "by_scope"), ("provincie", "by_province"),
                         ("mediatitel", "by_outlet"), ("gemeente", "by_municipality"), ("dag", "by_day")):
        assert _table(doc, key) == {r["key"]: {f: r[f] for f in fields} for r in api[api_key]}, key
    main = doc.one("main")
    assert "Geschat bereik" in main.text and "geen advertentiewaarde" in main.text.lower()
    assert "Van 1 vermelding is het bereik onbekend" in main.text
    assert "€" not in main.text and "euro" not in main.text.lower()
    charts = main.all("svg", role="img")
    assert len(charts) == 6
    for chart in charts:
        labelled = (chart.get("aria-labelledby") or "").split()
        assert [chart.one(id=i).tag for i in labelled] == ["title", "desc"]
    medium_chart = doc.one("section", aria_labelledby="indeling-medium").one("svg")
    assert [t.text for t in medium_chart.all("text") if t.get("font-weight") == "700"] == ["2", "1", "1"]
    assert medium_chart.one("desc").text == "Radio: 2; Krant of tijdschrift: 1; Online: 1"

    link = main.one("a", where=lambda a: (a.get("href") or "").startswith("/media/dekking.csv"))
    exported = await media.client.get(link.get("href") or "")
    assert exported.status_code == 200 and "dekking-2026-09-17-2026-10-22.csv" in exported.headers[
        "content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows[0] == {"indeling": "totaal", "sleutel": "", "naam": "2026-09-17 t/m 2026-10-22", "vermeldingen": "4",
                       "artikelen": "3", "kopieen": "1", "geschat_bereik": "1095000",
                       "vermeldingen_zonder_bereik": "1"}
    by_medium = {r["sleutel"]: (r["naam"], int(r["vermeldingen"])) for r in rows if r["indeling"] == "medium"}
    assert by_medium == {"online": ("Online", 1), "print": ("Krant of tijdschrift", 1), "radio": ("Radio", 2)}


async def test_the_dashboard_opens_on_the_campaign_and_names_a_wrong_period_at_its_field(
    media: RunningService,
) -> None:
    log_in(media)
    doc = await page(media, "/media/dekking")
    start, end = doc.by_id("veld-from").get("value"), doc.by_id("veld-to").get("value")
    assert start and end and start < end
    assert re.fullmatch(r"Van \d+ \w+ \d{4} tot en met \d+ \w+ \d{4}", doc.one("p", cls="komerbij-period").text)
    wrong = await page(media, "/media/dekking", status=422, **{"from": "2026-10-10", "to": "2026-10-01"})
    assert field_error(wrong, "to") == "De einddatum ligt voor de begindatum."
    assert not wrong.all("svg")
    too_long = await page(media, "/media/dekking", status=422, **{"from": "2024-01-01", "to": "2026-01-01"})
    assert field_error(too_long, "to") == "Kies een periode van hoogstens een jaar; voor meer: de CSV per jaar."


async def test_the_media_stylesheet_is_served_by_media(media: RunningService) -> None:
    log_in(media)
    doc = await page(media, "/media/titels")
    href = doc.one("link", where=lambda link: "media.css" in (link.get("href") or "")).get("href") or ""
    answer = await media.client.get(href)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/css")
    assert "immutable" in answer.headers["cache-control"] and "@media print" in answer.text
    assert (await media.client.get("/media/static/../app.py")).status_code == 404


