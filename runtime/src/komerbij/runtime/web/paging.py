"""Long lists in pages: which page is shown, and links to the others that keep the rest of the query (filters).

    paging = web.Paging(page=web.Paging.number(request.query_params.get("pagina")), page_size=20, total=total,
                        query={"gemeente": "Amsterdam"})
    {% import "macros/paging.html" as p %}{{ p.pagination(paging) }}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

MAX_PAGE = 10_000


@dataclass(frozen=True)
class Paging:
    page: int
    page_size: int
    total: int
    query: Mapping[str, str] = field(default_factory=dict)  # the other parameters, kept on every link (filters)
    param: str = "pagina"

    @staticmethod
    def number(value: str | None) -> int:
        """The page asked for in the URL; anything that is not a page number is the first page (no error page for a
        hand-edited link)."""
        try:
            page = int(value or 1)
        except ValueError:
            return 1
        return min(max(page, 1), MAX_PAGE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def first_shown(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last_shown(self) -> int:
        return min(self.offset + self.page_size, self.total)

    def href(self, page: int) -> str:
        kept = {k: v for k, v in self.query.items() if v and k != self.param}
        if page > 1:
            kept[self.param] = str(page)
        return "?" + urlencode(kept) if kept else "?"

    @property
    def shown(self) -> list[int | None]:
        """The first, the last, and the pages around this one; None where pages are left out (shown as "…")."""
        wanted = sorted({1, self.pages, *range(max(1, self.page - 2), min(self.pages, self.page + 2) + 1)})
        out: list[int | None] = []
        previous = 0
        for n in wanted:
            if previous and n - previous > 1:
                out.append(None)
            out.append(n)
            previous = n
        return out
