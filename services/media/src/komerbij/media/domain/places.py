"""Which municipalities a mention is about, from the names and aliases in the shared municipality list.

Most names are unmistakable and match case- and accent-insensitively as whole words. Some are also ordinary Dutch
words ("de beste week", "goes", "kampen met eenzaamheid", "de buren"): those need the capitalised name as a whole
word, and a capital at the start of a sentence proves nothing, so there they do not count. Longer names win over the
shorter names inside them ("Bergen op Zoom" is not "Bergen"), and a name shared by two municipalities (Bergen in
Noord-Holland and in Limburg) links only in its official, qualified form.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from komerbij.runtime.reference import Municipality, municipalities

# Names that are also ordinary Dutch words (or a word form): the explicit list the matching rule hinges on.
ORDINARY_WORD_NAMES = frozenset({
    "Assen", "Beek", "Bergen", "Best", "Buren", "Delft", "Duiven", "Ede", "Epe", "Goes", "Gouda", "Hoorn", "Houten",
    "Huizen", "Hulst", "Kampen", "Laren", "Leiden", "Losser", "Putten", "Sluis", "Stein", "Voorst", "Waterland",
    "Weert", "Westland", "Zundert",
})
_QUALIFIER = re.compile(r"\s*\([^)]*\)\s*$")
_SENTENCE_END = re.compile(r"(^|[.!?:;…\n])[\s\"'“”‘’«»(\[\-–—]*$")


@dataclass(frozen=True)
class _Name:
    text: str
    code: str
    ordinary: bool
    regex: re.Pattern[str]


def _strip_accents(text: str) -> str:
    """Accent-free but case-preserving (unlike `fold`), so capitals still tell a place from a word."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _variants(m: Municipality) -> set[str]:
    names = {m.name, *m.aliases}
    short = _QUALIFIER.sub("", m.name)  # "Hengelo (O.)" → "Hengelo"
    names.add(short)
    if "," in short:  # "Nuenen, Gerwen en Nederwetten" → "Nuenen"
        names.add(short.split(",")[0])
    return {n.strip() for n in names if n.strip()}


@cache
def _names() -> tuple[_Name, ...]:
    codes_by_name: dict[str, set[str]] = defaultdict(set)
    for m in municipalities().values():
        for variant in _variants(m):
            codes_by_name[_strip_accents(variant)].add(m.code)
    names = []
    for text, codes in codes_by_name.items():
        if len(codes) != 1:
            continue  # shared by two municipalities: only the qualified official names can link
        ordinary = text in ORDINARY_WORD_NAMES
        body = r"[\s\-]+".join(re.escape(w) for w in re.split(r"[\s\-]+", text))
        flags = 0 if ordinary else re.IGNORECASE
        names.append(_Name(text, codes.pop(), ordinary, re.compile(rf"(?<!\w){body}(?!\w)", flags)))
    return tuple(sorted(names, key=lambda n: -len(n.text)))


def _at_sentence_start(text: str, start: int) -> bool:
    return bool(_SENTENCE_END.search(text[:start]))


def link_municipalities(*texts: str | None) -> list[str]:
    """CBS codes of the municipalities named in the texts (each text starts a sentence), sorted."""
    found: set[str] = set()
    for raw in texts:
        if not raw:
            continue
        text = _strip_accents(raw)
        taken: list[tuple[int, int]] = []
        for name in _names():
            for match in name.regex.finditer(text):
                start, end = match.span()
                if any(start < e and s < end for s, e in taken):
                    continue
                if name.ordinary and _at_sentence_start(text, start):
                    continue
                taken.append((start, end))
                found.add(name.code)
    return sorted(found)


def provinces_of(codes: list[str], outlet_province: str | None, outlet_municipality: str | None) -> list[str]:
    """The provinces a mention concerns: its outlet's region and the provinces of the places it names."""
    found = {outlet_province} if outlet_province else set()
    for code in [*codes, outlet_municipality]:
        m = municipalities().get(code) if code else None
        if m is not None:
            found.add(m.province)
    return sorted(found)
