"""Reading py-spy's raw (collapsed) stacks: where the sampled CPU time went, by function and by library.

`py-spy record --format raw` writes one line per distinct stack, `frame;frame;...;leaf count`, each frame
`function (path:line)`. Self time is the leaf; inclusive time counts a function once per stack it appears in.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^():]*)(?::\d+)?\)$")
# Leaf frames grouped by where their code lives: the first matching marker in the path wins.
LIBRARIES = (
    ("komerbij", "komerbij (project code)"), ("asyncpg", "asyncpg"), ("aiokafka", "aiokafka"),
    ("kafka/", "aiokafka"), ("faststream", "faststream"), ("fast_depends", "faststream"), ("pydantic", "pydantic"),
    ("starlette", "starlette/fastapi"), ("fastapi", "starlette/fastapi"), ("uvicorn", "uvicorn/h11"),
    ("h11", "uvicorn/h11"), ("httpx", "httpx/httpcore"), ("httpcore", "httpx/httpcore"),
    ("aiosmtplib", "aiosmtplib"), ("email/", "stdlib email"), ("jinja2", "jinja2"), ("prometheus", "prometheus"),
    ("logging", "logging"), ("json", "json"), ("asyncio", "asyncio event loop"), ("selectors", "asyncio event loop"),
    ("ssl", "ssl"), ("socket", "socket"), ("uuid", "uuid"),
)


def _frame(raw: str) -> tuple[str, str]:
    m = _FRAME.match(raw.strip())
    if not m:
        return raw.strip(), ""
    path = m.group("path")
    short = path.split("site-packages/")[-1].split("/src/")[-1]
    return m.group("func"), short


def library(path: str) -> str:
    for marker, name in LIBRARIES:
        if marker in path:
            return name
    return "other" if path else "native/unknown"


def summarise(path: Path, top: int = 20) -> dict[str, Any]:
    """Shares (percent of samples) of the leading functions by self and inclusive time, and of libraries by self."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    libs: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        func, where = frames[-1]
        self_time[f"{func} ({where})"] += count
        libs[library(where)] += count
        for name in {f"{f} ({w})" for f, w in frames}:
            inclusive[name] += count

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(top)] if total else []

    return {"samples": total, "file": path.name, "by_library_self_pct": share(libs),
            "top_self_pct": share(self_time), "top_inclusive_pct": share(inclusive)}


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.profile FILE.folded [FUNCTION ...]`: the summary, plus the inclusive share of each FUNCTION
    (a substring of a frame, e.g. `create_default_context` or `record_deliveries`)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    path, wanted = Path(args[0]), args[1:]
    summary = summarise(path)
    print(f"{summary['file']}: {summary['samples']} samples")
    for key in ("by_library_self_pct", "top_self_pct", "top_inclusive_pct"):
        print(f"\n{key}")
        for name, pct in summary[key]:
            print(f"  {pct:5.1f}  {name}")
    if wanted:
        counts = dict.fromkeys(wanted, 0)
        total = 0
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not count_text.isdigit():
                continue
            total += int(count_text)
            for name in wanted:
                if name in stack:
                    counts[name] += int(count_text)
        print("\ninclusive share of")
        for name, n in counts.items():
            print(f"  {100 * n / max(total, 1):5.1f}  {name}")


if __name__ == "__main__":
    main()
