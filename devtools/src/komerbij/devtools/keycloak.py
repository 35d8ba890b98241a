"""Keycloak, the OpenID Connect provider people log in with, from the Maven Central distribution zip.

`deploy/keycloak/pom.xml` names the version; Maven fetches `org.keycloak:keycloak-quarkus-dist` once, it is unpacked
to ~/.cache/komerbij/keycloak-<version> and built there once (`kc.sh build`, ~15 s) for an in-memory database, so a
start only pays for the JVM (~20-30 s, ~500 MB). Every server gets an instance folder of its own (its `bin/`, `conf/`
and `data/`, the realm to import; the unpacked `lib/`, `themes/`, `providers/` are shared read-only): a `make run`
and several test sessions can run at once without touching each other's files.

The realm `komerbij` (deploy/keycloak/komerbij-realm.json) is imported at every start into the in-memory database:
the demo accounts are always as the file says, and nothing is kept between runs.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from komerbij.devtools.processes import die_with_parent, repo_root, stop_process, wait_until

REALM = "komerbij"
WEB_CLIENT = "komerbij-web"
API_CLIENT = "komerbij-api"
# The web client's secret as the realm file sets it: for this machine only (production sets OIDC_CLIENT_SECRET).
WEB_CLIENT_SECRET = "komerbij-web-local-development-secret"
DEMO_PASSWORD = "komerbij"
# The audience the realm writes into access tokens (JWT_AUDIENCE of the services)
API_AUDIENCE = "komerbij"
# Build options baked into the cached distribution; the start must name the same ones (`--optimized`).
_BUILD_OPTIONS = ["--db=dev-mem", "--health-enabled=false", "--metrics-enabled=false"]


def realm_file() -> Path:
    return repo_root() / "deploy" / "keycloak" / "komerbij-realm.json"


def keycloak_version() -> str:
    pom = (repo_root() / "deploy" / "keycloak" / "pom.xml").read_text()
    match = re.search(r"<keycloak.version>([^<]+)</keycloak.version>", pom)
    if not match:
        raise RuntimeError("deploy/keycloak/pom.xml names no keycloak.version")
    return match.group(1)


def cache_dir() -> Path:
    return Path(os.environ.get("KOMERBIJ_CACHE", Path.home() / ".cache" / "komerbij"))


def _unzip(archive: Path, target: Path) -> None:
    """zipfile drops the Unix permission bits; the scripts under bin/ need their execute bit back."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            extracted = Path(zf.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                extracted.chmod(mode)


def ensure_distribution() -> Path:
    """The unpacked, built Keycloak home; fetched with Maven and built the first time (under a file lock)."""
    version = keycloak_version()
    home = cache_dir() / f"keycloak-{version}"
    marker = home / ".komerbij-built"
    if marker.exists() and marker.read_text() == " ".join(_BUILD_OPTIONS):
        return home
    cache_dir().mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / f"keycloak-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be fetching or building the same version
        if marker.exists() and marker.read_text() == " ".join(_BUILD_OPTIONS):
            return home
        if not (home / "bin" / "kc.sh").exists():
            if shutil.which("mvn") is None:
                raise RuntimeError("Maven (mvn) is missing: install it, e.g. `apt-get install maven`")
            download = cache_dir() / f"keycloak-{version}-download"
            subprocess.run(
                ["mvn", "-q", "-B", "-f", str(repo_root() / "deploy" / "keycloak" / "pom.xml"),
                 "dependency:copy-dependencies", f"-DoutputDirectory={download}", "-DincludeScope=runtime"],
                check=True,
            )
            archive = download / f"keycloak-quarkus-dist-{version}.zip"
            staging = cache_dir() / f"keycloak-{version}-unpacking"
            shutil.rmtree(staging, ignore_errors=True)
            _unzip(archive, staging)
            shutil.rmtree(home, ignore_errors=True)
            (staging / f"keycloak-{version}").rename(home)
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(download, ignore_errors=True)
        subprocess.run([str(home / "bin" / "kc.sh"), "build", *_BUILD_OPTIONS], check=True,
                       stdout=subprocess.DEVNULL, env=_java_env())
        marker.write_text(" ".join(_BUILD_OPTIONS))
    return home


def _java_env() -> dict[str, str]:
    if shutil.which("java") is None:
        raise RuntimeError("Java is missing: install OpenJDK 17+, e.g. `apt-get install openjdk-17-jre-headless`")
    # C1 only: a server that lives minutes to hours starts much faster without the C2 compiler's warm-up work
    return {**os.environ, "JAVA_OPTS_KC_HEAP": "-Xms64m -Xmx512m", "JAVA_OPTS_APPEND": "-XX:TieredStopAtLevel=1"}


class KeycloakServer:
    """One Keycloak on 127.0.0.1:<port> with the `komerbij` realm, in its own session, stopped with its group."""

    def __init__(self, instance_dir: Path, *, port: int, management_port: int) -> None:
        self.instance_dir = instance_dir
        self.port = port
        self.management_port = management_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = instance_dir / "keycloak.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{REALM}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    def _prepare_instance(self, home: Path) -> None:
        """bin/ and conf/ copied (kc.sh finds its home through its own resolved path), the rest linked."""
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        for folder in ("bin", "conf"):
            shutil.rmtree(self.instance_dir / folder, ignore_errors=True)
            shutil.copytree(home / folder, self.instance_dir / folder, symlinks=True)
        for shared in ("lib", "themes", "providers", "version.txt"):
            link = self.instance_dir / shared
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(home / shared)
        data = self.instance_dir / "data"
        shutil.rmtree(data, ignore_errors=True)  # in-memory database: nothing of an earlier run is worth keeping
        (data / "import").mkdir(parents=True)
        shutil.copy(realm_file(), data / "import" / realm_file().name)

    def command(self) -> list[str]:
        return [
            str(self.instance_dir / "bin" / "kc.sh"), "start", "--optimized",
            "--http-enabled=true", "--http-host=127.0.0.1", f"--http-port={self.port}",
            f"--http-management-port={self.management_port}",
            "--hostname-strict=false", "--cache=local", "--import-realm", "--log=file",
            f"--log-file={self.log_path}",
        ]

    def start(self, *, timeout: float = 300.0) -> KeycloakServer:
        self.launch()
        try:
            self.wait_ready(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def launch(self) -> None:
        """Start the process without waiting: `make run` lets it boot while Kafka and the services start."""
        home = ensure_distribution()
        self._prepare_instance(home)
        env = {
            **_java_env(),
            # the master realm's admin, for the admin console on this machine only
            "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
            "KC_BOOTSTRAP_ADMIN_PASSWORD": os.environ.get("KEYCLOAK_ADMIN_PASSWORD", "admin"),
        }
        out = open(self.instance_dir / "stdout.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, env=env,
                                     cwd=self.instance_dir, start_new_session=True, preexec_fn=die_with_parent)

    def wait_ready(self, *, timeout: float = 300.0) -> None:
        """~20-30 s on a quiet machine with 2 cores; minutes when the cores are busy with other work."""
        wait_until(self.ready, timeout=timeout, interval=0.5, what=f"Keycloak on port {self.port}")

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"Keycloak exited with {self.proc.returncode}: {self.logs()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.issuer}/.well-known/openid-configuration", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def logs(self) -> str:
        parts = [p.read_text(errors="replace") for p in (self.instance_dir / "stdout.log", self.log_path)
                 if p.exists()]
        return "\n".join(parts)

    def stop(self, *, timeout: float = 30.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=timeout)
            self.proc = None

    def __enter__(self) -> KeycloakServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
