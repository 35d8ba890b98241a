"""The `komerbij` command: development tokens, topics, dead-letter replay, parked outbox rows, and `run` (what
`make run` calls)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from komerbij.contracts import TOPICS
from komerbij.runtime.settings import DEVELOPMENT_JWT_SECRET

# The secret `make run` gives the services; local use only (production verifies RS256 tokens via JWT_JWKS_URL).
# A service refuses it unless KOMERBIJ_DEV is set, which `make run` does.
DEV_SECRET = DEVELOPMENT_JWT_SECRET


def _bootstrap(args: argparse.Namespace) -> str:
    return args.bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def cmd_token(args: argparse.Namespace) -> int:
    from komerbij.runtime.auth import issue_token

    secret = args.secret or os.environ.get("JWT_SECRET") or DEV_SECRET
    print(issue_token(secret, role=args.role, municipality=args.municipality, partner=args.partner,
                      subject=args.subject, ttl_seconds=args.ttl))
    return 0


def cmd_topics_ensure(args: argparse.Namespace) -> int:
    from komerbij.runtime.kafka import TooFewBrokers, TopicLayout, ensure_topics, topic_drift
    from komerbij.runtime.settings import TopicSettings, load_settings

    layout = TopicLayout.from_settings(load_settings(TopicSettings))
    bootstrap = _bootstrap(args)
    try:
        created = asyncio.run(ensure_topics(bootstrap, layout=layout))
    except TooFewBrokers as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(TOPICS)} topics in the registry; created now: {', '.join(created) or 'none'} "
          f"(replication factor {layout.replication_factor}, min.insync.replicas {layout.min_insync_replicas})")
    # Existing topics are not changed (more partitions would move keys; more replicas need a planned reassignment).
    for line in asyncio.run(topic_drift(bootstrap, layout)):
        print(f"warning: {line}", file=sys.stderr)
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from komerbij.runtime.deadletters import replay

    if args.topic not in TOPICS or not TOPICS[args.topic].consumed:
        known = sorted(name for name, topic in TOPICS.items() if topic.consumed)
        print(f"no dead letters for {args.topic!r}; topics with dead letters: {', '.join(known)}", file=sys.stderr)
        return 2
    report = asyncio.run(replay(_bootstrap(args), args.topic))
    for letter in report.replayed:
        print(f"replayed {letter.partition}/{letter.offset} {letter.event_type} {letter.event_id}"
              + (f" as {letter.replay_id}" if letter.replay_id != letter.event_id else "")
              + f" (group {letter.group}, {letter.error_class})")
    for letter in report.skipped:
        print(f"skipped  {letter.partition}/{letter.offset} {letter.event_type} {letter.event_id}: {letter.reason}")
    reasons = Counter(letter.reason for letter in report.skipped)
    summary = "; ".join(f"{n} {reason}" for reason, n in reasons.items())
    print(f"replayed {len(report.replayed)} dead letter(s) to {args.topic}; skipped {len(report.skipped)}"
          + (f" ({summary})" if summary else ""))
    return 0


def _database_url(args: argparse.Namespace) -> str:
    url = args.database_url or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("configuration error: DATABASE_URL: set it, or pass --database-url (the service's database)")
    return url


async def _on_database(args: argparse.Namespace, work: Callable[[Any], Awaitable[int]]) -> int:
    import asyncpg

    conn = await asyncpg.connect(_database_url(args))
    try:
        return await work(conn)
    finally:
        await conn.close()


def cmd_outbox_list_parked(args: argparse.Namespace) -> int:
    from komerbij.runtime.outbox import list_parked

    async def work(conn: Any) -> int:
        parked = await list_parked(conn)
        for row in parked:
            print(f"{row.seq}\t{row.created_at:%Y-%m-%d %H:%M:%S}\t{row.topic}\tkey {row.key}\t{row.type}\t"
                  f"{row.attempts} attempts\t{row.waiting_behind} waiting behind\t{row.last_error}")
        print(f"{len(parked)} parked outbox row(s)")
        return 0

    return asyncio.run(_on_database(args, work))


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    from komerbij.runtime.outbox import retry_parked

    if (args.seq is None) == (not args.all):
        print("give one seq, or --all", file=sys.stderr)
        return 2

    async def work(conn: Any) -> int:
        unparked = await retry_parked(conn, None if args.all else args.seq)
        if not unparked and not args.all:
            print(f"outbox row {args.seq} is not parked (see `komerbij outbox list-parked`)", file=sys.stderr)
            return 1
        print(f"unparked {len(unparked)} outbox row(s): {', '.join(map(str, unparked)) or 'none'}; "
              "the relay tries them again now")
        return 0

    return asyncio.run(_on_database(args, work))


def cmd_outbox_drop(args: argparse.Namespace) -> int:
    from komerbij.runtime.outbox import drop_parked

    async def work(conn: Any) -> int:
        dropped = await drop_parked(conn, args.seq, dropped_by=args.by or getpass.getuser(), reason=args.reason)
        if dropped is None:
            print(f"outbox row {args.seq} is not parked (see `komerbij outbox list-parked`)", file=sys.stderr)
            return 1
        print(f"dropped outbox row {dropped.seq} ({dropped.type} {dropped.id} to {dropped.topic}, key {dropped.key}); "
              f"recorded in outbox_dropped; {dropped.waiting_behind} row(s) of its key no longer wait")
        return 0

    return asyncio.run(_on_database(args, work))


def cmd_run(args: argparse.Namespace) -> int:
    from komerbij.devtools.run import main as run_main

    return run_main()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="komerbij", description="komerbij developer tools")
    p.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("token", help="print a development bearer token (HS256, $JWT_SECRET)")
    t.add_argument("--role", required=True, choices=["organiser", "moderator", "comms", "fulfilment", "admin"])
    t.add_argument("--municipality", help="CBS code, e.g. GM0363 (organisers of a municipality)")
    t.add_argument("--partner", help="partner id (organisers that are national partners)")
    t.add_argument("--subject", help="the token's subject (default dev-<role>)")
    t.add_argument("--secret", help="signing secret (default $JWT_SECRET or the local development secret)")
    t.add_argument("--ttl", type=int, default=12 * 3600, help="seconds the token is valid")
    t.set_defaults(func=cmd_token)

    topics = sub.add_parser("topics", help="Kafka topics").add_subparsers(dest="topics_command", required=True)
    topics.add_parser("ensure", help="create the registry's missing topics").set_defaults(func=cmd_topics_ensure)

    dlq = sub.add_parser("dlq", help="dead letters").add_subparsers(dest="dlq_command", required=True)
    replay = dlq.add_parser("replay", help="publish TOPIC.dlq's messages back to TOPIC, each with one effect")
    replay.add_argument("topic")
    replay.set_defaults(func=cmd_dlq_replay)

    outbox = sub.add_parser("outbox", help="outbox rows Kafka refused (the service's database: $DATABASE_URL)")
    outbox.add_argument("--database-url", help="the service's PostgreSQL DSN (default $DATABASE_URL)")
    rows = outbox.add_subparsers(dest="outbox_command", required=True)
    rows.add_parser("list-parked", help="parked rows, oldest first").set_defaults(func=cmd_outbox_list_parked)
    retry = rows.add_parser("retry", help="unpark a row (or --all) for a fresh set of attempts")
    retry.add_argument("seq", type=int, nargs="?")
    retry.add_argument("--all", action="store_true", help="every parked row")
    retry.set_defaults(func=cmd_outbox_retry)
    drop = rows.add_parser("drop", help="delete a parked row for good (an audit record stays, without payload)")
    drop.add_argument("seq", type=int)
    drop.add_argument("--reason", help="why, for the audit record")
    drop.add_argument("--by", help="who (default: the login name)")
    drop.set_defaults(func=cmd_outbox_drop)

    sub.add_parser("run", help="start the whole system locally (what `make run` does)").set_defaults(func=cmd_run)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
