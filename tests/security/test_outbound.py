"""Feeds and webhooks reach public addresses only: checked when a URL is registered (422) and at every connection,
every redirect hop included, against the address actually connected to. Nothing here leaves this machine: the
'internal' servers listen on other loopback addresses (127.0.0.2), and names resolve through resolvers the tests
inject, never through DNS.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpcore
import httpx
import pytest
from media.feed_server import rss
from support.infra import Infra
from support.services import RunningService, auth, running, settings_env

from komerbij.media.app import SPEC as MEDIA
from komerbij.media.service.polling import poll_due_feeds
from komerbij.notifications.adapters.webhooks import post
from komerbij.notifications.app import build_spec
from komerbij.runtime.outbound import GuardedTransport, OutboundPolicy, OutboundRefused, is_public

LOOPBACK = ipaddress.ip_network("127.0.0.1/32")  # 127.0.0.2 stays closed: it plays the internal network
FEED = rss(("Soep in de Week tegen Eenzaamheid", "https://omroep.example/soep", "Soep.",
            "Thu, 30 Sep 2027 09:00:00 +0200"))


@dataclasses.dataclass
class Site:
    """A small HTTP server on a loopback address: every path answers `answer` (or redirects), and is recorded."""

    host: str = "127.0.0.1"
    redirect_to: str | None = None
    answer: bytes = FEED
    hits: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (path, Host header)

    @contextmanager
    def running(self) -> Iterator[Site]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                site.hits.append((self.path, self.headers.get("Host", "")))
                if site.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", site.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(site.answer)))
                self.end_headers()
                self.wfile.write(site.answer)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/feed.xml") -> str:
        return f"http://{self.host}:{self.port}{path}"


def resolver(table: dict[str, list[str]]) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]
    return resolve


@pytest.mark.parametrize(("address", "public"), [
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("240.0.0.1", False), ("255.255.255.255", False), ("::1", False), ("fe80::1", False), ("fc00::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False), ("64:ff9b::a9fe:a9fe", False),
    ("2002:7f00:1::", False), ("2001:db8::1", False), ("ff02::1", False),
    ("8.8.8.8", True), ("145.97.39.155", True), ("2606:4700::1111", True), ("::ffff:8.8.8.8", True),
])
def test_only_globally_routable_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize("url", [
    "http://127.0.0.1@internal-host/hook",  # the text-prefix check let this through to `internal-host`
    "https://user:pass@example.org/hook",
    "http://169.254.169.254/latest/meta-data/",
    "https://10.0.0.5:6379/",
    "https://[::1]:8080/",
    "https://[::ffff:127.0.0.1]/",
    "https://localhost/hook",
    "https://intern/hook",
    "https://kafka.internal/hook",
    "https://printer.local/hook",
    "https://router.home.arpa/hook",
    "https://127.1/hook",
    "https://2130706433/hook",
    "ftp://example.org/feed",
    "https:///nohost",
])
def test_registration_refuses_urls_that_point_inside_or_hide_their_host(url: str) -> None:
    assert OutboundPolicy().registration_problem(url) is not None


def test_registration_accepts_public_names_and_what_the_allowed_networks_open_and_resolves_nothing() -> None:
    never = resolver({})
    policy = OutboundPolicy([LOOPBACK], resolver=never)
    assert policy.registration_problem("https://www.omroep.example/rss", https_only=True) is None
    assert policy.registration_problem("http://www.omroep.example/rss") is None
    assert policy.registration_problem("http://www.omroep.example/rss", https_only=True) == "gebruik een https://-adres"
    assert policy.registration_problem("http://127.0.0.1:8080/hook", https_only=True) is None  # opened explicitly
    assert policy.registration_problem("http://127.0.0.2:8080/hook", https_only=True) is not None


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Records where the guard asks to connect, and connects nowhere."""

    def __init__(self) -> None:
        self.connects: list[str] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        self.connects.append(host)
        raise httpcore.ConnectError("recorded, not connected")

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise AssertionError("no unix sockets")

    async def sleep(self, seconds: float) -> None:
        pass


