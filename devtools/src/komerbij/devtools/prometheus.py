"""Prometheus and promtool from the machine's Debian package, and a Prometheus server as a child process.

`make run` scrapes the local services with it and the tests check the alert rules (`promtool`) and the whole
scrape path (a real server) with it. The binaries come from Debian's `prometheus` package, installed on demand
when we are root; the package would start its own system service on port 9090, which we neither want nor leave
running. `python -m komerbij.devtools.prometheus install` is the step `make` can call.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from komerbij.devtools.processes import stop_process, wait_until

PACKAGE = "prometheus"
SEARCH_DIRS = (Path("/usr/bin"), Path("/usr/local/bin"), Path("/usr/sbin"))
_POLICY_RC = Path("/usr/sbin/policy-rc.d")
# Exit code 101 tells invoke-rc.d and deb-systemd-invoke "do not start services": the Debian way to install a
# daemon's package without running the daemon.
_NO_START_POLICY = "#!/bin/sh\n# komerbij: keep package installs from starting services\nexit 101\n"


class PrometheusMissing(RuntimeError):
    """The binary is not there and could not be installed; the message says what to do instead."""


def find_binary(name: str) -> Path | None:
    """PATH first, then the Debian locations (a minimal PATH in CI or under sudo may leave /usr/bin out)."""
    found = shutil.which(name)
    if found:
        return Path(found)
    for folder in SEARCH_DIRS:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _system_service_pids() -> set[int]:
    """Prometheus processes of the package's system service (it runs as the `prometheus` user), never ours."""
    pids: set[int] = set()
    for proc in psutil.process_iter(["pid", "name", "username"]):
        if proc.info.get("name") == "prometheus" and proc.info.get("username") == "prometheus":
            pids.add(proc.info["pid"])
    return pids


def _run_quietly(cmd: Sequence[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(list(cmd), capture_output=True, text=True, env=env, timeout=timeout, check=False)


def _stop_system_service(before: set[int]) -> list[str]:
    """Undo what the package's maintainer scripts may have started: we run our own servers, on our own ports."""
    notes: list[str] = []
    systemd_running = Path("/run/systemd/system").is_dir()
    if systemd_running and (systemctl := find_binary("systemctl")):
        result = _run_quietly([str(systemctl), "disable", "--now", f"{PACKAGE}.service"], timeout=60)
        notes.append(f"systemctl disable --now {PACKAGE}: exit {result.returncode}")
    for pid in sorted(_system_service_pids() - before):  # only processes that appeared during our install
        try:
            os.kill(pid, signal.SIGTERM)
            notes.append(f"stopped prometheus process {pid} started by the package install")
        except ProcessLookupError:
            pass
    return notes


def install(*, quiet: bool = False) -> tuple[bool, str]:
    """Install Debian's `prometheus` package if promtool is missing; returns (available, what happened)."""
    if find_binary("promtool") and find_binary("prometheus"):
        return True, "prometheus and promtool already installed"
    if not sys.platform.startswith("linux") or find_binary("apt-get") is None:
        return False, "no apt-get on this machine: install Prometheus (promtool and prometheus) by hand"
    if os.geteuid() != 0:
        return False, "not root: run `apt-get install -y prometheus` as root to get promtool and prometheus"
    apt = str(find_binary("apt-get"))
    before = _system_service_pids()
    placed_policy = not _POLICY_RC.exists()
    if placed_policy:
        _POLICY_RC.write_text(_NO_START_POLICY)
        _POLICY_RC.chmod(0o755)
    try:
        if not quiet:
            print(f"installing Debian package {PACKAGE!r} (promtool, prometheus)...", file=sys.stderr)
        lock = ["-o", "DPkg::Lock::Timeout=300"]  # several test sessions may ask at once: wait, do not fail
        update = _run_quietly([apt, *lock, "update"], timeout=600)
        if update.returncode != 0:
            return False, f"apt-get update failed: {update.stderr.strip()[-500:]}"
        result = _run_quietly([apt, *lock, "install", "-y", "--no-install-recommends", PACKAGE], timeout=900)
        if result.returncode != 0:
            return False, f"apt-get install {PACKAGE} failed: {result.stderr.strip()[-500:]}"
    finally:
        if placed_policy:
            _POLICY_RC.unlink(missing_ok=True)
        notes = _stop_system_service(before)
    available = bool(find_binary("promtool") and find_binary("prometheus"))
    return available, "; ".join([f"installed {PACKAGE}: {version() or 'version unknown'}", *notes])


def require(name: str = "promtool") -> Path:
    """The binary's path, installing the package first when possible; raises PrometheusMissing otherwise."""
    found = find_binary(name)
    if found:
        return found
    available, message = install()
    found = find_binary(name)
    if not available or found is None:
        raise PrometheusMissing(f"{name} is not available: {message}")
    return found


def version() -> str | None:
    binary = find_binary("prometheus") or find_binary("promtool")
    if binary is None:
        return None
    result = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
    lines = (result.stdout or result.stderr).splitlines()
    return lines[0].strip() if lines else None


def scrape_config(
    targets: Mapping[str, Sequence[str]],
    *,
    rule_files: Sequence[Path] = (),
    scrape_interval: str = "15s",
    evaluation_interval: str = "15s",
) -> dict[str, Any]:
    """A Prometheus configuration with one scrape job per service (job name = service name)."""
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {"job_name": job, "metrics_path": "/metrics", "static_configs": [{"targets": list(hosts)}]}
            for job, hosts in targets.items()
        ],
    }


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    """Prometheus reads YAML, and JSON is YAML: no YAML library needed to write a generated configuration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


class PrometheusServer:
    """A Prometheus server in its own session (so stopping it takes its whole process group), on a port we pick."""

    def __init__(
        self,
        config: Path,
        *,
        data_dir: Path,
        port: int = 9090,
        host: str = "127.0.0.1",
        retention: str = "2d",
        extra_args: Sequence[str] = (),
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        """`preexec_fn` runs in the child before exec, e.g. a parent-death signal so `make run` leaves no orphan."""
        self.config = config
        self.data_dir = data_dir
        self.port = port
        self.host = host
        self.retention = retention
        self.extra_args = list(extra_args)
        self.preexec_fn = preexec_fn
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            str(require("prometheus")),
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
            f"--storage.tsdb.retention.time={self.retention}",
            f"--web.listen-address={self.host}:{self.port}",
            "--web.enable-lifecycle",  # POST /-/reload after the configuration changed
            *self.extra_args,
        ]

    def start(self, *, timeout: float = 60.0) -> PrometheusServer:
        command = self.command()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir,
                                     start_new_session=True, preexec_fn=self.preexec_fn)
        wait_until(self.ready, timeout=timeout, what=f"Prometheus on port {self.port}")
        return self

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"Prometheus exited with {self.proc.returncode}: {self.logs()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def reload(self) -> None:
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; returns the `data` member, raising when Prometheus reports an error."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:  # 400/422 carry Prometheus' own explanation as JSON
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus API {path}: {body.get('error')}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's vector: [{"metric": {...}, "value": [ts, "1"]}, ...]."""
        return list(self.api("query", query=promql)["result"])

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, *, timeout: float = 30.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=timeout)
            self.proc = None

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """`install`: make sure promtool and prometheus are there (what `make test` runs first)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] != ["install"]:
        print("usage: python -m komerbij.devtools.prometheus install", file=sys.stderr)
        return 2
    available, message = install()
    print(message)
    return 0 if available else 1


if __name__ == "__main__":
    sys.exit(main())
