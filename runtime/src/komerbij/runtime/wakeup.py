"""Wake-up calls: LISTEN on a PostgreSQL channel over a connection of its own, for loops that otherwise poll.

Used by the outbox relay (`outbox`, sent by `add_record` at commit) and notifications' dispatcher (`deliveries`).
A pooled connection cannot hold a LISTEN (the pool resets it on release), hence the dedicated one. Notifications
only shorten a wait: the caller still polls, so a lost connection, a notification that came while nobody listened,
or work that falls due later without a notification costs at most one interval.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

log = logging.getLogger(__name__)


class Wakeup:
    def __init__(self, dsn: str, channel: str, *, connect_timeout: float = 5.0) -> None:
        self._dsn = dsn
        self._channel = channel
        self._connect_timeout = connect_timeout
        self._conn: asyncpg.Connection | None = None
        self._woken = asyncio.Event()
        self._woken.set()  # the first round looks at once: work may have waited for the service to start
        self._failing = False

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def listen(self) -> None:
        """(Re)connect and LISTEN when not listening; on failure the caller just polls until the next call."""
        if self.listening:
            return
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(self._dsn, timeout=self._connect_timeout)
            await conn.add_listener(self._channel, self._notified)
        except asyncio.CancelledError:
            if conn is not None:
                conn.terminate()  # cancelled between connect and LISTEN: not ours to keep
            raise
        except Exception as exc:  # never fatal: the caller's wait falls back to its interval
            if conn is not None:
                conn.terminate()
            if not self._failing:
                log.warning("not listening on %s, polling only: %s: %s", self._channel, type(exc).__name__, exc)
            self._failing = True
            return
        conn.add_termination_listener(self._lost)
        self._conn = conn
        if self._failing:
            log.info("listening on %s again", self._channel)
        self._failing = False
        # Whatever was recorded while nobody listened: look once now rather than after a whole interval.
        self._woken.set()

    async def wait(self, timeout: float) -> bool:
        """Until a notification (True) or `timeout` seconds (False), whichever comes first.

        Cleared on return, before the caller claims: a notification from then on makes the next wait return at
        once, and one that came before is for a row the caller's claim will see (NOTIFY is sent at commit).
        """
        # Not `asyncio.wait_for`: on Python 3.11 it can swallow a cancellation that arrives as the event is set, and
        # a stopping service then waits forever for this loop (seen as a hung shutdown in the tests).
        try:
            async with asyncio.timeout(timeout):
                await self._woken.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._woken.clear()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            async with asyncio.timeout(2):
                await conn.close()
        except (OSError, TimeoutError, asyncpg.PostgresError):
            conn.terminate()

    def _notified(self, *_: object) -> None:
        self._woken.set()

    def _lost(self, _: object) -> None:
        # Wake the loop so that it listens again at once (and looks for what it may have missed meanwhile).
        self._woken.set()
