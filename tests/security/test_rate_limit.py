"""Public writes (sign-up, cancel, unsubscribe) are rate limited per client: 429, Retry-After, a Dutch problem.

The client is the real one behind a trusted proxy (X-Forwarded-For from TRUSTED_PROXIES only); anyone else's
X-Forwarded-For is ignored, so it cannot buy a fresh bucket per request.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from support.infra import Infra
from support.services import RunningService, running, settings_env

from komerbij.notifications.app import build_spec
from komerbij.registration.app import SPEC as REGISTRATION
from komerbij.runtime import ratelimit
from komerbij.runtime.ratelimit import RateLimiter

STRICT = {"RATE_LIMIT_BURST": "3", "RATE_LIMIT_PER_MINUTE": "0.001", "RATE_LIMIT_EXEMPT_NETWORKS": ""}
SIGNUP = {"name": "Truus", "email": "truus@example.org", "consent": True}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_one_request_per_refill() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=6, burst=2, clock=clock)
    assert [limiter.wait("203.0.113.7") for _ in range(2)] == [0, 0]
    assert limiter.wait("203.0.113.7") == pytest.approx(10)  # 6 a minute: one every 10 s
    assert limiter.wait("203.0.113.8") == 0  # another client, another bucket
    clock.now += 10
    assert limiter.wait("203.0.113.7") == 0
    assert limiter.wait("203.0.113.7") > 0


def test_exempt_networks_and_a_zero_rate_are_never_limited() -> None:
    limiter = RateLimiter(per_minute=1, burst=1, exempt=[ipaddress.ip_network("127.0.0.0/8")], clock=FakeClock())
    assert all(limiter.wait("127.0.0.1") == 0 for _ in range(10))
    assert limiter.wait("198.51.100.1") == 0 and limiter.wait("198.51.100.1") > 0
    unlimited = RateLimiter(per_minute=0, burst=1, clock=FakeClock())
    assert all(unlimited.wait("198.51.100.1") == 0 for _ in range(10))


def test_the_buckets_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_TRACKED_CLIENTS", 100)
    limiter = RateLimiter(per_minute=1, burst=1, clock=FakeClock())
    for i in range(1000):
        limiter.wait(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._buckets) == 100


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def behind_proxy(infra: Infra) -> AsyncIterator[RunningService]:
    # The test client connects from 127.0.0.1, here the trusted proxy in front of the service.
    env = settings_env(infra, infra.new_database("sec_rate"), TRUSTED_PROXIES="127.0.0.1/32", **STRICT)
    async with running(REGISTRATION, env) as svc:
        yield svc


def _from(client: str) -> dict[str, str]:
    return {"X-Forwarded-For": client}


@pytest.mark.asyncio(loop_scope="module")
async def test_a_client_past_its_burst_gets_429_with_retry_after_and_a_dutch_problem(
    behind_proxy: RunningService,
) -> None:
    url = f"/v1/activities/{uuid.uuid4()}/signups"
    statuses = [(await behind_proxy.client.post(url, json=SIGNUP, headers=_from("203.0.113.7"))).status_code
                for _ in range(3)]
    assert 429 not in statuses
    r = await behind_proxy.client.post(url, json=SIGNUP, headers=_from("203.0.113.7"))
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["title"] == "Te veel verzoeken" and "Probeer het over" in r.json()["detail"]
    # cancelling is a public write too, on the same bucket
    cancel = await behind_proxy.client.post(f"/v1/signups/{uuid.uuid4()}/cancel", params={"token": "t"},
                                            headers=_from("203.0.113.7"))
    assert cancel.status_code == 429
    # a client-supplied X-Forwarded-For before the proxy's own entry does not make another client
    spoofed = await behind_proxy.client.post(url, json=SIGNUP, headers=_from("198.51.100.99, 203.0.113.7"))
    assert spoofed.status_code == 429
    # someone else behind the proxy is not held up
    other = await behind_proxy.client.post(url, json=SIGNUP, headers=_from("203.0.113.8"))
    assert other.status_code == 404, other.text  # through to the route: no such activity


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(infra: Infra) -> None:
    env = settings_env(infra, infra.new_database("sec_rate_direct"), **STRICT)  # no TRUSTED_PROXIES
    async with running(REGISTRATION, env) as svc:
        url = f"/v1/activities/{uuid.uuid4()}/signups"
        statuses = [(await svc.client.post(url, json=SIGNUP, headers=_from(f"203.0.113.{i}"))).status_code
                    for i in range(5)]
    assert statuses[:3] != [429] * 3 and statuses[3:] == [429, 429]


async def test_the_one_click_unsubscribe_is_rate_limited(infra: Infra) -> None:
    env = settings_env(infra, infra.new_database("sec_rate_notif"), **STRICT)
    async with running(build_spec(dispatch=False), env) as svc:
        statuses = [(await svc.client.post("/unsubscribe/geraden")).status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
