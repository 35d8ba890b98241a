"""The front door: nginx from the machine's packages, routing one address to the four services.

`deploy/frontdoor/routes.yaml` says which service owns which path; `nginx_config()` turns it into an nginx
configuration, for `make run` and the tests (127.0.0.1, a run folder of its own for pid, logs and temp files) and for
docker compose (`python -m komerbij.devtools.frontdoor compose` rewrites deploy/nginx/komerbij.conf; a test keeps
the committed file equal to what this writes). `FrontDoor` runs nginx as a child process, like the other servers of
`make run`, and installs Debian's `nginx` package first when it is missing and we are root.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from komerbij.devtools import debian
from komerbij.devtools.processes import die_with_parent, repo_root, stop_process, wait_until

COMPOSE_CONFIG = Path("deploy") / "nginx" / "komerbij.conf"


@dataclass(frozen=True)
class ServiceRoute:
    port: int
    max_body: str


@dataclass(frozen=True)
class Routes:
    services: dict[str, ServiceRoute]
    api_prefix: str
    pages: dict[str, tuple[str, ...]]

    def owner(self, path: str) -> str:
        """The service nginx sends `path` to (longest page prefix; /api/<service>/ to that service)."""
        api = f"{self.api_prefix}/"
        if path.startswith(api):
            name = path[len(api):].split("/", 1)[0]
            if name in self.services:
                return name
        best, owner = -1, ""
        for service, prefixes in self.pages.items():
            for prefix in prefixes:
                hit = prefix == "/" or path == prefix or path.startswith(prefix + "/")
                if hit and len(prefix) > best:
                    best, owner = len(prefix), service
        return owner


def load_routes(path: Path | None = None) -> Routes:
    data = yaml.safe_load((path or repo_root() / "deploy" / "frontdoor" / "routes.yaml").read_text())
    services = {name: ServiceRoute(int(v["port"]), str(v["max_body"])) for name, v in data["services"].items()}
    pages = {name: tuple(prefixes) for name, prefixes in data["pages"].items()}
    unknown = set(pages) - set(services)
    if unknown:
        raise ValueError(f"routes.yaml: pages for unknown services {sorted(unknown)}")
    claimed = [p for prefixes in pages.values() for p in prefixes]
    if len(claimed) != len(set(claimed)):
        raise ValueError("routes.yaml: a page prefix is claimed twice")
    return Routes(services, str(data["api_prefix"]).rstrip("/"), pages)


_UNAVAILABLE = ("<!doctype html><html lang=\"nl\"><meta charset=\"utf-8\"><title>Even niet bereikbaar</title>"
                "<h1>Even niet bereikbaar</h1><p>Dit deel van de website is er nu even niet. Probeer het over een "
                "paar minuten nog eens.</p></html>")
_TOO_LARGE = ('{"type":"about:blank","title":"Verzoek te groot","status":413,'
              '"detail":"The request body is larger than this route accepts."}')


def nginx_config(routes: Routes, *, listen: str, upstreams: Mapping[str, str], run_dir: Path | None = None) -> str:
    """An nginx.conf for the front door. `upstreams`: service name -> host:port. With `run_dir` (make run, tests)
    pid, logs and temp files go there; without (compose) nginx keeps its defaults and logs to stdout/stderr."""
    lines = ["# Written by komerbij.devtools.frontdoor from deploy/frontdoor/routes.yaml: edit that, not this file.",
             "worker_processes 1;"]
    if run_dir is not None:
        lines += [f"pid {run_dir / 'nginx.pid'};", f"error_log {run_dir / 'error.log'} warn;"]
    else:
        lines += ["pid /tmp/nginx.pid;", "error_log /dev/stderr warn;"]
    lines += ["events { worker_connections 512; }", "", "http {"]
    body: list[str] = []
    if run_dir is not None:
        body += [f"access_log {run_dir / 'access.log'};"]
        body += [f"{kind}_temp_path {run_dir / 'temp' / kind};"
                 for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")]
    else:
        body += ["access_log /dev/stdout;"]
    body += [
        "server_tokens off;",
        "default_type application/octet-stream;",
        "client_max_body_size 1m;",
        "gzip on;",
        "gzip_types text/css application/javascript application/json application/problem+json image/svg+xml "
        "text/calendar text/csv;",
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "proxy_set_header Host $http_host;",
        "proxy_set_header X-Forwarded-Host $http_host;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_redirect off;",
        "proxy_read_timeout 120s;",
        "",
    ]
    for name in routes.services:
        body += [f"upstream {name} {{ server {upstreams[name]}; keepalive 8; }}"]
    body += ["", "server {", f"    listen {listen};", "    error_page 413 @too_large;",
             "    error_page 502 503 504 =503 @unavailable;"]
    # The services' operational routes are for Prometheus and the orchestrator on the services' own ports, not for
    # the public (the page prefix "/" would otherwise reach registration's); a regex location wins over prefixes.
    body += ["    location ~ ^/(metrics|healthz|readyz|docs|redoc|openapi\\.json|asyncapi)(/|$) { return 404; }"]
    for name, route in routes.services.items():
        api = f"{routes.api_prefix}/{name}"
        body += [
            f"    location {api}/ {{ client_max_body_size {route.max_body}; proxy_pass http://{name}/; }}",
            f"    location = {api}/metrics {{ return 404; }}",
        ]
    for name, prefixes in routes.pages.items():
        size = routes.services[name].max_body
        for prefix in prefixes:
            if prefix == "/":
                body += [f"    location / {{ client_max_body_size {size}; proxy_pass http://{name}; }}"]
            else:
                body += [f"    location = {prefix} {{ client_max_body_size {size}; proxy_pass http://{name}; }}",
                         f"    location {prefix}/ {{ client_max_body_size {size}; proxy_pass http://{name}; }}"]
    body += [
        "    location @too_large {",
        "        default_type application/problem+json;",
        f"        return 413 '{_TOO_LARGE}';",
        "    }",
        "    location @unavailable {",
        "        default_type text/html;",
        f"        return 503 '{_UNAVAILABLE}';",
        "    }",
        "}",
    ]
    lines += [f"    {line}" if line else "" for line in body]
    lines += ["}", ""]
    return "\n".join(lines)


def compose_config() -> str:
    """deploy/nginx/komerbij.conf: the same routes inside docker compose (services by their compose names)."""
    routes = load_routes()
    return nginx_config(routes, listen="8000",
                        upstreams={name: f"{name}:{r.port}" for name, r in routes.services.items()})


class FrontDoor:
    """nginx on 127.0.0.1:<port> as a child process in its own session, with everything it writes under run_dir."""

    def __init__(self, run_dir: Path, *, port: int, upstreams: Mapping[str, int], routes: Routes | None = None):
        self.run_dir = run_dir
        self.port = port
        self.routes = routes or load_routes()
        self.upstreams = {name: f"127.0.0.1:{p}" for name, p in upstreams.items()}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.run_dir / "temp" / kind).mkdir(parents=True, exist_ok=True)
        (self.run_dir / "temp").chmod(0o755)
        config = self.run_dir / "nginx.conf"
        config.write_text(nginx_config(self.routes, listen=f"127.0.0.1:{self.port}", upstreams=self.upstreams,
                                       run_dir=self.run_dir))
        return config

    def start(self, *, timeout: float = 30.0) -> FrontDoor:
        nginx = debian.require("nginx", "nginx")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.write_config()
        check = subprocess.run([str(nginx), "-t", "-q", "-p", str(self.run_dir), "-e", str(self.run_dir / "error.log"),
                                "-c", str(config)], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejects {config}: {check.stderr.strip()}")
        out = open(self.run_dir / "stdout.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [str(nginx), "-p", str(self.run_dir), "-e", str(self.run_dir / "error.log"), "-c", str(config),
             "-g", "daemon off;"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent,
        )
        wait_until(self.ready, timeout=timeout, what=f"nginx on port {self.port}")
        return self

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {self.proc.returncode}: {self.logs()[-2000:]}")
        try:  # any answer from nginx itself will do (the services may still be starting)
            with urllib.request.urlopen(f"{self.url}/api/none/healthz", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            return False

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in (self.run_dir / "error.log",
                                                                   self.run_dir / "stdout.log") if p.exists())

    def stop(self, *, timeout: float = 15.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=timeout)
            self.proc = None

    def __enter__(self) -> FrontDoor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """`compose`: rewrite deploy/nginx/komerbij.conf from routes.yaml."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] != ["compose"]:
        print("usage: python -m komerbij.devtools.frontdoor compose", file=sys.stderr)
        return 2
    target = repo_root() / COMPOSE_CONFIG
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(compose_config())
    print(f"wrote {COMPOSE_CONFIG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
