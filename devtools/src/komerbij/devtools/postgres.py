"""PostgreSQL from the machine's binaries (`initdb`, `postgres`), in a data dir of our own.

PostgreSQL refuses to run as root; when we are root the server runs as the `postgres` user, which then owns the data
dir. The server runs in the foreground as our child (not daemonised by pg_ctl), so stopping us stops it.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

import asyncpg

from komerbij.devtools.processes import die_with_parent, port_open, stop_process, wait_until


def bindir() -> Path:
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out:
            candidates.append(Path(out))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for path in candidates:
        if (path / "initdb").exists() and (path / "postgres").exists():
            return path
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, postgres) are missing: install them, e.g. `apt-get install postgresql`"
    )


def _run_as() -> str | None:
    return "postgres" if os.geteuid() == 0 else None


def _as_owner() -> dict[str, object]:
    """Popen arguments that drop root for the PostgreSQL processes (user, group, no supplementary groups)."""
    user = _run_as()
    return {"user": user, "group": user, "extra_groups": []} if user else {}


def _hand_over(path: Path) -> None:
    user = _run_as()
    if user:
        entry = pwd.getpwnam(user)
        for root, dirs, files in os.walk(path):
            os.chown(root, entry.pw_uid, entry.pw_gid)
            for name in dirs + files:
                os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


class PostgresServer:
    def __init__(self, data_dir: Path, *, port: int, fast: bool = False) -> None:
        self.data_dir = data_dir
        self.port = port
        self.fast = fast  # tests: no fsync; the data is thrown away anyway
        self.proc: subprocess.Popen[bytes] | None = None

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, *, timeout: float = 60.0) -> None:
        bins = bindir()
        pgdata = self.data_dir / "pgdata"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o755)
        if not (pgdata / "PG_VERSION").exists():
            pgdata.mkdir(mode=0o700, exist_ok=True)
            _hand_over(pgdata)
            subprocess.run(
                [str(bins / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--locale=C.UTF-8"],
                check=True, stdout=subprocess.DEVNULL, **_as_owner(),
            )
        args = [str(bins / "postgres"), "-D", str(pgdata), "-p", str(self.port), "-k", str(self.data_dir),
                "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300"]
        if self.fast:
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log = open(self.data_dir / "postgres.log", "ab")  # noqa: SIM115 - lives as long as the process
        _hand_over(self.data_dir)  # the socket and its lock file live here too
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, **_as_owner(),
                                     start_new_session=True, preexec_fn=die_with_parent)
        wait_until(self._ready, timeout=timeout, what=f"PostgreSQL on port {self.port}")

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited with {self.proc.returncode}; see {self.data_dir}/postgres.log")
        if not port_open(self.port):
            return False
        try:
            asyncio.run(_ping(self.dsn()))
            return True
        except (OSError, asyncpg.PostgresError):
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, sig=signal.SIGINT, timeout=30)  # SIGINT: fast shutdown
            self.proc = None


async def _ping(dsn: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=2)
    await conn.close()


async def ensure_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # created meanwhile by another process
    finally:
        await conn.close()
