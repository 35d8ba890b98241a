"""Plumbing every komerbij service shares, written once: see `service.py` for how a service is put together."""
