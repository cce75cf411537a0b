"""Sorting a recorded listing the way its ``sort``/``sort_order`` parameters ask.

Some clients always send a sort (discojs asks artist releases ``sort=year&sort_order=asc`` and an
inventory ``sort=listed`` even when the caller chose none), and recordings are made without one.
A listing recorded whole can be put in the asked order from its items' own fields; which field each
``sort`` value means is read from the Discogs documentation and the items' shapes. Items without
the field come last; ties keep their recorded order, which Discogs does not document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["SORT_PARAMS", "sort_field", "sorted_items"]

SORT_PARAMS = ("sort", "sort_order")
_Path = tuple[str | int, ...]
_BASIC: dict[str, _Path] = {
    "label": ("basic_information", "labels", 0, "name"),
    "artist": ("basic_information", "artists", 0, "name"),
    "title": ("basic_information", "title"),
    "catno": ("basic_information", "labels", 0, "catno"),
    "format": ("basic_information", "formats", 0, "name"),
    "rating": ("rating",),
    "added": ("date_added",),
    "year": ("basic_information", "year"),
}
# operation id -> sort value -> where in an item its key is
_FIELDS: dict[str, dict[str, _Path]] = {
    "artists.releases": {"year": ("year",), "title": ("title",), "format": ("format",)},
    "masters.versions": {
        "released": ("released",),
        "title": ("title",),
        "format": ("format",),
        "label": ("label",),
        "catno": ("catno",),
        "country": ("country",),
    },
    "marketplace.orders.list": {
        "id": ("id",),
        "buyer": ("buyer", "username"),
        "created": ("created",),
        "status": ("status",),
        "last_activity": ("last_activity",),
    },
    "users.collection.folders.releases": _BASIC,
    "users.wants.list": _BASIC,
    "users.contributions": {
        "label": ("labels", 0, "name"),
        "artist": ("artists_sort",),
        "title": ("title",),
        "catno": ("labels", 0, "catno"),
        "format": ("formats", 0, "name"),
        "rating": ("community", "rating", "average"),
        "year": ("year",),
        "added": ("date_added",),
    },
    "users.inventory": {
        "listed": ("posted",),
        "price": ("price", "value"),
        "item": ("release", "description"),
        "artist": ("release", "artist"),
        "label": ("release", "label"),
        "catno": ("release", "catalog_number"),
        "audio": ("audio",),
        "status": ("status",),
        "location": ("location",),
    },
}


def sort_field(operation: str, query: Mapping[str, tuple[str, ...]]) -> tuple[_Path, bool] | str | None:
    """(where the key is, descending) for the asked sort; None if none is asked; a str: why it cannot be."""
    by = (query.get("sort") or (None,))[-1]
    if by is None:
        return None
    order = (query.get("sort_order") or ("asc",))[-1]
    field = _FIELDS.get(operation, {}).get(by)
    if field is None or order not in ("asc", "desc"):
        return f"sorting by {by!r} {order!r} is not modelled here"
    return field, order == "desc"


def sorted_items(items: Sequence[Any], field: _Path, descending: bool) -> list[Any]:
    """``items`` by the value at ``field``; numbers before text, text without regard to case, missing last."""
    keyed: list[tuple[tuple[int, float, str], Any]] = []
    missing: list[Any] = []
    for item in items:
        value = _at(item, field)
        if value is None or value == "":
            missing.append(item)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            keyed.append(((1, 0.0, str(value).casefold()), item))
        else:
            keyed.append(((0, float(value), ""), item))
    keyed.sort(key=lambda pair: pair[0], reverse=descending)  # stable: ties keep their order either way
    return [item for _, item in keyed] + missing


def _at(item: Any, field: _Path) -> Any:
    value = item
    for step in field:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and len(value) > step else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
        if value is None:
            return None
    return value
