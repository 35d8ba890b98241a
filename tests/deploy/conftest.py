"""The Kubernetes manifests as a cluster would get them: each overlay built once per session with kustomize.

kustomize and kubeconform are built with Go on first use and cached (komerbij.devtools.k8s); without Go the tests
that need them skip loudly on a developer's machine and fail on CI, like the Prometheus tests.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from deploy.objects import Doc
from komerbij.devtools import k8s


@pytest.fixture(scope="session")
def k8s_tools() -> dict[str, Path]:
    try:
        return k8s.install()
    except k8s.ToolMissing as exc:
        message = f"!!! KUBERNETES MANIFESTS NOT VALIDATED: {exc} !!!"
        if os.environ.get("CI"):
            pytest.fail(message)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)


@pytest.fixture(scope="session")
def manifests(k8s_tools: dict[str, Path]) -> dict[str, str]:
    """Overlay name → the YAML `kustomize build` prints for it."""
    return {overlay.name: k8s.build(overlay) for overlay in k8s.overlays()}


@pytest.fixture(scope="session")
def rendered(manifests: dict[str, str]) -> dict[str, list[Doc]]:
    import yaml

    return {name: [doc for doc in yaml.safe_load_all(text) if doc] for name, text in manifests.items()}


@pytest.fixture(scope="session")
def prod(rendered: dict[str, list[Doc]]) -> list[Doc]:
    return rendered["prod"]
