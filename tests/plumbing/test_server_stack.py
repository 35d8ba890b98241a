"""A service process runs on the production server stack (issue 19): uvloop's event loop and httptools' parser, not
asyncio's loop and h11; the JSON it writes by hand (problem details) and the jsonb it stores go through orjson."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
from support.infra import Infra
from support.services import ServiceProcess, settings_env

from komerbij.runtime import db


def _loaded_libraries(pid: int) -> set[str]:
    """The shared objects mapped into the process: what it really runs, whatever its code says."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {Path(line.split()[-1]).name for line in maps if line.endswith(".so") or ".so." in line}


def test_a_service_process_serves_on_uvloop_and_httptools_and_answers_problems_as_json(
    infra: Infra, tmp_path: Path
) -> None:
    dsn = infra.new_database("probe")
    service = ServiceProcess("probe", settings_env(infra, dsn, PYTHONPATH="tests"), tmp_path).start()
    try:
        assert service.proc is not None
        libraries = _loaded_libraries(service.proc.pid)
        assert any(name.startswith("loop.cpython") for name in libraries), sorted(libraries)  # uvloop/loop.*.so
        assert any(name.startswith("parser.cpython") for name in libraries), sorted(libraries)  # httptools
        answer = httpx.get(f"{service.url}/nergens", timeout=10)
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
        assert json.loads(answer.content) == {"type": "about:blank", "title": "Niet gevonden", "status": 404,
                                              "detail": "Not Found", "instance": "/nergens"}
    finally:
        service.terminate()


async def test_the_pools_json_codec_stores_what_the_standard_library_would_read_back(infra: Infra) -> None:
    pool = await db.create_pool(infra.new_database("codec"), max_size=1)
    try:
        stored = {"name": "Deelnemer é", "seats": 3, "nested": [1, 2.5, None, True], "1": "key"}
        back = await pool.fetchval("SELECT $1::jsonb", stored)
        assert back == stored
        # what others (psql, a migration) see is plain JSON text, and datetimes are ISO 8601 instead of an error
        when = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
        assert json.loads(await pool.fetchval("SELECT ($1::jsonb)::text", {"at": when})) == {
            "at": "2026-10-01T12:00:00+00:00"}
    finally:
        await pool.close()
