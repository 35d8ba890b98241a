"""Session-wide real infrastructure; see `support/infra.py` for where Kafka and PostgreSQL come from.

Every test that does not use the `infra` fixture (directly or through another fixture) and is not marked `slow` is
marked `fast`: the domain, contract and template tests, which need no Kafka or PostgreSQL. `make test-fast` runs
just those, so a new test lands in the right lane by what it asks for.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.infra import Infra, start_infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with start_infra() as running:
        yield running


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "infra" not in getattr(item, "fixturenames", ()) and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.fast)
        # `make test` runs two workers (pytest-xdist, --dist loadgroup): a module stays on one worker, so its module
        # fixtures start once; the page tests share one front-door stack and one Keycloak, so they stay together.
        item.add_marker(pytest.mark.xdist_group("pages" if _in_pages(item) else item.nodeid.partition("::")[0]))
    # The pages are the largest group: first in line, so the other worker takes everything else meanwhile.
    items.sort(key=lambda item: not _in_pages(item))


def _in_pages(item: pytest.Item) -> bool:
    return item.nodeid.startswith("tests/pages/") or item.nodeid.startswith("pages/")