async def test_the_connection_goes_to_the_address_that_was_checked_not_to_a_second_lookup() -> None:
    """DNS rebinding: the first answer is public, a later one internal. The name is resolved once; the connection
    is made to that checked address, so a second, different answer is never used."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    backend = RecordingBackend()
    transport = GuardedTransport(OutboundPolicy(resolver=rebinding), inner=backend)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://rebind.example/feed.xml")
    assert backend.connects == ["93.184.216.34"]


async def test_a_name_with_one_internal_answer_is_refused_before_any_connection() -> None:
    backend = RecordingBackend()
    policy = OutboundPolicy(resolver=resolver({"mixed.example": ["93.184.216.34", "10.0.0.7"]}))
    async with httpx.AsyncClient(transport=GuardedTransport(policy, inner=backend)) as client:
        with pytest.raises(OutboundRefused, match=r"mixed\.example is not a public address"):
            await client.get("https://mixed.example/")
    assert backend.connects == []


async def test_a_resolved_name_is_fetched_from_the_checked_address_with_its_own_host_header() -> None:
    with Site().running() as site:
        policy = OutboundPolicy([LOOPBACK], resolver=resolver({"feeds.omroep.example": ["127.0.0.1"]}))
        async with policy.client() as client:
            r = await client.get(f"http://feeds.omroep.example:{site.port}/feed.xml")
        assert r.status_code == 200 and r.content == FEED
        assert site.hits == [("/feed.xml", f"feeds.omroep.example:{site.port}")]


async def test_without_an_allowed_network_loopback_is_refused_and_never_contacted() -> None:
    with Site().running() as site:
        async with OutboundPolicy().client() as client:
            with pytest.raises(OutboundRefused):
                await client.get(site.url())
        assert site.hits == []


async def test_environment_proxies_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    with Site().running() as proxy:  # a "proxy" on loopback would fetch anything for us, unchecked
        monkeypatch.setenv("HTTP_PROXY", proxy.url("/"))
        monkeypatch.setenv("HTTPS_PROXY", proxy.url("/"))
        async with OutboundPolicy(resolver=resolver({"feeds.example": ["10.0.0.9"]})).client() as client:
            with pytest.raises(OutboundRefused):
                await client.get("http://feeds.example/feed.xml")
        assert proxy.hits == []


@pytest.fixture
async def media(infra: Infra) -> AsyncIterator[RunningService]:
    # Only 127.0.0.1 is opened here, so 127.0.0.2 plays an internal host
    env = settings_env(infra, infra.new_database("sec_outbound"), OUTBOUND_ALLOWED_NETWORKS="127.0.0.1/32",
                       MEDIA_FEED_TIMEOUT_SECONDS="5")
    async with running(dataclasses.replace(MEDIA, jobs=[]), env) as svc:
        yield svc


async def _outlet(svc: RunningService) -> str:
    r = await svc.client.post("/v1/outlets", headers=auth("comms"), json={
        "name": "Omroep Veilig", "medium": "online", "scope": "regional"})
    return r.json()["id"]


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1@internal-host/feed",
                                 "http://127.0.0.2:8080/feed.xml", "http://db.internal/feed"])
async def test_registering_a_feed_that_points_inside_is_422_naming_the_url(media: RunningService, url: str) -> None:
    r = await media.client.post("/v1/feeds", headers=auth("comms"), json={
        "outlet_id": await _outlet(media), "url": url, "interval_seconds": 900})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["url"]


async def test_a_redirect_to_an_internal_address_is_refused_and_the_other_feeds_go_on(media: RunningService) -> None:
    outlet = await _outlet(media)
    with Site(host="127.0.0.2", answer=b"internal secrets").running() as internal, \
            Site().running() as good, Site().running() as hop:
        hop.redirect_to = internal.url("/admin")
        feeds = {}
        for name, url in (("redirect", hop.url()), ("good", good.url())):
            r = await media.client.post("/v1/feeds", headers=auth("comms"), json={
                "outlet_id": outlet, "url": url, "interval_seconds": 900})
            assert r.status_code == 201, r.text
            feeds[r.json()["id"]] = name
        reports = {feeds[str(r.feed_id)]: r for r in await poll_due_feeds(media.runtime, datetime.now(UTC))}
        assert internal.hits == [], "the internal address was contacted"
    assert reports["redirect"].outcome == "error"
    assert reports["redirect"].error == "refused: 127.0.0.2 is not a public address"
    assert (reports["good"].outcome, reports["good"].recorded) == ("ok", 1)


async def test_a_feed_whose_name_resolves_inside_is_marked_failing_with_a_clear_reason(media: RunningService) -> None:
    media.runtime.outbound = OutboundPolicy([LOOPBACK], resolver=resolver({"nieuws.omroep.example": ["10.20.30.40"]}))
    r = await media.client.post("/v1/feeds", headers=auth("comms"), json={
        "outlet_id": await _outlet(media), "url": "https://nieuws.omroep.example/rss", "interval_seconds": 900})
    assert r.status_code == 201, r.text  # a public-looking name; where it points is checked when it is fetched
    poll = await media.client.post(f"/v1/feeds/{r.json()['id']}/poll", headers=auth("comms"))
    assert poll.json()["error"] == "refused: nieuws.omroep.example is not a public address"
    assert "10.20.30.40" not in poll.text


@pytest.fixture
async def notifications(infra: Infra) -> AsyncIterator[RunningService]:
    env = settings_env(infra, infra.new_database("sec_outbound_notif"), OUTBOUND_ALLOWED_NETWORKS="127.0.0.1/32")
    async with running(build_spec(dispatch=False), env) as svc:
        yield svc


@pytest.mark.parametrize("url", ["http://127.0.0.1@internal-host/hook", "https://127.0.0.1@internal-host/hook",
                                 "https://169.254.169.254/hook", "https://metadata.google.internal/hook",
                                 "http://127.0.0.2:9000/hook"])
async def test_registering_a_webhook_that_points_inside_is_422_naming_the_url(notifications: RunningService,
                                                                               url: str) -> None:
    admin = auth("admin")
    partner = (await notifications.client.post("/v1/partners", headers=admin, json={
        "name": "Partner", "kind": "welfare"})).json()["id"]
    r = await notifications.client.post(f"/v1/partners/{partner}/webhooks", headers=admin, json={
        "url": url, "secret": "whsec_" + "A" * 40})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["url"]


async def test_a_webhook_attempt_reports_no_raw_connection_error() -> None:
    """A raw error names the address and port that refused (or did not answer): a map of the inside."""
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connect call failed ('10.0.0.5', 6379)", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        result = await post(client, "https://hooks.partner.example/k", b"{}", {}, timeout=5)
    assert (result.ok, result.error) == (False, "ConnectError")


async def test_a_webhook_to_an_internal_address_is_refused_with_a_clear_error() -> None:
    with Site(host="127.0.0.2").running() as internal:
        async with OutboundPolicy([LOOPBACK]).client(follow_redirects=False) as client:
            result = await post(client, internal.url("/hook"), b"{}", {}, timeout=5)
        assert internal.hits == []
    assert result.error == "refused: 127.0.0.2 is not a public address"
