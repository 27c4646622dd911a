"""Routing keys: how the central queue tells an agency's messages apart.

A key is ``<region>.<sector>.<agency-id>``, such as ``57.education.orel-school-57``, so
that a consumer binds ``57.#`` for a region, ``*.health.*`` for a sector and ``#`` for
everything (docs/queue.md). A key of another shape is served, but the sector and region
bindings miss it, and with ``mandatory`` set its messages go dead when nothing else is
bound. The sectors are listed here once; ``flask agencies new`` and ``import`` build
keys from them, ``flask agencies check`` warns about keys that do not follow them, and
docs/queue.md lists them (a test compares the two).
"""

from __future__ import annotations

# sector: (what it covers, word stems of agency names that say it, lower case)
SECTORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "education": (
        "schools, kindergartens, colleges, education offices",
        ("школ", "гимнази", "лицей", "детский сад", "колледж", "техникум", "образован"),
    ),
    "health": (
        "polyclinics, hospitals, health offices",
        ("поликлиник", "больниц", "госпитал", "диспансер", "здравоохран", "медицин"),
    ),
    "culture": (
        "libraries, museums, theatres, houses of culture",
        ("библиот", "музе", "театр", "дом культуры", "филармони"),
    ),
    "social": (
        "social protection, care homes, employment centres",
        ("социальн", "соцзащит", "пансионат", "занятости"),
    ),
    "sport": ("sports schools and centres", ("спорт", "стадион", "бассейн")),
    "transport": ("public transport and roads", ("транспорт", "автобус", "дорожн")),
    "housing": ("housing and utilities", ("жкх", "жилищ", "водоканал", "теплосет")),
    "municipal": ("city and district administrations", ("администрац", "муниципальн")),
    "regional": ("regional government bodies", ("правительств", "министерств", "губернатор")),
}


def key_for(region: str, sector: str, agency_id: str) -> str:
    return f"{region}.{sector}.{agency_id}"


def sector_from_name(name: str) -> str | None:
    """The sector an agency's name says, when it says exactly one (a sports school
    says two: then a person has to choose)."""
    name = name.lower()
    found = [sector for sector, (_what, stems) in SECTORS.items() if any(s in name for s in stems)]
    return found[0] if len(found) == 1 else None


def key_problem(key: str, region: str, agency_id: str, name: str = "") -> str | None:
    """Why the documented bindings would miss ``key``, or None when it is of the form
    ``<region>.<sector>.<agency-id>`` for this agency (whose ``name`` may say the sector,
    for the key to suggest)."""
    parts = key.split(".")
    sector = parts[1] if len(parts) == 3 and parts[1] in SECTORS else None
    better = key_for(region, sector or sector_from_name(name) or "<sector>", agency_id)
    if len(parts) != 3:
        return (
            f"{key!r} is not of the form <region>.<sector>.<agency-id>: queues bound by "
            "sector (such as *.health.*, docs/queue.md) never get its messages, and with "
            f"mandatory set they go dead; use {better!r}"
        )
    given_region, given_sector, given_id = parts
    if sector is None:
        return (
            f"{given_sector!r} is not one of the sectors ({', '.join(SECTORS)}): queues "
            f"bound by sector (docs/queue.md) never get its messages; use {better!r}"
        )
    if given_region != region:
        return (
            f"{key!r} starts with {given_region!r}, but the agency's region is {region!r}: "
            f"queues bound by region ({region}.#, docs/queue.md) never get its messages; "
            f"use {better!r}"
        )
    if given_id != agency_id:
        return (
            f"{key!r} ends with {given_id!r}, not the agency id {agency_id!r} (a copied "
            f"file?): its messages would be taken for another agency's; use {better!r}"
        )
    return None
