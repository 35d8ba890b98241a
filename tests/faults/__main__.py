"""`make faults` (`python -m tests.faults`): every case of the fault matrix against the running system, then the table
(fault × lost × duplicated × time to recover), printed and written to .run/faults/<time>.md and .json.

Extra arguments go to pytest, e.g. `make faults ARGS="-k sigkill"` for some of the cases.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .report import table

ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main(argv: list[str]) -> int:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / ".run" / "faults"
    out.mkdir(parents=True, exist_ok=True)
    rows_file = out / f"{stamp}.rows.json"
    os.environ["FAULTS_MATRIX"] = "full"
    os.environ["FAULTS_REPORT"] = str(rows_file)
    started, load_before = time.monotonic(), os.getloadavg()
    code = pytest.main([str(ROOT / "tests" / "faults"), "-q", *argv])
    if not rows_file.exists():
        print("faults: no case ran", file=sys.stderr)
        return int(code) or 1
    rows = json.loads(rows_file.read_text())
    run = {
        "date": stamp, "commit": _git("rev-parse", "--short", "HEAD"),
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
        "machine": f"{os.cpu_count()} cores ({_cpu()}), {platform.system()} {platform.release()}",
        "load_average_before": [round(x, 1) for x in load_before],
        "load_average_after": [round(x, 1) for x in os.getloadavg()],
        "minutes": round((time.monotonic() - started) / 60, 1), "pytest_exit": int(code), "rows": rows,
    }
    markdown = "\n".join([
        f"Run {run['date']} at {run['commit']} ({run['branch']}), {run['minutes']} min; machine: {run['machine']}; "
        f"load average before/after: {run['load_average_before']} / {run['load_average_after']}", "",
        table(rows),
    ])
    (out / f"{stamp}.json").write_text(json.dumps(run, indent=2, ensure_ascii=False))
    (out / f"{stamp}.md").write_text(markdown + "\n")
    rows_file.unlink()
    print("\n" + markdown)
    print(f"\nwritten to {out / stamp}.md and .json")
    return int(code)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
