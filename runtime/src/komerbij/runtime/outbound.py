"""Outbound HTTP (feeds, webhooks, every redirect hop) goes to public addresses only: no way in to the network
the service runs in (databases, admin ports, the cloud's metadata address) through a URL someone registered.

The check sits where the connection is made: a custom httpcore network backend resolves the host once, refuses
loopback, private, link-local, multicast, reserved and other non-global addresses, and connects to the address it
checked. httpx still sends the original Host header and TLS server name, so certificates are verified as usual, and
a DNS answer that changes between check and connect (DNS rebinding) cannot slip through. Ranges in
OUTBOUND_ALLOWED_NETWORKS are opened explicitly (`make run` and the tests open 127.0.0.0/8 for their local feeds and
webhook receivers). Environment proxies are ignored: a proxy would make the connection for us, unchecked.

`registration_problem` is the early check when a URL is registered (422): the URL's form and an IP-literal host;
names are resolved only when fetched, so registering never looks up a name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import httpcore
import httpx

from komerbij.runtime.settings import Network, ServiceSettings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Names that only ever mean something inside a network (RFC 6761, 6762, 8375, ICANN's .internal) or that no public
# name server answers.
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain", ".lan", ".intranet")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)  # httpx's defaults


class OutboundRefused(httpx.ConnectError):
    """The destination is not a public address; the message names the host, never the address it resolved to."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: Address) -> bool:
    """Globally routable unicast; an IPv6 address that embeds an IPv4 one is judged by the IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_loopback
                                      or address.is_link_local or address.is_private or address.is_unspecified)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


class OutboundPolicy:
    def __init__(self, allowed: Sequence[Network] = (), resolver: Resolver = system_resolver) -> None:
        self.allowed = tuple(allowed)
        self.resolver = resolver

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> OutboundPolicy:
        return cls(settings.outbound_networks)

    def allows(self, address: Address) -> bool:
        return any(address in network for network in self.allowed) or is_public(address)

    def _opened(self, addresses: Iterable[Address]) -> bool:
        """Only reachable because OUTBOUND_ALLOWED_NETWORKS opens it (development and tests)."""
        return any(any(a in n for n in self.allowed) and not is_public(a) for a in addresses)

    async def addresses(self, host: str, port: int) -> list[Address]:
        """The checked addresses to connect to; raises OutboundRefused if any answer is not allowed."""
        literal = _literal(host)
        if literal is not None:
            found = [literal]
        else:
            try:
                found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in await self.resolver(host, port)]
            except (OSError, UnicodeError, ValueError):
                raise httpx.ConnectError(f"{host} could not be resolved") from None
            if not found:
                raise httpx.ConnectError(f"{host} could not be resolved")
        # One non-public answer refuses the host: a name that points inside as well as outside is not a feed.
        if not all(self.allows(a) for a in found):
            raise OutboundRefused(f"{host} is not a public address")
        return found

    def registration_problem(self, url: str, *, https_only: bool = False) -> str | None:
        """Why `url` cannot be registered (Dutch, for the 422), or None. Resolves nothing."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            return "geen geldig adres"
        if parsed.scheme not in ("http", "https") or not parsed.host:
            return "gebruik een http(s)-adres met een hostnaam"
        if parsed.userinfo:
            return "een adres zonder gebruikersnaam of wachtwoord ervoor (geen …@ in de host)"
        host = parsed.host.rstrip(".").lower()
        literal = _literal(host)
        if literal is not None:
            addresses: list[Address] = [literal]
        elif host == "localhost" or host.endswith(".localhost"):
            addresses = [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
        elif "." not in host or host.endswith(_LOCAL_SUFFIXES) or host.rsplit(".", 1)[1].isdigit():
            return "geen openbare hostnaam (een intern of lokaal adres kan niet)"
        else:
            addresses = []
        if addresses and not any(self.allows(a) for a in addresses):
            return "dit adres is niet openbaar bereikbaar (intern, lokaal of gereserveerd)"
        if https_only and parsed.scheme != "https" and not self._opened(addresses):
            return "gebruik een https://-adres"
        return None

    def transport(self, *, verify: ssl.SSLContext | bool = True) -> httpx.AsyncHTTPTransport:
        return GuardedTransport(self, verify=verify)

    def client(self, *, verify: ssl.SSLContext | bool = True, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx client whose every connection (and redirect hop) passes this policy; env proxies ignored."""
        return httpx.AsyncClient(transport=self.transport(verify=verify), trust_env=False, **kwargs)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: OutboundPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        async with asyncio.timeout(timeout):
            addresses = await self.policy.addresses(host, port)
        last: Exception | None = None
        for address in addresses:  # each one checked; the connection goes to the address, not the name
            try:
                return await self.inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused("unix sockets are not reachable")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with the guarded backend under its connection pool."""

    def __init__(self, policy: OutboundPolicy, *, verify: ssl.SSLContext | bool = True,
                 limits: httpx.Limits = _LIMITS, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        # httpx takes no network backend; the pool it made (`_pool`) is replaced by the same pool over the guard.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=_GuardedBackend(policy, inner),
        )
