"""What a visitor of the public agenda can ask for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from komerbij.runtime.reference import fold


@dataclass(frozen=True)
class AgendaFilter:
    municipality: str | None = None
    province: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    category: str | None = None
    target_group: str | None = None
    online: bool | None = None
    q: str | None = None
    page: int = 1
    page_size: int = 20

    @property
    def terms(self) -> list[str]:
        """Every word must occur, case- and accent-insensitively ("cafe" finds "Café")."""
        return fold(self.q).split() if self.q else []

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def search_text(title: str, description: str) -> str:
    return fold(f"{title}\n{description}")
