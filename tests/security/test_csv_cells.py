"""Every CSV the services write keeps typed text from running as a spreadsheet formula (CSV injection)."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from materials.harness import ControlledClock, order_body
from registration.builders import ORGANISER_A, headers, published, sign_up
from support.infra import Infra
from support.services import auth, running, settings_env

from komerbij.materials.app import SPEC as MATERIALS
from komerbij.media.app import SPEC as MEDIA
from komerbij.registration.app import SPEC as REGISTRATION
from komerbij.runtime.csvcells import cell, csv_text

FORMULA = '=HYPERLINK("http://x")'


@pytest.mark.parametrize(("value", "written"), [
    ("=1+1", "'=1+1"), ("+31 6 12345678", "'+31 6 12345678"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=cmd", "'\t=cmd"), ("\r=cmd", "'\r=cmd"), ("  =1+1", "'  =1+1"), ("\uff1d1+1", "'\uff1d1+1"),
    ("Zoë", "Zoë"), ("a=b", "a=b"), ("", ""), (None, ""), (-5, "-5"), (2.5, "2.5"),
    (date(2027, 9, 30), "2027-09-30"),
])
def test_a_cell_that_a_spreadsheet_would_run_gets_a_leading_apostrophe(value: object, written: str) -> None:
    assert cell(value) == written


def test_a_whole_document_quotes_and_escapes_every_cell() -> None:
    text = csv_text(["naam", "aantal"], [[FORMULA, 3], ['Jan "de Vries", ouder', -1]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["naam", "aantal"], ["'" + FORMULA, "3"], ['Jan "de Vries", ouder', "-1"]]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


async def test_the_picklist_starts_a_formula_organisation_with_an_apostrophe(infra: Infra) -> None:
    env = settings_env(infra, infra.new_database("sec_csv_materials"))
    async with running(MATERIALS, env, clock=ControlledClock()) as svc:
        r = await svc.client.post("/v1/catalog/POSTER-A3/stock", json={"delta": 50, "reason": "levering"},
                                  headers=auth("admin"))
        assert r.status_code == 201, r.text
        body = order_body([("POSTER-A3", 10)])
        body["delivery_address"] |= {"organisation": FORMULA, "attention": "@Team", "city": "-Amsterdam"}
        r = await svc.client.post("/v1/orders", json=body, headers={
            **auth("organiser", municipality="GM0363", subject="organiser-GM0363"), "Idempotency-Key": "csv-1"})
        assert r.status_code == 201, r.text
        picklist = await svc.client.get("/v1/fulfilment/picklist.csv", headers=auth("fulfilment"))
    [row] = _rows(picklist.text)
    assert row["organisation"] == "'" + FORMULA
    assert (row["attention"], row["city"], row["quantity"]) == ("'@Team", "'-Amsterdam", "10")


async def test_the_participant_list_keeps_names_typed_by_the_public_as_text(infra: Infra) -> None:
    env = settings_env(infra, infra.new_database("sec_csv_registration"))
    async with running(REGISTRATION, env) as svc:
        activity_id = await published(svc)
        await sign_up(svc, activity_id, name=FORMULA.replace('"', ""))
        r = await svc.client.get(f"/v1/activities/{activity_id}/signups.csv", headers=headers(ORGANISER_A))
    [row] = _rows(r.text)
    assert row["naam"] == "'" + FORMULA.replace('"', "")


async def test_the_mention_export_keeps_a_feed_title_as_text(infra: Infra) -> None:
    env = settings_env(infra, infra.new_database("sec_csv_media"))
    async with running(MEDIA, env) as svc:
        comms = auth("comms")
        outlet = (await svc.client.post("/v1/outlets", headers=comms, json={
            "name": "+Omroep", "medium": "tv", "scope": "national"})).json()["id"]
        r = await svc.client.post("/v1/mentions", headers=comms, json={
            "outlet_id": outlet, "published_at": "2027-09-30", "title": FORMULA + " Kom erbij", "note": "uitzending"})
        assert r.status_code == 201, r.text
        export = await svc.client.get("/v1/mentions.csv", headers=comms)
    [row] = _rows(export.text)
    assert (row["title"], row["outlet"]) == ("'" + FORMULA + " Kom erbij", "'+Omroep")
