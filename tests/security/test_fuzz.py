"""Every service's OpenAPI fuzzed by schemathesis over real HTTP: no server error, no response outside the schema.

Each service runs with its whole lifespan (real Kafka, PostgreSQL, demo data) behind uvicorn; each operation gets
positive cases (valid by its schema) and negative ones (violating it), sent without a token and with a token of each
role. The run is bounded (FUZZ_MAX_EXAMPLES cases per operation and mode, derandomized so a run can be repeated)
and prints a summary. Outbound requests are held to loopback and the runtime resolves no name at all, so any feed or
webhook URL the fuzzer invents is refused, never fetched or looked up.
"""

from __future__ import annotations

import ipaddress
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance
from support.infra import Infra
from support.services import auth, settings_env

from komerbij.runtime.outbound import OutboundPolicy
from komerbij.runtime.service import ServiceSpec

from .served import served

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10"))
ROLES: dict[str, dict[str, str]] = {
    "anonymous": {},
    "organiser": auth("organiser", municipality="GM0363", subject="fuzz-organiser"),
    "partner-organiser": auth("organiser", partner="fuzz-partner", subject="fuzz-partner"),
    "moderator": auth("moderator"),
    "comms": auth("comms"),
    "fulfilment": auth("fulfilment"),
    "admin": auth("admin"),
}
# Admin passes every role check, so it reaches the deepest code; drawn more often than the others.
ROLE_DRAWS = sorted(ROLES) + ["admin"] * 3
CHECKS = [not_a_server_error, response_schema_conformance]


async def no_names(host: str, port: int) -> list[str]:
    raise OSError(f"the fuzz run resolves no host names ({host})")


def _spec(name: str) -> ServiceSpec:
    if name == "notifications":
        from komerbij.notifications.app import build_spec

        return build_spec(dispatch=False)  # nothing to send: deliveries only pile up
    module = __import__(f"komerbij.{name}.app", fromlist=["SPEC"])
    return module.SPEC


@dataclass
class Report:
    service: str
    operations: int = 0
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)  # (operation, check) -> first example
    unsatisfiable: int = 0  # operation and mode with nothing to vary (e.g. no negative case for a plain path)

    def summary(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        lines = [f"schemathesis {schemathesis.__version__} on {self.service}: {self.operations} operations, "
                 f"{self.cases} cases ({MAX_EXAMPLES} per operation and mode, positive and negative, "
                 f"{len(ROLES)} roles); responses {codes}; failures {len(self.failures)}"]
        lines += [f"  FAILED {op}: {check}\n{example}" for (op, check), example in self.failures.items()]
        if self.unsatisfiable:
            lines.append(f"  ({self.unsatisfiable} operation/mode pairs had no case to generate)")
        return "\n".join(lines)


def _fuzz_operation(operation: Any, base_url: str, session: requests.Session, report: Report) -> None:
    label = operation.label

    def one(case: Any, role: str) -> None:
        try:
            response = case.call(base_url=base_url, session=session, headers=ROLES[role], timeout=30)
        except requests.RequestException as exc:
            report.failures.setdefault((label, f"request failed: {type(exc).__name__}"), str(exc)[:500])
            return
        report.cases += 1
        report.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=ROLES[role])
        except FailureGroup as group:
            for failure in group.exceptions:
                report.failures.setdefault((label, failure.title), f"    role {role}: {str(group)[:1500]}")

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        run: Callable[[], None] = settings(
            max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
        )(given(case=operation.as_strategy(generation_mode=mode), role=st.sampled_from(ROLE_DRAWS))(one))
        try:
            run()
        except Unsatisfiable:  # e.g. nothing negative to generate for an operation without inputs
            report.unsatisfiable += 1


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")  # schemathesis' own strategies
@pytest.mark.parametrize("name", ["registration", "materials", "media", "notifications"])
def test_fuzzing_the_openapi_finds_no_server_error_and_no_response_outside_the_schema(
    infra: Infra, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = settings_env(infra, infra.new_database(f"fuzz_{name}"), LOAD_DEMO_DATA="true", LOG_LEVEL="WARNING")
    loopback_only = OutboundPolicy([ipaddress.ip_network("127.0.0.0/8")], resolver=no_names)
    report = Report(name)
    with served(_spec(name), env, outbound=loopback_only) as service, requests.Session() as session:
        schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
        for result in schema.get_all_operations():
            operation = result.ok()
            report.operations += 1
            _fuzz_operation(operation, service.url, session, report)
        ready = session.get(f"{service.url}/readyz", timeout=30)
    with capsys.disabled():
        print("\n" + report.summary())
    assert ready.status_code == 200, ready.text
    assert report.cases > 0
    assert not report.failures, report.summary()
