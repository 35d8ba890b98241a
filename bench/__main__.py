"""`python -m bench` (`make bench`): start Kafka + PostgreSQL like the tests, run the scenarios of issue 9, print a
table and write bench/results/<timestamp>.json. See BENCHMARKS.md for what each scenario measures and how."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from support.infra import Infra

from bench.context import Context
from bench.harness import RESULTS, infrastructure, other_load
from bench.load import CLIENTS, use_client
from bench.profile import summarise
from bench.scenarios import contention, drain, end_to_end, idle, signup_api, signup_open_loop
from bench.stats import result_rows, table

SCENARIOS: dict[str, Callable[[Context], Awaitable[dict[str, Any]]]] = {
    "signup_api": signup_api.run,
    "end_to_end": end_to_end.run,
    "drain": drain.run,
    "contention": contention.run,
    "signup_open_loop": signup_open_loop.run,
    "idle": idle.run,
}
PACKAGES = ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "orjson", "faststream", "aiokafka", "asyncpg",
            "pydantic", "httpx", "psutil",
            "aiosmtplib", "aiosmtpd", "py-spy")
# --quick: every scenario, small, in under 2 minutes in total (BENCHMARKS.md); not numbers to record.
QUICK = {"signups": 1000, "warmup": 100, "e2e_seconds": 5, "e2e_tail_seconds": 30, "events": 20_000,
         "drain_seconds": 30, "open_seconds": 5, "idle_seconds": 2}


def _setting(text: str) -> str:
    name, sep, _ = text.partition("=")
    if not sep or not name.isupper():
        raise argparse.ArgumentTypeError(f"not NAME=VALUE: {text!r}")
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--only", action="append", choices=sorted(SCENARIOS),
                   help="run only this scenario (repeatable); default: all")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run with smaller counts ({', '.join(f'{k}={v}' for k, v in QUICK.items())})")
    p.add_argument("--seconds", type=float, default=300, help="time bound of each closed-loop phase (s)")
    p.add_argument("--signups", type=int, default=20_000, help="scenario 1: measured sign-ups per target")
    p.add_argument("--activities", type=int, default=200, help="scenarios 1-2: activities the sign-ups spread over")
    p.add_argument("--clients", type=int, default=64, help="scenario 1: concurrent clients")
    p.add_argument("--warmup", type=int, default=500, help="scenario 1: sign-ups before measuring (not counted)")
    p.add_argument("--rate", type=float, default=200, help="scenario 2: sign-ups per second")
    p.add_argument("--e2e-seconds", type=float, default=60, help="scenario 2: seconds of load")
    p.add_argument("--e2e-tail-seconds", type=float, default=60,
                   help="scenario 2: longest wait for the last deliveries after the load")
    p.add_argument("--dispatch-interval", type=float, default=None,
                   help="scenarios 2-3: DISPATCH_INTERVAL_SECONDS of notifications (default: the service's, 1.0)")
    p.add_argument("--notifications-env", action="append", default=[], metavar="NAME=VALUE", type=_setting,
                   help="scenarios 2-3: a setting of the notifications service for an experiment (repeatable), e.g. "
                        "SMTP_CONNECTIONS=8; a run with one says so in its results")
    p.add_argument("--events", type=int, default=200_000, help="scenario 3: events pre-loaded")
    p.add_argument("--drain-seconds", type=float, default=45, help="scenario 3: time bound of each drain")
    p.add_argument("--orders", type=int, default=1000, help="scenario 4: concurrent orders")
    p.add_argument("--stock", type=int, default=100, help="scenario 4: stock of the SKU")
    p.add_argument("--open-rate", type=float, default=300, help="signup_open_loop: sign-ups per second")
    p.add_argument("--open-seconds", type=float, default=60, help="signup_open_loop: seconds at the rate")
    p.add_argument("--idle-seconds", type=float, default=10,
                   help="idle: seconds each service is left alone after it is ready before its RSS is read")
    p.add_argument("--client", choices=CLIENTS, default="raw",
                   help="the load generator's HTTP client: raw (bench.rawhttp, httptools; default) or httpx (the "
                        "client of the runs recorded before issue 19, ~2 ms of CPU per request on the same cores)")
    p.add_argument("--profile", action="store_true",
                   help="attach py-spy to the service process of each scenario (costs it some CPU: numbers of a "
                        "profiled run are not the recorded ones)")
    p.add_argument("--profile-seconds", type=float, default=20, help="length of each py-spy recording")
    p.add_argument("--note", default="", help="free text stored with the results (e.g. what else ran)")
    opts = p.parse_args(argv)
    if opts.quick:
        for key, value in QUICK.items():
            if getattr(opts, key) == p.get_default(key):
                setattr(opts, key, value)
    return opts


def revision() -> dict[str, Any]:
    """The commit measured, and whether the working tree differed from it (others' uncommitted edits count too)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, cwd=RESULTS.parents[1],
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return {"commit": git("rev-parse", "HEAD"), "dirty_paths": git("status", "--porcelain").splitlines()[:30]}


def machine() -> dict[str, Any]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu_model": model, "cores": psutil.cpu_count(logical=True),
            "physical_cores": psutil.cpu_count(logical=False),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1), "kernel": platform.release()}


