"""Webhook POSTs over httpx: the outcome of one attempt, whatever went wrong."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from komerbij.runtime.outbound import OutboundRefused


@dataclass(frozen=True)
class PostResult:
    ok: bool
    status: int | None
    error: str | None


async def post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str],
               timeout: float) -> PostResult:
    """2xx is success (Standard Webhooks); anything else, a timeout or a refused connection is a failed attempt."""
    try:
        response = await client.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return PostResult(False, None, f"timeout after {timeout:g}s")
    except OutboundRefused as exc:
        return PostResult(False, None, f"refused: {exc}")
    except httpx.HTTPError as exc:
        # The class only: a raw connection error names addresses and ports of what answered, and what did not.
        return PostResult(False, None, type(exc).__name__)
    if 200 <= response.status_code < 300:
        return PostResult(True, response.status_code, None)
    return PostResult(False, response.status_code, f"HTTP {response.status_code}")
