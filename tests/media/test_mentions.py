"""Manual entry, vendor import, comms actions, coverage and events, through the API on real Kafka/PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema
from support.drain import drain
from support.infra import Infra
from support.kafka import data, header, read_topic
from support.services import RunningService, auth

from komerbij.contracts.topics import MEDIA_MENTIONS

COMMS = auth("comms")
SCHEMAS = Path(__file__).resolve().parents[2] / "contracts" / "schemas"
LEAD = "Tijdens de Week tegen Eenzaamheid koken vrijwilligers in Zwolle voor ouderen uit de buurt."


async def _outlet(svc: RunningService, name: str, medium: str, scope: str, **extra: Any) -> str:
    r = await svc.client.post("/v1/outlets", json={"name": name, "medium": medium, "scope": scope, **extra},
                              headers=COMMS)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _mention(svc: RunningService, **body: Any) -> dict[str, Any]:
    r = await svc.client.post("/v1/mentions", json=body, headers=COMMS)
    assert r.status_code == 201, r.text
    return r.json()


def _errors(r: Any) -> list[str]:
    assert r.status_code == 422, r.text
    assert r.json()["title"] == "Ongeldige invoer"
    return [e["field"] for e in r.json()["errors"]]


async def _events(infra: Infra, media: RunningService, ids: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every event about these mentions: read to the end once media's outbox is empty, so a duplicate would count."""
    await drain(infra.kafka_bootstrap, outboxes=[media.runtime.settings.database_url])
    records = await read_topic(infra.kafka_bootstrap, MEDIA_MENTIONS.name, until=lambda rs: True, to_end=True,
                               keep=lambda r: data(r).get("mention_id") in ids)
    return [(header(r, "ce_type") or "", data(r)) for r in records]


