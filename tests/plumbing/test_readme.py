"""The README is the newcomer's first page: it must show the two commands first and document every variable."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from komerbij.runtime.settings import ServiceSettings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SERVICES = ["registration", "materials", "media", "notifications"]


def test_quick_start_shows_make_run_then_make_test_before_anything_else() -> None:
    commands = re.findall(r"^make \w+$", README, flags=re.M)
    assert commands[:2] == ["make run", "make test"]


@pytest.mark.parametrize("service", SERVICES)
def test_configuration_table_documents_every_variable(service: str) -> None:
    settings = importlib.import_module(f"komerbij.{service}.settings").Settings
    table = {m.group(1) for m in re.finditer(r"^\| `([A-Z0-9_]+)` \|", README, flags=re.M)}
    missing = {name.upper() for name in settings.model_fields} - table
    assert not missing, f"add to the README configuration table: {sorted(missing)}"


def test_shared_variables_are_in_the_table() -> None:
    for name in ServiceSettings.model_fields:
        assert f"| `{name.upper()}` |" in README
