"""Issue 18, validation offline: both overlays build, and every object is valid against its schema (core kinds from
kubernetes-validate's bundled schemas, CRs from the CRDs in deploy/k8s/crds, unknown fields rejected)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.objects import Doc, each_overlay, named
from komerbij.devtools import k8s


def _check(docs: list[Doc]) -> list[k8s.Verdict]:
    return k8s.kubeconform(yaml.safe_dump_all(docs, sort_keys=False))


@each_overlay
def test_every_object_of_the_overlay_is_valid_against_its_schema(
    overlay: str, manifests: dict[str, str], rendered: dict[str, list[Doc]]
) -> None:
    verdicts = k8s.kubeconform(manifests[overlay])
    bad = [f"{v.kind}/{v.name}: {v.status}: {v.message}" for v in verdicts if not v.ok]
    assert not bad, "\n".join(bad)
    # one verdict per object: none was skipped or lost on the way
    assert len(verdicts) == len(rendered[overlay])
    assert len(verdicts) > 80


def test_every_crd_version_we_use_has_a_schema(prod: list[Doc], k8s_tools: dict[str, Path]) -> None:
    folder = k8s_tools["crd schemas"]
    schemas = {p.relative_to(folder).as_posix() for p in folder.rglob("*.json")}
    used = {(d["apiVersion"], d["kind"]) for d in prod if "/" in d["apiVersion"] and "." in d["apiVersion"]}
    for api_version, kind in used:
        group, version = api_version.split("/")
        if group.endswith("k8s.io"):
            continue  # core groups (networking.k8s.io, ...)
        assert f"{group}/{kind.lower()}_{version}.json" in schemas, f"no CRD in deploy/k8s/crds for {kind}"


def _mutated(prod: list[Doc], kind: str, name: str, change: Any) -> list[Doc]:
    doc = copy.deepcopy(named(prod, kind, name))
    change(doc)
    return [doc]


@pytest.mark.parametrize(
    ("what", "kind", "name", "change"),
    [
        ("unknown field in a custom resource", "KafkaTopic", "registration.signups",
         lambda d: d["spec"].update(partitons=3)),
        ("wrong type in a custom resource", "Cluster", "registration-db",
         lambda d: d["spec"].update(instances="three")),
        ("missing required field of a custom resource", "ScaledObject", "notifications",
         lambda d: d["spec"].pop("scaleTargetRef")),
        ("unknown field deep in a custom resource", "Pooler", "media-db-pooler",
         lambda d: d["spec"]["pgbouncer"].update(pool_mode="session")),
        ("unknown field in a core object", "Deployment", "registration",
         lambda d: d["spec"]["template"]["spec"]["containers"][0].update(livenessprobe={})),
        ("wrong type in a core object", "NetworkPolicy", "media",
         lambda d: d["spec"].update(policyTypes="Egress")),
        ("an apiVersion without a schema", "KafkaUser", "notifications",
         lambda d: d.update(apiVersion="kafka.strimzi.io/v1beta2")),
    ],
)
def test_validation_rejects(what: str, kind: str, name: str, change: Any, prod: list[Doc]) -> None:
    """The schemas are strict and really used: each broken copy of a valid object is reported."""
    valid = _check([copy.deepcopy(named(prod, kind, name))])
    assert [v.status for v in valid] == ["statusValid"]
    verdicts = _check(_mutated(prod, kind, name, change))
    assert len(verdicts) == 1
    assert not verdicts[0].ok, f"{what} passed validation"


def test_strict_closes_nested_objects_but_not_the_root_or_open_maps() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {"a": {"type": "string"}}},
            "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "items": {"type": "array", "items": {"type": "object", "properties": {"b": {"type": "integer"}}}},
        },
    }
    out = k8s.strict(schema)
    assert "additionalProperties" not in out
    assert out["properties"]["spec"]["additionalProperties"] is False
    assert "additionalProperties" not in out["properties"]["config"]
    assert out["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    assert out["properties"]["items"]["items"]["additionalProperties"] is False


def test_core_schemas_are_made_standalone() -> None:
    text = '{"$id": "https://kubernetes.io/api/x", "properties": {"a": {"$ref": "/api/_definitions.json#/$defs/y"}}}'
    out = k8s.standalone_core_schema(text)
    assert "$id" not in out
    assert '"_definitions.json#/$defs/y"' in out
    assert "kubernetes.io" not in out
