"""Finding things in rendered manifests (lists of Kubernetes objects as dicts)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from komerbij.devtools import k8s

Doc = dict[str, Any]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def generated_name(docs: list[Doc], kind: str, prefix: str) -> Doc:
    """A ConfigMap by the name it was generated under (kustomize appends a content hash)."""
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].rsplit("-", 1)[0] == prefix]
    assert len(found) == 1, f"expected one {kind} generated as {prefix}, found {[d['metadata']['name'] for d in found]}"
    return found[0]


def containers(pod_spec: Doc) -> Iterator[Doc]:
    yield from pod_spec.get("initContainers", [])
    yield from pod_spec["containers"]


def each_overlay(test: Callable[..., Any]) -> Any:
    return pytest.mark.parametrize("overlay", [p.name for p in k8s.overlays()])(test)
