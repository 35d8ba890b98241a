"""A per-client rate limit on the public write routes (sign-up, cancel, unsubscribe): a token bucket per address.

The bucket lives in the process: with N replicas a client gets up to N times the rate, which is enough to stop
one address from flooding a form. The client is `scope["client"]`, which the proxy-headers middleware has set to
the real address when the request came through a proxy in TRUSTED_PROXIES (and only then: anyone else's
X-Forwarded-For is ignored). Clients in RATE_LIMIT_EXEMPT_NETWORKS (default: this machine) are not limited.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from fastapi import Depends, Request

from komerbij.runtime.http import ProblemError
from komerbij.runtime.settings import Network, ServiceSettings

MAX_TRACKED_CLIENTS = 50_000  # least recently seen are forgotten first: a forgotten client starts with a full bucket


class RateLimiter:
    def __init__(self, per_minute: float, burst: int, exempt: Sequence[Network] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = burst
        self.exempt = tuple(exempt)
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> RateLimiter:
        return cls(settings.rate_limit_per_minute, settings.rate_limit_burst, settings.rate_limit_exempt)

    def _exempt(self, client: str) -> bool:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(address in network for network in self.exempt)

    def wait(self, client: str) -> float:
        """Takes a token for `client`: 0 when the request may go ahead, else the seconds until it may."""
        if self.rate <= 0 or self._exempt(client):
            return 0.0
        now = self.clock()
        tokens, at = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        waited = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            waited = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > MAX_TRACKED_CLIENTS:
            self._buckets.popitem(last=False)
        return waited


async def _limit(request: Request) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.wait(client)
    if wait:
        seconds = max(1, math.ceil(wait))
        raise ProblemError(
            429, "Te veel verzoeken",
            f"U heeft te veel verzoeken achter elkaar gedaan. Probeer het over {seconds} seconden opnieuw.",
            headers={"Retry-After": str(seconds)}, extra={"retry_after": seconds},
        )


# `dependencies=[PUBLIC_WRITE]` on a route that anyone may call and that changes state.
PUBLIC_WRITE = Depends(_limit)
