"""The pages as people meet them: the system behind the real front door, Chromium, and Keycloak when a test needs it.

Every fixture here is session-wide (the stack, Chromium and Keycloak are each started once). What the expensive
ones cost is printed at the end of the run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser
from support.browser import chromium
from support.frontdoor import Stack, running_stack
from support.infra import Infra, make_workdir
from support.keycloak import TIMINGS, KeycloakAddress, new_address, start_keycloak

from komerbij.devtools.keycloak import KeycloakServer


@pytest.fixture(scope="session")
def keycloak_address() -> KeycloakAddress:
    return new_address()


@pytest.fixture(scope="session")
def stack(infra: Infra, keycloak_address: KeycloakAddress) -> Iterator[Stack]:
    with running_stack(infra, make_workdir() / "stack", keycloak_address) as running:
        yield running


@pytest.fixture(scope="session")
def keycloak(keycloak_address: KeycloakAddress) -> Iterator[KeycloakServer]:
    server = start_keycloak(keycloak_address, make_workdir())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.write_line("page tests: " + ", ".join(f"{k} {v:.1f} s" for k, v in TIMINGS.items()))
