"""A page's HTML as a small tree (the standard library's parser), so tests can ask for an element by id, tag,
class or attribute and read its text, instead of matching the markup with regular expressions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Generic, TypeVar

N = TypeVar("N")
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                  "wbr"})


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    @property
    def text(self) -> str:
        """The text inside, whitespace collapsed, as a reader meets it."""
        parts: list[str] = []

        def walk(node: Element) -> None:
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                elif child.tag not in ("script", "style"):
                    walk(child)

        walk(self)
        return " ".join("".join(parts).split())

    def iter(self) -> Iterator[Element]:
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def all(self, tag: str | None = None, *, cls: str | None = None,
            where: Callable[[Element], bool] | None = None, **attrs: str) -> list[Element]:
        """Descendants by tag, class and attributes (`data_key="tv"` is data-key)."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.iter()
                if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
                and all(e.attrs.get(k) == v for k, v in wanted.items()) and (where is None or where(e))]

    def one(self, tag: str | None = None, **kwargs: object) -> Element:
        found = self.all(tag, **kwargs)  # type: ignore[arg-type]
        assert len(found) == 1, f"expected one <{tag or '*'}> {kwargs}, found {len(found)}"
        return found[0]

    def by_id(self, element_id: str) -> Element:
        return self.one(id=element_id)


class _Builder(HTMLParser, Generic[N]):
    def __init__(self, make: Callable[[str, dict[str, str]], N]) -> None:
        super().__init__(convert_charrefs=True)
        self.make = make
        self.root = make("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = self.make(tag, {k: v if v is not None else "" for k, v in attrs})
        self.stack[-1].children.append(element)  # type: ignore[attr-defined]
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(self.make(tag, {k: v if v is not None else "" for k, v in attrs}))  # type: ignore[attr-defined]

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:  # type: ignore[attr-defined]
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)  # type: ignore[attr-defined]


def parse(html: str) -> Element:
    return build(html, Element)


def build(html: str, make: Callable[[str, dict[str, str]], N]) -> N:
    """The tree of `html` in nodes of the caller's own kind (a dataclass with `tag`, `attrs` and `children`)."""
    builder = _Builder(make)
    builder.feed(html)
    builder.close()
    return builder.root


def field_error(doc: Element, name: str) -> str | None:
    """The message the form macros put at the input named `name` (its id is veld-<name>), or None."""
    element_id = "veld-" + name.replace(".", "-").replace("_", "-")
    found = doc.all(id=f"{element_id}-fout")
    if not found:
        return None
    target = doc.by_id(element_id)
    assert f"{element_id}-fout" in (target.get("aria-describedby") or ""), "the input names its message"
    return found[0].text.removeprefix("Fout: ")
