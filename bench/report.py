"""`python -m bench.report bench/results/<run>.json`: the run as a Markdown section for BENCHMARKS.md (date, machine,
versions, what else ran, the tables), so the record is copied from the measurement rather than retyped."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.__main__ import details
from bench.stats import result_rows, table


def section(record: dict[str, Any]) -> str:
    m, v = record["machine"], record.get("versions", {})
    o = record["options"]
    argv = list(record.get("argv", []))
    if "--note" in argv:  # the note is shown on its own
        i = argv.index("--note")
        del argv[i:i + 2]
    packages = ", ".join(f"{k} {v[k]}" for k in sorted(v) if k not in ("python", "kafka", "postgresql"))
    lines = [
        f"### Run {record['started_at']} → {record.get('finished_at', '?')} ({record.get('total_seconds', '?')} s)",
        "",
        f"- command: `{' '.join(['python -m bench', *argv])}`" + (
            f" — {record['note']}" if record.get("note") else ""),
        f"- machine: {m['cores']} cores ({m['cpu_model']}), {m['memory_gb']} GB, kernel {m['kernel']}",
        f"- versions: Python {v.get('python')}, Kafka {v.get('kafka')}, PostgreSQL {v.get('postgresql')}; {packages}",
        f"- commit: {record.get('revision', {}).get('commit', '?')[:12]}"
        + (f" (working tree differed in: {', '.join(p.strip() for p in record['revision']['dirty_paths'])})"
           if record.get("revision", {}).get("dirty_paths") else ""),
        f"- counts: {o['signups']} sign-ups over {o['activities']} activities, {o['clients']} clients; "
        f"{o['rate']:g}/s for {o['e2e_seconds']:g} s; {o['events']} events, drains bounded at "
        f"{o['drain_seconds']:g} s; "
        f"{o['orders']} orders for stock {o['stock']}",
        f"- else on the machine: load average before {record['other_load_before']['loadavg']}, after "
        f"{record.get('other_load_after', {}).get('loadavg')}; busy processes before: "
        + (", ".join(f"{b['cmd'][:60]} ({b['cpu_percent']} %)" for b in record["other_load_before"]["busy_processes"])
           or "none above 5 % CPU"),
        "",
        "```",
        table(details(record["scenarios"]), ["scenario", "rate", "p50 ms", "p95 ms", "p99 ms", "notes"]),
        "",
        table(result_rows(record["scenarios"]), ["scenario", "measured", "target", "result"]),
        "```",
    ]
    return "\n".join(lines)


def main() -> None:
    print(section(json.loads(Path(sys.argv[1]).read_text())))


if __name__ == "__main__":
    main()
