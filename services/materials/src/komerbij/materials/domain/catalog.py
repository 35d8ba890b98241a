"""The Kom erbij kit as stock: SKUs, bundles and the low-stock signal.

A bundle (the complete kit) has no stock of its own. Ordering one reserves its components, so the kit can never be
sold while a poster it contains is gone, and stock is counted in one place only. Its availability is derived: how
many complete kits the free components still make.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Sku:
    sku: str
    name: str
    description: str
    unit: str
    max_per_order: int
    quota_per_municipality: int
    low_stock_threshold: int
    components: tuple[tuple[str, int], ...] = ()

    @property
    def is_bundle(self) -> bool:
        return bool(self.components)


def physical_quantities(lines: Iterable[tuple[str, int]], catalog: Mapping[str, Sku]) -> dict[str, int]:
    """Stock an order holds, bundles expanded into components; sorted by SKU so row locks are always taken in the
    same order (two transactions locking the same rows in different orders could deadlock)."""
    totals: dict[str, int] = {}
    for sku, quantity in lines:
        item = catalog[sku]
        parts = item.components or ((sku, 1),)
        for part, per_unit in parts:
            totals[part] = totals.get(part, 0) + per_unit * quantity
    return dict(sorted(totals.items()))


def kits_available(bundle: Sku, on_hand: Mapping[str, int]) -> int:
    """How many complete bundles the free stock of the components still makes."""
    return min((on_hand.get(part, 0) // per_unit for part, per_unit in bundle.components), default=0)


def crossed_below(before: int, after: int, threshold: int) -> bool:
    """True only on the change that takes stock from at-or-above the threshold to below it: one signal per crossing,
    not one per order while stock stays low."""
    return before >= threshold > after


class UnknownSku(LookupError):
    pass
