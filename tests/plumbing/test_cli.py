"""The `komerbij` command: development tokens. ("topics ensure" is proven in test_kafka_broker.py, on a broker that
has none of the registry's topics yet.)"""

from __future__ import annotations

import subprocess
import sys

import jwt

from komerbij.devtools.cli import DEV_SECRET


def komerbij(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "komerbij.devtools.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_token_prints_a_development_token_services_accept() -> None:
    result = komerbij("token", "--role", "organiser", "--municipality", "GM0363")
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), DEV_SECRET, algorithms=["HS256"])
    assert (claims["role"], claims["municipality"]) == ("organiser", "GM0363")
    assert komerbij("token", "--role", "emperor").returncode == 2
