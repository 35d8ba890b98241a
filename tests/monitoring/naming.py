"""The naming rules of issue 8, checked on a service's `/metrics` text.

promtool's own lint (`promtool check metrics`) covers the generic Prometheus conventions; these rules add ours:
the `komerbij_` prefix, base units for time, and no label that could carry personal data or an id.
"""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

PREFIX = "komerbij_"
# Label names that would invite unbounded or personal values.
FORBIDDEN_LABELS = re.compile(
    r"^(id|.*_id|uuid|email|e_mail|mail|phone|telephone|name|first_name|last_name|address|postcode|zip|"
    r"user|username|subject|token|ip|client_ip|path|url|query)$"
)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE)
PHONE = re.compile(r"(\+31|0031|\b0)[1-9](?:[\s-]?\d){8}\b")
LONG_NUMBER = re.compile(r"\d{6,}")  # order numbers, offsets, timestamps: unbounded
TIME_WORDS = re.compile(r"(^|_)(duration|latency|elapsed|age|time|delay|wait)(_|$)")
TIME_UNITS_NOT_BASE = re.compile(r"_(ms|milliseconds|microseconds|us|minutes|hours|days)(_|$)")


def naming_problems(exposition: str) -> list[str]:
    """Every rule broken by the metrics in `exposition` (Prometheus text format), one line each."""
    problems: list[str] = []
    families = list(text_string_to_metric_families(exposition))
    counters = {family.name for family in families if family.type == "counter"}
    for family in families:
        if family.type != "counter" and family.name in counters:
            problems.append(
                f"{family.name}: a {family.type} named like the counter {family.name}_total; in OpenMetrics both are"
                f" family {family.name} (prometheus_client refuses the pair); rename it, e.g. {family.name}_current"
            )
        # The parser strips a counter's _total from the family name; messages use the name as exported.
        name = f"{family.name}_total" if family.type == "counter" else family.name
        if not name.startswith(PREFIX):
            problems.append(f"{name}: our metrics start with {PREFIX}")
        if family.type == "counter":
            for sample in family.samples:
                if not sample.name.endswith(("_total", "_created")):
                    problems.append(f"{sample.name}: a counter's samples end in _total")
        elif name.endswith("_total"):
            problems.append(f"{name}: only counters end in _total ({family.type})")
        if TIME_UNITS_NOT_BASE.search(name):
            problems.append(f"{name}: time is measured in seconds")
        if family.type in ("histogram", "summary") and not name.endswith(("_seconds", "_bytes")):
            problems.append(f"{name}: a {family.type} is in a base unit (_seconds or _bytes)")
        if TIME_WORDS.search(name) and family.type != "counter" and not name.endswith(("_seconds", "_created")):
            problems.append(f"{name}: a duration or age is in _seconds")
        for sample in family.samples:
            for label, value in sample.labels.items():
                if label == "le" or label == "quantile":
                    continue
                if FORBIDDEN_LABELS.match(label):
                    problems.append(f"{sample.name}: label {label!r} invites ids or personal data")
                if UUID.search(value) or EMAIL.search(value) or PHONE.search(value) or LONG_NUMBER.search(value):
                    problems.append(f"{sample.name}: label {label} has an unbounded or personal value {value!r}")
    return sorted(set(problems))
