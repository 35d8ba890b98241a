"""Tools from the machine's Debian packages (nginx, chromium), installed on demand the way promtool is.

`make test` and `make run` call `ensure(...)`: when the binary is missing and we are root on a Debian machine,
`apt-get install -y --no-install-recommends <package>` brings it. A package whose maintainer scripts would start a
system service (nginx on port 80) is installed under a policy-rc.d that says "do not start services": we run our own
servers, on our own ports, as child processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SEARCH_DIRS = (Path("/usr/bin"), Path("/usr/sbin"), Path("/usr/local/bin"), Path("/usr/local/sbin"))
_POLICY_RC = Path("/usr/sbin/policy-rc.d")
# Exit code 101 tells invoke-rc.d and deb-systemd-invoke "do not start services".
_NO_START_POLICY = "#!/bin/sh\n# komerbij: keep package installs from starting services\nexit 101\n"


class PackageMissing(RuntimeError):
    """The binary is not there and could not be installed; the message says what to do instead."""


def find_binary(name: str) -> Path | None:
    """PATH first, then the Debian locations (a minimal PATH may leave /usr/sbin out, where nginx lives)."""
    found = shutil.which(name)
    if found:
        return Path(found)
    for folder in SEARCH_DIRS:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _run(cmd: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)


def install(package: str, binary: str) -> tuple[bool, str]:
    """Install `package` unless `binary` is already there; returns (available, what happened)."""
    if find_binary(binary):
        return True, f"{binary} already installed"
    if not sys.platform.startswith("linux") or find_binary("apt-get") is None:
        return False, f"no apt-get on this machine: install {package} by hand"
    if os.geteuid() != 0:
        return False, f"not root: run `apt-get install -y {package}` as root"
    apt = str(find_binary("apt-get"))
    lock = ["-o", "DPkg::Lock::Timeout=600"]  # several sessions may install at once: wait, do not fail
    placed_policy = not _POLICY_RC.exists()
    if placed_policy:
        _POLICY_RC.write_text(_NO_START_POLICY)
        _POLICY_RC.chmod(0o755)
    try:
        print(f"installing Debian package {package!r} ...", file=sys.stderr, flush=True)
        result = _run([apt, *lock, "install", "-y", "--no-install-recommends", package], timeout=1200)
        if result.returncode != 0:  # an old package list: update once and try again
            update = _run([apt, *lock, "update"], timeout=600)
            if update.returncode != 0:
                return False, f"apt-get update failed: {update.stderr.strip()[-500:]}"
            result = _run([apt, *lock, "install", "-y", "--no-install-recommends", package], timeout=1200)
        if result.returncode != 0:
            return False, f"apt-get install {package} failed: {result.stderr.strip()[-500:]}"
    finally:
        if placed_policy:
            _POLICY_RC.unlink(missing_ok=True)
    return find_binary(binary) is not None, f"installed {package}"


def require(package: str, binary: str) -> Path:
    """The binary's path, installing its package first when possible; raises PackageMissing otherwise."""
    available, message = install(package, binary)
    found = find_binary(binary)
    if not available or found is None:
        raise PackageMissing(f"{binary} is not available: {message}")
    return found


def main(argv: list[str] | None = None) -> int:
    """`python -m komerbij.devtools.debian nginx chromium`: what `make test` runs first."""
    known = {"nginx": "nginx", "chromium": "chromium"}
    args = list(sys.argv[1:] if argv is None else argv)
    status = 0
    for package in args:
        available, message = install(package, known.get(package, package))
        print(message)
        status |= 0 if available else 1
    return status


if __name__ == "__main__":
    sys.exit(main())