async def test_manual_entry_import_and_comms_actions_emit_valid_events(media: RunningService, infra: Infra) -> None:
    tv = await _outlet(media, "EenVandaag Test", "tv", "national", reach=900000)
    trouw = await _outlet(media, "Trouw Test", "print", "national")

    manual = await _mention(media, outlet_id=tv, published_at="2027-09-30", title="Eenzaamheid in Ede en Best",
                            programme="EenVandaag", note="Uitzending 18:15", url="https://eenvandaag.test/ede")
    assert manual["municipalities"] == ["GM0228", "GM0753"] and manual["reach_estimate"] == 900000
    assert manual["published_at"] == "2027-09-29T22:00:00+00:00"  # the day in Dutch time

    again = await media.client.post("/v1/mentions", headers=COMMS, json={
        "outlet_id": tv, "published_at": "2027-09-30", "title": "x", "url": "https://www.eenvandaag.test/ede/?utm_x=1"})
    assert again.status_code == 409 and again.json()["id"] == manual["id"]
    assert _errors(await media.client.post("/v1/mentions", headers=COMMS, json={
        "outlet_id": tv, "published_at": "2027-09-30", "title": "Zonder link of notitie"})) == ["url"]
    assert _errors(await media.client.post("/v1/mentions", headers=COMMS, json={
        "outlet_id": tv, "published_at": "gisteren", "title": "x", "note": "n", "sentiment": "blij"})) == [
        "published_at", "sentiment"]
    assert _errors(await media.client.post("/v1/mentions", headers=COMMS, json={
        "outlet_id": str(uuid.uuid4()), "published_at": "2027-09-30", "title": "x", "note": "n"})) == ["outlet_id"]

    export = (
        "Datum;Bron;Kop;Link;Bereik;Mediatype;Niveau\n"
        "30-09-2027 10:00;Trouw Test;Kom erbij in Goes;https://trouw.test/goes;250.000;;\n"
        "gisteren;Trouw Test;Kapotte datum;https://trouw.test/x;;;\n"
        "01-10-2027;Omroep Nieuw Test;Week tegen Eenzaamheid in Assen;https://omroep.test/assen;;radio;regionaal\n"
        "01-10-2027;Onbekend Blad;Zonder medium;https://blad.test/y;;;\n"
        "02-10-2027;Trouw Test;Al bekend;https://eenvandaag.test/ede?utm_source=vendor;;;\n"
    )
    r = await media.client.post("/v1/mentions/import", headers=COMMS,
                                files={"file": ("export.csv", export.encode("cp1252"), "text/csv")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["already_known"], report["outlets_created"]) == (2, 1, 1)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(3, "published_at"), (5, "outlet")]
    outlets = {o["name"]: o for o in (await media.client.get("/v1/outlets", headers=COMMS)).json()["items"]}
    assert (outlets["Omroep Nieuw Test"]["medium"], outlets["Omroep Nieuw Test"]["scope"]) == ("radio", "regional")
    bad_mapping = await media.client.post("/v1/mentions/import", headers=COMMS, data={"mapping": '{"title": "Kop2"}'},
                                          files={"file": ("e.csv", export.encode(), "text/csv")})
    assert _errors(bad_mapping) == ["mapping.title"]
    unknown_field = await media.client.post("/v1/mentions/import", headers=COMMS, data={"mapping": '{"kop": "Kop"}'},
                                            files={"file": ("e.csv", export.encode(), "text/csv")})
    assert _errors(unknown_field) == ["mapping.kop"]
    imported = (await media.client.get("/v1/mentions", params={"q": "goes"}, headers=COMMS)).json()["items"]
    assert [(m["title"], m["outlet"]["id"], m["reach_estimate"]) for m in imported] == [
        ("Kom erbij in Goes", trouw, 250000)]

    patched = await media.client.patch(f"/v1/mentions/{manual['id']}", headers=COMMS, json={
        "sentiment": "positive", "tags": ["Nieuwsbrief", "tv"], "featured": True, "municipalities": ["GM0228"]})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["sentiment"], body["tags"], body["featured"], body["municipalities"]) == (
        "positive", ["nieuwsbrief", "tv"], True, ["GM0228"])
    assert _errors(await media.client.patch(f"/v1/mentions/{manual['id']}", headers=COMMS,
                                            json={"municipalities": ["GM0228", "GM9999"]})) == ["municipalities.1"]
    featured = (await media.client.get("/v1/mentions", params={"featured": "true"}, headers=COMMS)).json()
    assert [m["id"] for m in featured["items"]] == [manual["id"]]

    assert (await media.client.delete(f"/v1/mentions/{manual['id']}", headers=COMMS)).status_code == 204
    assert (await media.client.get(f"/v1/mentions/{manual['id']}", headers=COMMS)).status_code == 404

    ids = {manual["id"], *report["ids"]}
    events = await _events(infra, media, ids)
    for type_, value in events:
        jsonschema.validate(value, json.loads((SCHEMAS / f"{type_}.json").read_text()))
    kinds = sorted((t.split(".")[-2], v["mention_id"] == manual["id"], v.get("featured")) for t, v in events)
    assert kinds == [("featured", True, False), ("featured", True, True), ("recorded", False, None),
                     ("recorded", False, None), ("recorded", True, None), ("updated", True, True)]
    updated = next(v for t, v in events if t.endswith("updated.v1"))
    assert (updated["sentiment"], updated["municipalities"], updated["provinces"]) == (
        "positive", ["GM0228"], ["Gelderland"])


