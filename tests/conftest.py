"""Session-wide real infrastructure; see `support/infra.py` for where Kafka and PostgreSQL come from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.infra import Infra, start_infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with start_infra() as running:
        yield running
