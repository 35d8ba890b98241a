"""Municipalities as people type them: names (or CBS codes) in one text field, and back again.

A preferences form lists municipalities as "Amsterdam, Utrecht" rather than as 342 checkboxes; the subscription keeps
CBS codes, as the API does.
"""

from __future__ import annotations

import re
from functools import cache

from komerbij.runtime import reference

_SEPARATORS = re.compile(r"[,;\n]+")
_CODE = re.compile(r"^GM\d{4}$", re.IGNORECASE)


@cache
def _by_name() -> dict[str, str]:
    """Folded name or alias → CBS code."""
    found: dict[str, str] = {}
    for code, municipality in reference.municipalities().items():
        for name in municipality.names:
            found.setdefault(reference.fold(name.strip()), code)
    return found


def municipality_codes(text: str) -> tuple[list[str], list[str]]:
    """(the CBS codes of the municipalities named, in order and without doubles; the parts that name none)."""
    codes: list[str] = []
    unknown: list[str] = []
    for part in (p.strip() for p in _SEPARATORS.split(text or "")):
        if not part:
            continue
        code = part.upper() if _CODE.match(part) and reference.municipality(part.upper()) else None
        code = code or _by_name().get(reference.fold(part))
        if code is None:
            unknown.append(part)
        elif code not in codes:
            codes.append(code)
    return codes, unknown


def municipality_names(codes: list[str]) -> str:
    """The text a form shows for `codes`: "Amsterdam, Utrecht" (an unknown code as it is)."""
    names = []
    for code in codes:
        found = reference.municipality(code)
        names.append(found.name if found else code)
    return ", ".join(names)