async def test_coverage_for_a_fixed_data_set(media: RunningService) -> None:
    trouw = await _outlet(media, "Trouw Cov", "print", "national", reach=250000)
    oost = await _outlet(media, "RTV Oost Cov", "tv", "regional", province="Overijssel", reach=100000)
    stem = await _outlet(media, "De Stem Cov", "print", "regional", province="Noord-Brabant", reach=50000)
    best = await _outlet(media, "Best Lokaal Cov", "online", "local", municipality="GM0753")
    m1 = await _mention(media, outlet_id=trouw, published_at="2027-09-30T10:00:00+02:00", url="https://t.test/1",
                        title="Week tegen Eenzaamheid: koken in Zwolle", summary=LEAD)
    m2 = await _mention(media, outlet_id=stem, published_at="2027-09-30T14:00:00+02:00", url="https://s.test/1",
                        title="Week tegen Eenzaamheid: koken in Zwolle", summary=LEAD)
    assert m2["original_id"] == m1["id"]
    await _mention(media, outlet_id=oost, published_at="2027-10-01", url="https://o.test/1", reach=120000,
                   title="Rollatorwandeling in Enschede")
    await _mention(media, outlet_id=best, published_at="2027-10-02T12:00:00", note="Lokale site",
                   title="Eettafel in Best")
    await _mention(media, outlet_id=oost, published_at="2027-10-07T23:30:00+02:00", url="https://o.test/2",
                   title="Terugblik op de week")
    await _mention(media, outlet_id=stem, published_at="2027-09-29T23:59:00+02:00", url="https://s.test/0",
                   title="Vooraankondiging")
    await _mention(media, outlet_id=trouw, published_at="2027-10-20", url="https://t.test/2", title="Nabeschouwing")

    r = await media.client.get("/v1/coverage", params={"from": "2027-09-30", "to": "2027-10-07"}, headers=COMMS)
    assert r.status_code == 200, r.text
    cov = r.json()
    assert cov["totals"] == {"articles": 4, "copies": 1, "mentions": 5, "reach_estimate": 520000, "reach_unknown": 1}
    assert cov["reach_is_estimate"] is True and "Schatting" in cov["reach_note"]

    def table(name: str) -> list[tuple[Any, ...]]:
        return [(row["key"], row["articles"], row["copies"], row["reach_estimate"], row["reach_unknown"])
                for row in cov[name]]

    assert table("by_day") == [("2027-09-30", 1, 1, 300000, 0), ("2027-10-01", 1, 0, 120000, 0),
                               ("2027-10-02", 1, 0, 0, 1), ("2027-10-07", 1, 0, 100000, 0)]
    assert table("by_medium") == [("online", 1, 0, 0, 1), ("print", 1, 1, 300000, 0), ("tv", 2, 0, 220000, 0)]
    assert table("by_scope") == [("local", 1, 0, 0, 1), ("national", 1, 0, 250000, 0), ("regional", 2, 1, 270000, 0)]
    assert table("by_province") == [("Noord-Brabant", 1, 1, 50000, 1), ("Overijssel", 3, 1, 520000, 0)]
    assert sorted((row["name"], row["articles"], row["copies"], row["reach_estimate"]) for row in cov["by_outlet"]) == [
        ("Best Lokaal Cov", 1, 0, 0), ("De Stem Cov", 0, 1, 50000), ("RTV Oost Cov", 2, 0, 220000),
        ("Trouw Cov", 1, 0, 250000)]
    assert table("by_municipality") == [("GM0153", 1, 0, 120000, 0), ("GM0193", 1, 1, 300000, 0),
                                        ("GM0753", 1, 0, 0, 1)]
    assert _errors(await media.client.get("/v1/coverage", params={"from": "2027-10-07", "to": "2027-09-30"},
                                          headers=COMMS)) == ["query.to"]

    listed = (await media.client.get("/v1/mentions", params={"from": "2027-09-30", "to": "2027-10-07",
                                                             "scope": "regional"}, headers=COMMS)).json()
    assert [m["title"] for m in listed["items"]] == ["Terugblik op de week", "Rollatorwandeling in Enschede"]
    zwolle = (await media.client.get("/v1/mentions", params={"municipality": "GM0193"}, headers=COMMS)).json()
    assert [(m["id"], m["copies_count"]) for m in zwolle["items"]] == [(m1["id"], 1)]
    found = (await media.client.get("/v1/mentions", params={"q": "ROLLATORWANDELING"}, headers=COMMS)).json()
    assert [m["title"] for m in found["items"]] == ["Rollatorwandeling in Enschede"]
    wrong_medium = await media.client.get("/v1/mentions", params={"medium": "krant"}, headers=COMMS)
    assert _errors(wrong_medium) == ["query.medium"]
    r = await media.client.get("/v1/mentions.csv", params={"from": "2027-09-30", "to": "2027-10-07"}, headers=COMMS)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0].startswith("id,published_at,outlet,medium,scope,title,url")
    assert len(lines) == 6
    copy_line = next(line for line in lines if line.startswith(m2["id"]))
    assert m1["id"] in copy_line and "GM0193" in copy_line
