"""PostgreSQL: the connection pool and numbered plain-SQL migrations.

Migrations are files `NNN_name.sql` in a package folder, applied in order at service start, each in its own
transaction, under an advisory lock so that two replicas starting together do not race. The runtime's own tables
(outbox, inbox) are a migration component of their own, applied before the service's.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg
import orjson

log = logging.getLogger(__name__)
_MIGRATION_FILE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_LOCK_ID = 0x6B6F6D65  # "kome": one advisory lock id for migrations in every database


def _json_text(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    # orjson: the consumer writes a few jsonb columns per event, and the standard library's encoder was a tenth of
    # its profile (BENCHMARKS.md). It also writes datetimes and UUIDs as ISO strings where json.dumps raised.
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=_json_text, decoder=orjson.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's default reset query (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL): a round trip
    and four statements after every use case, a sixth of a sign-up's database work (BENCHMARKS.md). asyncpg still
    rolls back a transaction left open. Our code leaves no session state on a pooled connection: LISTEN has a
    connection of its own (`wakeup.py`), advisory locks are transaction-scoped except the migrations' lock, which
    `migrate` releases itself, and nothing SETs outside a transaction. Keep it that way (use SET LOCAL)."""


async def create_pool(dsn: str, *, max_size: int = 10, min_size: int = 1) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection,
                                     reset=_keep_session)


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str


def load_migrations(component: str, package: str) -> list[Migration]:
    folder: Traversable = resources.files(package)
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append(Migration(component, int(match.group(1)), entry.name, entry.read_text()))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"duplicate migration numbers in {package}")
    return sorted(found, key=lambda m: m.version)


async def migrate(pool: asyncpg.Pool, migrations: list[Migration]) -> list[str]:
    """Apply what is missing; returns the names applied now."""
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       component text NOT NULL,
                       version int NOT NULL,
                       name text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now(),
                       PRIMARY KEY (component, version))"""
            )
            rows = await conn.fetch("SELECT component, version FROM schema_migrations")
            done = {(r["component"], r["version"]) for r in rows}
            for m in migrations:
                if (m.component, m.version) in done:
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                        m.component, m.version, m.name,
                    )
                log.info("migration applied", extra={"migration": f"{m.component}/{m.name}"})
                applied_now.append(f"{m.component}/{m.name}")
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
    return applied_now


async def pending(pool: asyncpg.Pool, migrations: list[Migration]) -> list[str]:
    async with pool.acquire() as conn:
        exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        done = set()
        if exists:
            done = {(r["component"], r["version"]) for r in await conn.fetch(
                "SELECT component, version FROM schema_migrations")}
    return [f"{m.component}/{m.name}" for m in migrations if (m.component, m.version) not in done]
