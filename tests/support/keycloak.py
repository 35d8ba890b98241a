"""A real Keycloak for the tests that need one (login through its form, its RS256 tokens).

It costs ~20-30 s and ~500 MB, so it is a session fixture that only starts when a test asks for it; the port is
chosen first, so services can be configured with the issuer before Keycloak runs (they fetch nothing at start).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from komerbij.devtools.keycloak import API_CLIENT, DEMO_PASSWORD, REALM, KeycloakServer
from komerbij.devtools.processes import free_port

TIMINGS: dict[str, float] = {}  # what the expensive fixtures cost, printed at the end of the run


@dataclass(frozen=True)
class KeycloakAddress:
    port: int

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}/realms/{REALM}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"


def new_address() -> KeycloakAddress:
    return KeycloakAddress(free_port())


def keycloak_server(address: KeycloakAddress, workdir: Path) -> KeycloakServer:
    return KeycloakServer(workdir / "keycloak", port=address.port, management_port=free_port())


def password_token(server: KeycloakServer, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    """Tokens for a demo account through the public API client (password grant): what a local script would do."""
    response = httpx.post(server.token_url, data={"grant_type": "password", "client_id": API_CLIENT,
                                                  "username": username, "password": password, "scope": "openid"},
                          timeout=30)
    response.raise_for_status()
    return response.json()
