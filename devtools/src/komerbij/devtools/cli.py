"""The `komerbij` command: development tokens, topics, dead-letter replay, and `run` (what `make run` calls)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

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
    from komerbij.runtime.kafka import ensure_topics

    created = asyncio.run(ensure_topics(_bootstrap(args)))
    print(f"{len(TOPICS)} topics in the registry; created now: {', '.join(created) or 'none'}")
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from komerbij.runtime.deadletters import replay

    if args.topic not in TOPICS:
        print(f"unknown topic {args.topic!r}; known: {', '.join(sorted(TOPICS))}", file=sys.stderr)
        return 2
    count = asyncio.run(replay(_bootstrap(args), args.topic))
    print(f"replayed {count} dead letter(s) to {args.topic}")
    return 0


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
    replay = dlq.add_parser("replay", help="publish TOPIC.dlq's messages back to TOPIC")
    replay.add_argument("topic")
    replay.set_defaults(func=cmd_dlq_replay)

    sub.add_parser("run", help="start the whole system locally (what `make run` does)").set_defaults(func=cmd_run)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