async def versions(admin_dsn: str) -> dict[str, str]:
    from komerbij.devtools.kafka import kafka_version

    found = {"python": platform.python_version(), "kafka": kafka_version()}
    conn = await asyncpg.connect(admin_dsn)
    try:
        found["postgresql"] = (await conn.fetchval("SHOW server_version")).split()[0]
    finally:
        await conn.close()
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def details(results: dict[str, dict[str, Any]]) -> list[list[Any]]:
    """The numbers behind the targets, one line each."""
    rows: list[list[Any]] = []
    for name, r in results.items():
        if "error" in r:
            continue
        if name == "signup_api":
            for who in ("service", "baseline"):
                x = r[who]
                rows.append([f"{name}/{who}", f"{x['throughput_per_s']:.0f}/s", x["latency"]["p50_ms"],
                             x["latency"]["p95_ms"], x["latency"]["p99_ms"],
                             f"{x['ok']}/{x['requests']} ok; CPU ms/req: server {x['server_cpu_ms_per_request']}, "
                             f"postgres {x['postgres_cpu_ms_per_request']}, client {x['client_cpu_ms_per_request']}"])
        elif name == "end_to_end":
            e, h = r["e2e_latency"], r["http_latency"]
            rows.append([f"{name}/201→mail", f"{r['achieved_rate_per_s']:.0f}/s", e["p50_ms"], e["p95_ms"],
                         e["p99_ms"], f"{r['delivered']}/{r['ok']} delivered, {r['not_delivered_within_tail']} late"])
            rows.append([f"{name}/http", "", h["p50_ms"], h["p95_ms"], h["p99_ms"], str(r["statuses"])])
            for stage, x in r.get("stages_ms", {}).items():
                if isinstance(x, dict):
                    rows.append([f"{name}/stage {stage}", "", x["p50_ms"], x["p95_ms"], x["p99_ms"],
                                 "server timestamps (see JSON 'stages_ms.what')"])
        elif name == "drain":
            raw = r["baseline"]
            for part in ("service", "consumer_only", "fair_baseline"):
                s = r[part]
                ratio = {"service": f"; ratio {r.get('service_ratio')}", "consumer_only": f"; ratio {r['ratio']}"}
                rows.append([f"{name}/{part}", f"{s['events_per_s']:.0f}/s", "", "", "",
                             f"{s['consumed']}/{r['events']} in bound, RSS {s['peak_rss_mb']} MB, "
                             f"CPU ms/event: process {s['cpu_ms_per_event']}, "
                             f"postgres {s.get('postgres_cpu_ms_per_event', '?')}{ratio.get(part, '')}"])
            rows.append([f"{name}/raw aiokafka", f"{raw['events_per_s']:.0f}/s", "", "", "",
                         f"{raw['records']} records: the client's ceiling, reads and writes nothing"])
        elif name == "contention":
            lat = r["latency"]
            rows.append([f"{name}/service", f"{r['orders_per_s']:.0f}/s", lat["p50_ms"], lat["p95_ms"],
                         lat["p99_ms"], f"{r['order_statuses']}, oversell {r['oversell']}; CPU ms/order: server "
                         f"{r['server_cpu_ms_per_order']}, postgres {r['postgres_cpu_ms_per_order']}"])
            if "baseline" in r:  # runs recorded before the baseline existed have none
                b = r["baseline"]
                rows.append([f"{name}/baseline", f"{b['orders_per_s']:.0f}/s", b["latency"]["p50_ms"],
                             b["latency"]["p95_ms"], b["latency"]["p99_ms"],
                             f"{b['order_statuses']}, sold {b['sold']}; CPU ms/order: server "
                             f"{b['server_cpu_ms_per_order']}, postgres {b['postgres_cpu_ms_per_order']}; "
                             f"ratio {r['ratio']}"])
        elif name == "signup_open_loop":
            for who in ("service", "baseline"):
                x = r[who]
                rows.append([f"{name}/{who}", f"{x['achieved_rate_per_s']:.0f}/s", x["latency"]["p50_ms"],
                             x["latency"]["p95_ms"], x["latency"]["p99_ms"],
                             f"{x['ok']}/{x['requests']} ok at {r['rate_per_s']:g}/s, {x['statuses']}; CPU ms/req: "
                             f"server {x['server_cpu_ms_per_request']}, postgres "
                             f"{x['postgres_cpu_ms_per_request']}, client {x['client_cpu_ms_per_request']}; "
                             f"sent late p99 {x['send_lateness']['p99_ms']} ms"])
        elif name == "idle":
            for service, x in r["services"].items():
                rows.append([f"{name}/{service}", "", "", "", "",
                             f"RSS {x['rss_mb']} MB after {r['idle_seconds']:g} s idle (peak {x['peak_rss_mb']})"])
    return rows


