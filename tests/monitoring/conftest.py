"""promtool and prometheus from the machine's Debian package, installed on first use (see devtools/prometheus.py)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from komerbij.devtools import prometheus


def _binary_or_skip(name: str) -> Path:
    """Skip only when the package truly cannot be installed, and say so loudly; on CI (where apt has it) fail."""
    try:
        return prometheus.require(name)
    except prometheus.PrometheusMissing as exc:
        message = f"!!! MONITORING NOT TESTED: {exc} !!!"
        if os.environ.get("CI"):
            pytest.fail(message)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)


@pytest.fixture(scope="session")
def promtool() -> Path:
    return _binary_or_skip("promtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> Path:
    return _binary_or_skip("prometheus")
