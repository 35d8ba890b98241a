"""Scheduled jobs of the registration service."""

from __future__ import annotations

from komerbij.registration.service.privacy import purge_participants
from komerbij.runtime.jobs import Job

JOBS = [Job("participant-purge", 3600, purge_participants)]