async def run_all(opts: argparse.Namespace, infra: Infra, record: dict[str, Any]) -> None:
    record["versions"] = await versions(infra.admin_dsn)
    log_dir = infra.workdir / "logs"
    log_dir.mkdir(exist_ok=True)
    ctx = Context(infra, opts, log_dir)
    for name in opts.only or list(SCENARIOS):
        print(f"[bench] {name} …", flush=True)
        t0 = time.monotonic()
        try:
            result = await SCENARIOS[name](ctx)
        except Exception as exc:  # one broken scenario must not lose the others' numbers
            traceback.print_exc()
            result = {"error": f"{type(exc).__name__}: {exc}"}
        result["scenario_seconds"] = round(time.monotonic() - t0, 1)
        for part in (result, *(v for v in result.values() if isinstance(v, dict))):
            if isinstance(part, dict) and part.get("profile"):
                part["profile_summary"] = summarise(Path(part["profile"]))
        record["scenarios"][name] = result
        print(f"[bench] {name} done in {result['scenario_seconds']} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    use_client(opts.client)
    logging.basicConfig(level=logging.WARNING)
    # A new consumer group's first offset commit meets "coordinator not available" while Kafka creates the group's
    # coordinator; aiokafka logs it as an ERROR and retries by itself (a real failure raises from commit()).
    logging.getLogger("aiokafka.consumer.group_coordinator").setLevel(logging.CRITICAL)
    record: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"), "argv": sys.argv[1:],
        "options": dict(vars(opts)), "machine": machine(), "revision": revision(), "note": opts.note,
        "other_load_before": other_load(), "scenarios": {},
    }
    began = time.monotonic()
    # start_infra is synchronous (it runs its own event loops), so it wraps the benchmark's loop, not the reverse.
    with infrastructure() as infra:
        record["infra_start_seconds"] = round(time.monotonic() - began, 1)
        asyncio.run(run_all(opts, infra, record))
    record["total_seconds"] = round(time.monotonic() - began, 1)
    record["other_load_after"] = other_load()
    record["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(record, indent=2, default=str))
    print()
    print(table(details(record["scenarios"]), ["scenario", "rate", "p50 ms", "p95 ms", "p99 ms", "notes"]))
    print()
    print(table(result_rows(record["scenarios"]), ["scenario", "measured", "target", "result"]))
    print(f"\nwritten: {path.relative_to(RESULTS.parents[1])} (total {record['total_seconds']} s)")
    # A missed target is a finding (the table says so), not a failure of the command; a broken scenario is.
    return 1 if any("error" in r for r in record["scenarios"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
