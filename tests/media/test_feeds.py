"""Feed collection end to end: a real HTTP server in the test, the real poller, real PostgreSQL and Kafka."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from support.services import RunningService, auth, eventually

from komerbij.media.app import SPEC
from komerbij.media.service.polling import poll_due_feeds

from .conftest import metric
from .feed_server import FeedServer, Route, atom, rss

COMMS = auth("comms")
LEAD = ("Tijdens de Week tegen Eenzaamheid koken vrijwilligers in het hele land voor ouderen die er even uit "
        "willen. Het ANP sprak met koks en gasten.")


async def _outlet(svc: RunningService, name: str, **extra: Any) -> str:
    body = {"name": name, "medium": "online", "scope": "regional", "reach": 1000, **extra}
    r = await svc.client.post("/v1/outlets", json=body, headers=COMMS)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _feed(svc: RunningService, outlet_id: str, url: str, interval: int = 900) -> str:
    r = await svc.client.post("/v1/feeds", json={"outlet_id": outlet_id, "url": url, "interval_seconds": interval},
                              headers=COMMS)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _poll(svc: RunningService, feed_id: str) -> dict[str, Any]:
    r = await svc.client.post(f"/v1/feeds/{feed_id}/poll", headers=COMMS)
    assert r.status_code == 200, r.text
    return r.json()


async def _mentions(svc: RunningService, **params: Any) -> dict[str, Any]:
    r = await svc.client.get("/v1/mentions", params=params, headers=COMMS)
    assert r.status_code == 200, r.text
    return r.json()


async def test_feed_records_relevant_articles_once_groups_copies_and_links_places(media: RunningService) -> None:
    with FeedServer() as server:
        server.routes["/a.xml"] = Route(etag='"v1"', body=rss(
            ("Eettafel in Best tijdens de Week tegen Eenzaamheid", "https://www.oost.test/best-eettafel?utm_source=rss",
             "Aanschuiven in Best.", "Thu, 30 Sep 2027 09:00:00 +0200"),
            ("Wegwerkzaamheden op de A28", "https://oost.test/a28", "Verkeer.", "Thu, 30 Sep 2027 09:30:00 +0200"),
            ("Eettafel in Best tijdens de Week tegen Eenzaamheid",
             "https://oost.test/best-eettafel/?fbclid=IwAR0#reacties", "Aanschuiven in Best.",
             "Thu, 30 Sep 2027 09:00:00 +0200"),
            ("Vrijwilligers koken tegen eenzaamheid", "https://oost.test/koken", LEAD,
             "Thu, 30 Sep 2027 10:00:00 +0200"),
            ("Kom erbij: dit wordt de beste week", "https://oost.test/beste-week", "Doe mee met <b>Kom erbij</b>.",
             "Thu, 30 Sep 2027 11:00:00 +0200"),
        ))
        server.routes["/b.atom"] = Route(content_type="application/atom+xml", body=atom(
            ("Vrijwilligers koken tegen eenzaamheid!", "https://west.test/nieuws/koken",
             LEAD.replace("het hele land", "heel het land"), "2027-09-30T12:00:00+02:00"),
            ("Koffie bij de buurtsuper in Goes", "https://amp.west.test/nieuws/goes/amp",
             "De Week tegen Eenzaamheid in Goes begint met koffie.", "2027-09-30T13:00:00+02:00"),
        ))
        server.routes["/c.xml"] = Route(body=rss(
            ("Vrijwilligers koken tegen eenzaamheid", "https://anp.test/koken", LEAD,
             "Thu, 30 Sep 2027 07:00:00 +0200"),
        ))
        oost = await _outlet(media, "Omroep Oost Test", province="Overijssel")
        west = await _outlet(media, "West Nieuws Test", medium="print")
        agency = await _outlet(media, "Persbureau Test", scope="national")
        feed_a = await _feed(media, oost, server.url("/a.xml"))
        feed_b = await _feed(media, west, server.url("/b.atom"))
        feed_c = await _feed(media, agency, server.url("/c.xml"))

        first = await _poll(media, feed_a)
        assert (first["outcome"], first["recorded"], first["already_known"], first["irrelevant"]) == ("ok", 3, 1, 1)
        by_url = {m["canonical_url"]: m for m in (await _mentions(media))["items"]}
        assert set(by_url) == {"https://oost.test/best-eettafel", "https://oost.test/koken",
                               "https://oost.test/beste-week"}
        assert by_url["https://oost.test/best-eettafel"]["municipalities"] == ["GM0753"]
        assert by_url["https://oost.test/beste-week"]["municipalities"] == []
        assert by_url["https://oost.test/beste-week"]["summary"] == "Doe mee met Kom erbij ."
        assert by_url["https://oost.test/best-eettafel"]["provinces"] == ["Noord-Brabant", "Overijssel"]

        second = await _poll(media, feed_b)
        assert (second["recorded"], second["already_known"]) == (2, 0)
        listed = await _mentions(media)
        assert listed["total"] == 4  # the copy is listed under its original, not as an article of its own
        koken = next(m for m in listed["items"] if m["canonical_url"] == "https://oost.test/koken")
        assert [(c["outlet"]["name"], c["url"]) for c in koken["copies"]] == [
            ("West Nieuws Test", "https://west.test/nieuws/koken")]
        assert koken["copies_count"] == 1
        goes = next(m for m in listed["items"] if m["canonical_url"] == "https://west.test/nieuws/goes")
        assert goes["municipalities"] == ["GM0664"]

        # The agency's own, earlier publication turns up last: it becomes the original of the whole group.
        await _poll(media, feed_c)
        listed = await _mentions(media)
        assert listed["total"] == 4
        original = next(m for m in listed["items"] if m["canonical_url"] == "https://anp.test/koken")
        assert original["original_id"] is None
        assert sorted(c["url"] for c in original["copies"]) == [
            "https://oost.test/koken", "https://west.test/nieuws/koken"]
        everything = await _mentions(media, copies="true")
        assert everything["total"] == 6
        assert {m["original_id"] for m in everything["items"] if m["outlet"]["id"] != agency} - {None} == {
            original["id"]}

        # Nothing changed on the server: the poller sends the ETag back, gets 304 and records nothing.
        again = await _poll(media, feed_a)
        assert again["outcome"] == "not_modified"
        assert server.hits("/a.xml")[-1].get("If-None-Match") == '"v1"'
        assert (await _mentions(media, copies="true"))["total"] == 6
        assert again["feed"]["status"] == "ok" and again["feed"]["last_outcome"] == "not_modified"

        assert await metric(media, "komerbij_feed_items_irrelevant_total") == 1
        assert await metric(media, 'komerbij_feed_polls_total{outcome="not_modified"}') == 1
        assert await metric(media, 'komerbij_feed_polls_total{outcome="ok"}') == 3
        await eventually(lambda: _gauge_is(media, 'komerbij_mentions{medium="online",scope="regional"}', 3))


async def _gauge_is(svc: RunningService, prefix: str, value: float) -> bool:
    return await metric(svc, prefix) == value


async def test_failing_feeds_are_marked_and_backed_off_while_a_good_feed_goes_on(media: RunningService) -> None:
    assert [job.name for job in SPEC.jobs] == ["feed-poll"] and SPEC.jobs[0].run is poll_due_feeds
    with FeedServer() as server:
        server.routes["/error.xml"] = Route(status=500, body=b"kapot")
        server.routes["/slow.xml"] = Route(delay=15, body=rss())
        server.routes["/broken.xml"] = Route(body=b'<?xml version="1.0"?><rss version="2.0"><channel><title>X</chan')
        server.routes["/good.xml"] = Route(body=rss(
            ("Week tegen Eenzaamheid in Zwolle", "https://good.test/zwolle", "Zwolle doet mee.",
             "Thu, 30 Sep 2027 09:00:00 +0200")))
        outlet = await _outlet(media, "Zwolle Nieuws Test")
        ids = {name: await _feed(media, outlet, server.url(f"/{name}.xml"), interval=600)
               for name in ("error", "slow", "broken", "good")}

        now = datetime.now(UTC) + timedelta(seconds=1)
        reports = {str(r.feed_id): r for r in await poll_due_feeds(media.runtime, now)}
        assert {name: reports[i].outcome for name, i in ids.items()} == {
            "error": "error", "slow": "error", "broken": "error", "good": "ok"}
        assert reports[ids["good"]].recorded == 1

        feeds = {f["id"]: f for f in (await media.client.get("/v1/feeds", headers=COMMS)).json()["items"]}
        assert feeds[ids["error"]]["last_error"] == "HTTP 500"
        assert feeds[ids["slow"]]["last_error"] == "timeout after 2 s"
        assert feeds[ids["broken"]]["last_error"].startswith("malformed feed")
        assert {feeds[i]["status"] for n, i in ids.items() if n != "good"} == {"failing"}
        assert feeds[ids["good"]]["status"] == "ok" and feeds[ids["good"]]["last_error"] is None
        assert datetime.fromisoformat(feeds[ids["error"]]["next_poll_at"]) == now + timedelta(seconds=600)

        # Not due yet: nothing is fetched. Due again: the failing ones fail again and wait twice as long.
        assert await poll_due_feeds(media.runtime, now + timedelta(seconds=599)) == []
        later = now + timedelta(seconds=601)
        server.routes["/good.xml"].etag = '"same"'
        second = {str(r.feed_id): r for r in await poll_due_feeds(media.runtime, later)}
        assert len(second) == 4
        feed = (await media.client.get(f"/v1/feeds/{ids['error']}", headers=COMMS)).json()
        assert feed["consecutive_failures"] == 2
        assert datetime.fromisoformat(feed["next_poll_at"]) == later + timedelta(seconds=1200)
        assert (await _mentions(media))["total"] == 1

        server.routes["/error.xml"] = Route(body=rss())
        recovered = await _poll(media, ids["error"])
        assert recovered["feed"]["status"] == "ok" and recovered["feed"]["consecutive_failures"] == 0

        await eventually(lambda: _gauge_is(media, "komerbij_feeds_failing", 2))
        assert await metric(media, 'komerbij_feed_polls_total{outcome="error"}') == 6
