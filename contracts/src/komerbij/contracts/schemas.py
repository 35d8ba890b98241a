"""JSON Schemas of the event models, and the compatibility rule that keeps old consumers working.

The committed schemas under `contracts/schemas/` are the published contract. `breaking_changes(old, new)` lists what a
model change would break for a consumer written against `old`: a field removed or renamed, a type changed, an
optional field made required (or a required one added). Such a change needs a new `.v2` event type instead.

Run `python -m komerbij.contracts.schemas DIR` to (re)write the schema files after an additive change.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from komerbij.contracts.events import ALL_EVENTS, Event

Schema = dict[str, Any]


def schema_of(cls: type[Event]) -> Schema:
    schema = cls.model_json_schema(mode="validation")
    schema["$id"] = cls.TYPE
    schema["x-topic"] = cls.TOPIC
    schema["x-key"] = cls.KEY_FIELD
    return schema


def file_name(type_name: str) -> str:
    return f"{type_name}.json"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for cls in ALL_EVENTS:
        path = directory / file_name(cls.TYPE)
        path.write_text(json.dumps(schema_of(cls), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        name = node["$ref"].split("/")[-1]
        node = root.get("$defs", {})[name]
    return node


def _type_signature(node: Schema, root: Schema) -> Any:
    """A comparable description of what values a property admits (ignoring titles, defaults and descriptions)."""
    node = _resolve(node, root)
    if "anyOf" in node:
        return ("anyOf", tuple(sorted(map(repr, (_type_signature(n, root) for n in node["anyOf"])))))
    if node.get("type") == "object" and "properties" in node:
        return ("object",)
    if node.get("type") == "array":
        return ("array", _type_signature(node.get("items", {}), root))
    return (node.get("type"), node.get("format"), tuple(sorted(node.get("enum", []))), node.get("const"))


def breaking_changes(old: Schema, new: Schema, *, path: str = "", old_root: Schema | None = None,
                     new_root: Schema | None = None) -> list[str]:
    old_root = old_root or old
    new_root = new_root or new
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    problems: list[str] = []
    old_props: Schema = old.get("properties", {})
    new_props: Schema = new.get("properties", {})
    for name, old_prop in old_props.items():
        where = f"{path}{name}"
        if name not in new_props:
            problems.append(f"{where}: field removed or renamed")
            continue
        if _type_signature(old_prop, old_root) != _type_signature(new_props[name], new_root):
            problems.append(f"{where}: type changed")
            continue
        old_inner, new_inner = _resolve(old_prop, old_root), _resolve(new_props[name], new_root)
        if old_inner.get("type") == "array":
            old_inner, new_inner = _resolve(old_inner["items"], old_root), _resolve(new_inner["items"], new_root)
        if "properties" in old_inner:
            problems += breaking_changes(old_inner, new_inner, path=f"{where}.", old_root=old_root,
                                         new_root=new_root)
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        if name in old_props:
            problems.append(f"{path}{name}: optional field made required")
        else:
            problems.append(f"{path}{name}: new required field")
    return problems


if __name__ == "__main__":  # pragma: no cover - developer command
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "contracts/schemas")
    for p in write_all(target):
        print(p)
