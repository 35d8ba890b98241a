"""Validate the Kubernetes manifests offline: kustomize and kubeconform built with Go, and the schemas to check.

Nothing here talks to a cluster or fetches a schema at validation time:
- the tools are built once with `go install <module>@<version>` (modules from the Go module proxy, which `go`
  reaches through its own defaults) into ~/.cache/komerbij/k8s-tools/<name>-<version>/;
- the core schemas (Deployment, Service, NetworkPolicy, ...) come from the `kubernetes-validate` wheel on PyPI,
  downloaded once by pip with a pinned hash; only the folder of our Kubernetes version is kept, rewritten so that
  its `$ref`s resolve to a local `_definitions.json` instead of a URL;
- the CRD schemas (Strimzi, CloudNativePG, KEDA, Prometheus Operator) are made from the CRDs committed under
  deploy/k8s/crds/, in the strict variant that rejects unknown fields (kubeconform's `-strict` alone does not).

`python -m komerbij.devtools.k8s install` prepares all three (what `make test` runs first); `validate` builds
every overlay and checks each object; `generate [--check]` rewrites the generated manifests (komerbij.devtools.
k8s_manifests).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from komerbij.devtools.processes import repo_root

# The Kubernetes version the manifests are checked against: the oldest minor we support (the preStop `sleep`
# action the services use is GA from 1.34 on).
KUBERNETES_VERSION = "1.34.0"
# kubernetes-validate bundles the core schemas of Kubernetes 1.25 to 1.37; pinned by version and hash.
SCHEMA_WHEEL = "kubernetes-validate"
SCHEMA_WHEEL_VERSION = "1.37.0"
SCHEMA_WHEEL_SHA256 = "85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9"
# Bump when the CRD → schema conversion below changes, so cached schemas are made again.
_CONVERTER_VERSION = "1"


class ToolMissing(RuntimeError):
    """A tool or the schemas could not be prepared; the message says why and what to do."""


@dataclass(frozen=True)
class GoTool:
    name: str
    module: str
    version: str

    @property
    def folder(self) -> Path:
        return cache_dir() / "k8s-tools" / f"{self.name}-{self.version}"

    @property
    def binary(self) -> Path:
        return self.folder / self.name


# kustomize's newest release needs a newer Go than the machine's 1.26 (with GOTOOLCHAIN=local); v5.8.2 builds.
KUSTOMIZE = GoTool("kustomize", "sigs.k8s.io/kustomize/kustomize/v5", "v5.8.2")
KUBECONFORM = GoTool("kubeconform", "github.com/yannh/kubeconform/cmd/kubeconform", "v0.8.0")
TOOLS = (KUSTOMIZE, KUBECONFORM)


def cache_dir() -> Path:
    return Path(os.environ.get("KOMERBIJ_CACHE", Path.home() / ".cache" / "komerbij"))


def k8s_dir() -> Path:
    return repo_root() / "deploy" / "k8s"


def overlays() -> list[Path]:
    return sorted(p for p in (k8s_dir() / "overlays").iterdir() if (p / "kustomization.yaml").exists())


@contextmanager
def _install_lock() -> Iterator[None]:
    """Several test sessions may start at once on one machine: one prepares, the others wait and find it done."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / ".k8s-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _complete(folder: Path) -> bool:
    return (folder / ".complete").exists()


def _mark_complete(folder: Path, note: str) -> None:
    (folder / ".complete").write_text(note + "\n")


def ensure_tool(tool: GoTool) -> Path:
    """Build the tool once with the machine's Go; later calls only check the cached binary."""
    if _complete(tool.folder) and tool.binary.exists():
        return tool.binary
    with _install_lock():
        if _complete(tool.folder) and tool.binary.exists():
            return tool.binary
        return _build_tool(tool)


