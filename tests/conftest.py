"""Session-wide real infrastructure; see `support/infra.py` for where Kafka and PostgreSQL come from.

Every test that uses none of the fixtures starting servers (`SERVERS`, directly or through another fixture) and is
not marked `slow` is marked `fast`: the domain, contract and template tests, which need no Kafka or PostgreSQL.
`make test-fast` runs just those, so a new test lands in the right lane by what it asks for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.infra import Infra, start_infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with start_infra() as running:
        yield running


# Fixtures that start real servers: the session's Kafka and PostgreSQL, Keycloak, the front-door stack, Chromium, and
# a SCRAM-secured broker of tests/deploy's own. A test asking for none of them is fast.
SERVERS = {"infra", "keycloak", "stack", "browser", "broker"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not SERVERS & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.fast)
    # The pages are the largest group of tests on one stack: first in line, so the other worker takes the rest.
    items.sort(key=lambda item: not item.nodeid.startswith(PAGES))


PAGES = "tests/pages/"


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` runs two workers (`-n 2 --dist loadscope`), each with its own Kafka and PostgreSQL. A module stays on
    one worker, so its module fixtures start once, and all page tests stay together on one, so the front-door stack
    and Keycloak start once. (pytest-xdist's own `loadgroup` cannot do the latter with pytest 9: it renames node ids
    through an attribute pytest no longer reads.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModulesPagesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return PAGES if nodeid.startswith(PAGES) else nodeid.split("::", 1)[0]

    return ModulesPagesTogether(config, log)
