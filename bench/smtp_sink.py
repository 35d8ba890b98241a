"""A counting SMTP server in a process of its own: `python -m bench.smtp_sink PORT OUT_FILE`.

It appends `<time.monotonic()> <recipient>` per received message to OUT_FILE and keeps nothing else. A process of
its own, because receiving mail costs CPU (aiosmtpd is pure Python) and in the benchmark process that CPU would slow
the load generator and its timestamps down. CLOCK_MONOTONIC is one clock for the whole machine, so its arrival times
compare directly with the benchmark process's `time.monotonic()`. Stops on SIGTERM. Its loop is uvloop's, as the
services': the relay stands in for a mail server on another machine, and on these two shared cores every
millisecond it spends is one the services under test do not get.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any, TextIO

import uvloop
from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.monotonic()
        self.out.write("".join(f"{now:.6f} {rcpt}\n" for rcpt in envelope.rcpt_tos))
        self.out.flush()
        return "250 OK"


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open(path, "a", buffering=1) as out:
        controller = Controller(Recorder(out), hostname="127.0.0.1", port=port, loop=uvloop.new_event_loop())
        controller.start()
        print("ready", flush=True)
        try:
            stop.wait()
        finally:
            controller.stop()


if __name__ == "__main__":
    main()
