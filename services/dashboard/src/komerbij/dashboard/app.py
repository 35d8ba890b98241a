"""Wiring of the dashboard service: the one place where its routes, handlers and refreshers are put together.

`python -m komerbij.dashboard` serves; `... migrate` applies the migrations and stops; `... rebuild
[--from-scratch]` resets the read model and its consumer group for a replay from the topics (the service stopped;
see service/rebuild.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from komerbij.dashboard.entrypoints import metrics
from komerbij.dashboard.entrypoints.api import figures
from komerbij.dashboard.entrypoints.events import make_event_router
from komerbij.dashboard.entrypoints.pages import municipality, overview
from komerbij.dashboard.service.rebuild import GroupActive, rebuild
from komerbij.dashboard.settings import Settings
from komerbij.runtime import logs
from komerbij.runtime.service import ServiceSpec, migrate_only, serve
from komerbij.runtime.settings import load_settings


def build_spec(consumer_group: str = "dashboard") -> ServiceSpec:
    """The consumer group is fixed when the spec is built, hence the parameter (tests give their own)."""
    return ServiceSpec(
        name="dashboard",
        title="komerbij dashboard",
        description="The week at a glance: a read model of the other services' events, per municipality and for "
                    "the country.",
        settings_class=Settings,
        migrations_package="komerbij.dashboard.migrations",
        routers=[figures.router, municipality.router, overview.router],
        events=make_event_router(consumer_group),
        refreshers=[metrics.refresh],
        on_start=[metrics.refresh],
        default_port=8005,
    )


SPEC = build_spec()


def run_rebuild(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m komerbij.dashboard rebuild",
                                     description="Reset the read model for a replay from the topics (stop the "
                                                 "dashboard first).")
    parser.add_argument("--from-scratch", action="store_true",
                        help="forget also the rows whose events the topics no longer hold")
    args = parser.parse_args(argv)
    settings = load_settings(Settings)
    logs.configure_logging("dashboard", settings.log_level)
    spec = build_spec(settings.consumer_group)
    assert spec.events is not None
    asyncio.run(migrate_only(spec, settings))
    try:
        done = asyncio.run(rebuild(settings.database_url, settings.kafka_bootstrap_servers, settings.consumer_group,
                                   spec.events.topics, from_scratch=args.from_scratch))
    except GroupActive as exc:
        print(f"rebuild refused: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    starts = ", ".join(f"{t}[{p}]@{o}" for t, ps in done.starts.items() for p, o in ps.items())
    print(f"read model reset: {done.forgotten} rows will be made again from the topics ({starts}); kept, their "
          f"events no longer in the topics: {done.kept}. Start the dashboard to replay.")


def main() -> None:
    if sys.argv[1:2] == ["rebuild"]:
        run_rebuild(sys.argv[2:])
        return
    settings = load_settings(Settings)
    serve(build_spec(settings.consumer_group))
