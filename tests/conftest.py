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
