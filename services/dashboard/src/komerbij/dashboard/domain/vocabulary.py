"""The Dutch words for the slugs the events carry. The events carry slugs only; the owning services keep these
labels too (registration's categories, materials' order statuses), and tests/dashboard checks they agree."""

from __future__ import annotations

CATEGORIES: dict[str, str] = {
    "eettafel": "Eettafel / samen eten",
    "koffie_ontmoeting": "Koffie & ontmoeting",
    "wandelen_bewegen": "Wandelen & bewegen",
    "sport_spel": "Sport & spel",
    "creatief": "Creatief / kunst & cultuur",
    "muziek": "Muziek",
    "natuur": "Natuur",
    "informatiemarkt": "Informatiemarkt",
    "themabijeenkomst": "Themabijeenkomst / training",
    "netwerkbijeenkomst": "Netwerkbijeenkomst",
    "online_telefonisch": "Online / telefonisch",
    "overig": "Overig",
}

# In the order an order moves through them; the last two end an order that was never sent.
ORDER_STATUSES: dict[str, str] = {
    "placed": "geplaatst",
    "confirmed": "bevestigd",
    "picking": "in behandeling",
    "shipped": "verzonden",
    "delivered": "geleverd",
    "rejected": "afgewezen",
    "cancelled": "geannuleerd",
}

MEDIA: dict[str, str] = {
    "tv": "tv",
    "radio": "radio",
    "print": "krant of tijdschrift",
    "online": "online",
    "social": "sociale media",
    "podcast": "podcast",
}


def category_label(slug: str) -> str:
    return CATEGORIES.get(slug, slug)
