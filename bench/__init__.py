"""Benchmarks of komerbij (`python -m bench`, `make bench`): see BENCHMARKS.md.

They run against real Kafka and PostgreSQL started like the tests (on free ports, in a temporary folder), because
speed measured against fakes says nothing about the week itself. Every load loop is bounded in count and in time.
"""

import sys
from pathlib import Path

# The tests' infrastructure helpers (`support.infra`, `support.services`) live in tests/, as pytest sees them
# (pyproject: pythonpath = ["tests", "."]); the benchmarks reuse them instead of keeping a copy.
_TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
