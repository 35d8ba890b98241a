"""The pages as people meet them: the system behind the real front door, Chromium, and Keycloak when a test needs it.

The stack and Keycloak live as long as this folder's tests (each started once), Chromium once per module. Keycloak costs
~20-30 s and ~500 MB, so it only runs when a collected test asks for it; it then boots in the background while the
stack starts. What the expensive fixtures cost is printed at the end of the run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser
from support.browser import chromium
from support.frontdoor import Stack, running_stack
from support.infra import Infra, make_workdir
from support.keycloak import TIMINGS, KeycloakAddress, keycloak_server, new_address

from komerbij.devtools.keycloak import KeycloakServer


@pytest.fixture(scope="package")
def keycloak_address() -> KeycloakAddress:
    return new_address()


@pytest.fixture(scope="package")
def keycloak_launched(request: pytest.FixtureRequest, keycloak_address: KeycloakAddress) -> Iterator[
        KeycloakServer | None]:
    """Keycloak booting in the background when some test of this run will need it, else nothing."""
    if not any("keycloak" in item.fixturenames for item in request.session.items):
        yield None
        return
    server = keycloak_server(keycloak_address, make_workdir())
    server.launch()
    TIMINGS["Keycloak launched at"] = time.monotonic()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def stack(infra: Infra, keycloak_address: KeycloakAddress,
          keycloak_launched: KeycloakServer | None) -> Iterator[Stack]:
    with running_stack(infra, make_workdir() / "stack", keycloak_address) as running:
        yield running


@pytest.fixture(scope="package")
def keycloak(keycloak_launched: KeycloakServer | None) -> KeycloakServer:
    assert keycloak_launched is not None
    keycloak_launched.wait_ready()
    launched = TIMINGS.pop("Keycloak launched at")
    TIMINGS["Keycloak start"] = time.monotonic() - launched
    return keycloak_launched


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module, not per session: Playwright's sync API keeps its event loop marked as running while it is open,
    and the async tests of the next modules need that place free. Keep browser tests in modules of sync tests."""
    with chromium() as running:
        yield running


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    shown = {k: v for k, v in TIMINGS.items() if not k.endswith(" at")}
    if shown:
        terminalreporter.write_line("page tests: " + ", ".join(f"{k} {v:.1f} s" for k, v in shown.items()))