def _build_tool(tool: GoTool) -> Path:
    go = shutil.which("go")
    if go is None:
        raise ToolMissing(f"{tool.name}: Go is missing (needed once to build it); install Go 1.26 or newer "
                          f"(go.dev/dl), or put a {tool.name} {tool.version} binary at "
                          f"{tool.binary}")
    tool.folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(tool.folder), "CGO_ENABLED": "0"}
    result = subprocess.run([go, "install", f"{tool.module}@{tool.version}"], env=env, capture_output=True,
                            text=True, timeout=900, check=False)
    if result.returncode != 0 or not tool.binary.exists():
        raise ToolMissing(f"go install {tool.module}@{tool.version} failed: {result.stderr.strip()[-1500:]}")
    _mark_complete(tool.folder, f"{tool.module}@{tool.version}")
    return tool.binary


# --- core schemas -------------------------------------------------------------------------------------------------

def core_schema_dir() -> Path:
    return cache_dir() / "k8s-schemas" / f"kubernetes-{KUBERNETES_VERSION}-strict-{SCHEMA_WHEEL_VERSION}"


def _download_wheel(target: Path) -> Path:
    """pip fetches the wheel (hash-checked); it is data to us, so it is never installed into the venv."""
    requirements = target / "requirements.txt"
    requirements.write_text(f"{SCHEMA_WHEEL}=={SCHEMA_WHEEL_VERSION} --hash=sha256:{SCHEMA_WHEEL_SHA256}\n")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--require-hashes",
         "-r", str(requirements), "-d", str(target)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    wheels = list(target.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        raise ToolMissing(f"pip download {SCHEMA_WHEEL}=={SCHEMA_WHEEL_VERSION} failed: "
                          f"{result.stderr.strip()[-1500:]}")
    return wheels[0]


def standalone_core_schema(text: str) -> str:
    """kubernetes-validate's schemas name themselves by URL and point at `/api/_definitions.json`, which kubeconform
    would fetch; without their `$id` the reference resolves next to the file instead."""
    schema = json.loads(text)
    schema.pop("$id", None)
    return json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#')


def ensure_core_schemas() -> Path:
    target = core_schema_dir()
    if _complete(target):
        return target
    with _install_lock():
        if not _complete(target):
            _make_core_schemas(target)
    return target


def _make_core_schemas(target: Path) -> None:
    folder = f"kubernetes_validate/kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict/"
    with tempfile.TemporaryDirectory(prefix="komerbij-k8s-") as tmp:
        wheel = _download_wheel(Path(tmp))
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        with zipfile.ZipFile(wheel) as archive:
            members = [n for n in archive.namelist() if n.startswith(folder) and n.endswith(".json")]
            if not members:
                raise ToolMissing(f"{wheel.name} has no schemas for Kubernetes {KUBERNETES_VERSION}")
            for name in members:
                (staging / name.removeprefix(folder)).write_text(standalone_core_schema(archive.read(name).decode()))
    _mark_complete(staging, f"{SCHEMA_WHEEL}=={SCHEMA_WHEEL_VERSION} v{KUBERNETES_VERSION}-local-strict")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


# --- CRD schemas --------------------------------------------------------------------------------------------------

def crd_files(root: Path | None = None) -> list[Path]:
    folder = root or k8s_dir() / "crds"
    return sorted(p for p in folder.rglob("*.yaml") if p.is_file())


def _load_all(path: Path) -> Iterator[Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open() as f:
        yield from yaml.load_all(f, Loader=loader)


def strict(schema: Any, *, root: bool = True) -> Any:
    """Close every object schema below the root that lists its properties, as kubeconform's openapi2jsonschema does,
    unless it already says what to do with other fields. (The root stays open: apiVersion, kind, metadata.)"""
    if isinstance(schema, dict):
        out = {key: strict(value, root=False) for key, value in schema.items()}
        if (not root and "properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(item, root=False) for item in schema]
    return schema


def crd_schemas(paths: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """`<group>/<kind>_<version>.json` → strict JSON schema, for every served version of every CRD."""
    out: dict[str, dict[str, Any]] = {}
    for path in paths:
        for doc in _load_all(path):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            kind = spec["names"]["kind"].lower()
            for version in spec["versions"]:
                name = f"{spec['group']}/{kind}_{version['name']}.json"
                if name in out:
                    raise ToolMissing(f"two CRDs give {name}: keep one release per operator in deploy/k8s/crds")
                out[name] = strict(version["schema"]["openAPIV3Schema"], root=True)
    return out


def crd_schema_dir() -> Path:
    """Made again whenever a CRD file or the conversion changes (the folder name carries their hash)."""
    files = crd_files()
    digest = hashlib.sha256(_CONVERTER_VERSION.encode())
    for path in files:
        digest.update(path.relative_to(k8s_dir()).as_posix().encode())
        digest.update(path.read_bytes())
    return cache_dir() / "k8s-schemas" / f"crds-{digest.hexdigest()[:16]}"


def ensure_crd_schemas() -> Path:
    target = crd_schema_dir()
    if _complete(target):
        return target
    with _install_lock():
        if not _complete(target):
            _make_crd_schemas(target)
    return target


def _make_crd_schemas(target: Path) -> None:
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    for name, schema in crd_schemas(crd_files()).items():
        path = staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema))
    _mark_complete(staging, "strict schemas of deploy/k8s/crds")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


# --- build and validate -------------------------------------------------------------------------------------------

def install() -> dict[str, Path]:
    """Everything validation needs, prepared once and cached (later calls cost a few stat() calls)."""
    return {
        "kustomize": ensure_tool(KUSTOMIZE),
        "kubeconform": ensure_tool(KUBECONFORM),
        "core schemas": ensure_core_schemas(),
        "crd schemas": ensure_crd_schemas(),
    }


def build(overlay: Path) -> str:
    """`kustomize build` of one overlay: the exact YAML a cluster would get."""
    result = subprocess.run([str(ensure_tool(KUSTOMIZE)), "build", str(overlay)], capture_output=True, text=True,
                            timeout=300, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"kustomize build {overlay} failed:\n{result.stderr}")
    return result.stdout


def render(overlay: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(build(overlay)) if doc]


@dataclass(frozen=True)
class Verdict:
    """kubeconform's answer for one object."""

    kind: str
    name: str
    status: str  # statusValid, statusInvalid, statusError, statusSkipped, statusEmpty
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "statusValid"


def kubeconform(manifests: str) -> list[Verdict]:
    """Every object against its schema, strictly; an object whose schema is missing is an error, not a skip.
    One worker: each of kubeconform's workers compiles the (large) schemas again, which costs more than it saves."""
    core = ensure_core_schemas()
    crds = ensure_crd_schemas()
    command = [
        str(ensure_tool(KUBECONFORM)), "-strict", "-summary", "-verbose", "-output", "json", "-n", "1",
        "-kubernetes-version", KUBERNETES_VERSION,
        "-schema-location", f"{core}/{{{{.ResourceKind}}}}{{{{.KindSuffix}}}}.json",
        "-schema-location", f"{crds}/{{{{.Group}}}}/{{{{.ResourceKind}}}}_{{{{.ResourceAPIVersion}}}}.json",
        "-",
    ]
    result = subprocess.run(command, input=manifests, capture_output=True, text=True, timeout=300, check=False)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"kubeconform said: {result.stdout[-2000:]} {result.stderr[-2000:]}") from None
    return [Verdict(r.get("kind", ""), r.get("name", ""), r.get("status", ""), r.get("msg", ""))
            for r in report.get("resources", [])]


def validate(paths: Sequence[Path] | None = None) -> dict[str, list[Verdict]]:
    return {path.name: kubeconform(build(path)) for path in (paths or overlays())}


def main(argv: Sequence[str] | None = None) -> int:
    """`install` | `validate` | `generate [--check]`."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[:1]
    try:
        if command == ["install"]:
            for what, path in install().items():
                print(f"{what}: {path}")
            return 0
        if command == ["validate"]:
            failed = 0
            for overlay, verdicts in validate().items():
                bad = [v for v in verdicts if not v.ok]
                failed += len(bad)
                print(f"{overlay}: {len(verdicts)} objects, {len(bad)} invalid")
                for v in bad:
                    print(f"  {v.kind}/{v.name}: {v.status}: {v.message}")
            return 1 if failed else 0
        if command == ["generate"]:
            from komerbij.devtools import k8s_manifests

            return k8s_manifests.main(args[1:])
    except ToolMissing as exc:
        print(f"k8s tools unavailable: {exc}", file=sys.stderr)
        return 1
    print("usage: python -m komerbij.devtools.k8s install | validate | generate [--check]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
