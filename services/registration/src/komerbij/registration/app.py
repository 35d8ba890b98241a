"""Wiring of the registration service: the one place where its routes, handlers and jobs are put together."""

from __future__ import annotations

from komerbij.contracts.events.registration import EVENTS
from komerbij.registration import demo
from komerbij.registration.entrypoints import metrics
from komerbij.registration.entrypoints.api import activities, agenda, editions, signups
from komerbij.registration.entrypoints.jobs import JOBS
from komerbij.registration.entrypoints.pages import agenda as agenda_pages
from komerbij.registration.entrypoints.pages import home, moderation, organiser, signup
from komerbij.registration.service.editions import seed_upcoming
from komerbij.registration.settings import Settings
from komerbij.runtime.service import ServiceSpec, serve

SPEC = ServiceSpec(
    name="registration",
    title="komerbij registration",
    description="Activities for the Week tegen Eenzaamheid, moderation, the public agenda and sign-ups.",
    settings_class=Settings,
    migrations_package="komerbij.registration.migrations",
    routers=[activities.router, signups.router, agenda.router, editions.router, home.router, agenda_pages.router,
             signup.router, organiser.router, moderation.router],
    publishes=list(EVENTS),
    jobs=JOBS,
    refreshers=[metrics.refresh],
    on_start=[seed_upcoming, demo.load],
    default_port=8001,
)


def main() -> None:
    serve(SPEC)
