"""Wiring of the notifications service: the one place where its routes, handlers and jobs are put together."""

from __future__ import annotations

from komerbij.contracts.events.newsletter import NewsletterProgress
from komerbij.contracts.events.notifications import NotificationDelivered, NotificationFailed
from komerbij.notifications import demo
from komerbij.notifications.entrypoints import jobs, newsletter_jobs
from komerbij.notifications.entrypoints.api import deliveries, partners
from komerbij.notifications.entrypoints.events import make_event_router
from komerbij.notifications.entrypoints.pages import partners as partner_pages
from komerbij.notifications.entrypoints.pages import preferences, unsubscribe
from komerbij.notifications.settings import Settings
from komerbij.runtime.service import ServiceSpec, serve
from komerbij.runtime.settings import load_settings


def build_spec(consumer_group: str = "notifications", dispatch_interval: float = 1.0,
               dispatch: bool = True) -> ServiceSpec:
    """The consumer group and the dispatcher's pace are fixed when the spec is built, hence the parameters."""
    return ServiceSpec(
        name="notifications",
        title="komerbij notifications",
        description="Partners and participants told what concerns them, by e-mail or signed webhook.",
        settings_class=Settings,
        migrations_package="komerbij.notifications.migrations",
        routers=[partners.router, deliveries.router, unsubscribe.router, preferences.router, partner_pages.router],
        events=make_event_router(consumer_group),
        publishes=[NotificationDelivered, NotificationFailed, NewsletterProgress],
        jobs=[*jobs.jobs(dispatch_interval, dispatch=dispatch), *newsletter_jobs.jobs()],
        refreshers=[jobs.refresh_delivery_gauge],
        on_start=[jobs.register_metrics, demo.load],
        default_port=8004,
    )


SPEC = build_spec()


def main() -> None:
    settings = load_settings(Settings)
    serve(build_spec(settings.consumer_group, settings.dispatch_interval_seconds, settings.dispatch_enabled))
