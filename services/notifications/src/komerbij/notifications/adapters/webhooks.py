"""Webhook POSTs over httpx: the one place the service talks HTTP to partners' endpoints, and the outcome of one
attempt, whatever went wrong."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

import httpx

from komerbij.runtime.outbound import OutboundPolicy, OutboundRefused

# Loading the CA bundle costs ~40 ms of CPU; made once, not per dispatch round (it blocked the event loop each time).
_TLS = ssl.create_default_context()
# What is read of an answer at most. Nothing in it is used (the status says it all); reading a small body lets the
# connection be reused, and a receiver that answers with gigabytes does not get them into our memory.
MAX_RESPONSE_BYTES = 64 * 1024


def client(outbound: OutboundPolicy | None) -> httpx.AsyncClient:
    """The client a dispatch round sends its webhooks with (redirects are not followed: the URL is the endpoint).

    With an outbound policy (always, in the service) every connection goes to a public address only; without one
    (some unit tests) the client is unguarded.
    """
    if outbound is not None:
        return outbound.client(verify=_TLS, follow_redirects=False)
    return httpx.AsyncClient(follow_redirects=False, verify=_TLS)


@dataclass(frozen=True)
class PostResult:
    ok: bool
    status: int | None
    error: str | None


async def post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str],
               timeout: float) -> PostResult:
    """2xx is success (Standard Webhooks); anything else, a timeout or a refused connection is a failed attempt.

    `timeout` bounds the whole request, answer included: httpx's own timeouts are per step (connect, each read), so a
    receiver that trickles its answer a byte at a time would otherwise hold the round, and its lease, for ever.
    """
    try:
        async with asyncio.timeout(timeout), client.stream("POST", url, content=body, headers=headers,
                                                           timeout=timeout) as response:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= MAX_RESPONSE_BYTES:
                    break  # the rest is not read: leaving the block closes the connection
    except (TimeoutError, httpx.TimeoutException):
        return PostResult(False, None, f"timeout after {timeout:g}s")
    except OutboundRefused as exc:
        return PostResult(False, None, f"refused: {exc}")
    except httpx.HTTPError as exc:
        # The class only: a raw connection error names addresses and ports of what answered, and what did not.
        return PostResult(False, None, type(exc).__name__)
    if 200 <= response.status_code < 300:
        return PostResult(True, response.status_code, None)
    return PostResult(False, response.status_code, f"HTTP {response.status_code}")
