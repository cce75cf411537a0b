"""Pages of a list endpoint: iterate one to walk every item of every page.

The next page is requested by number with the same arguments, rather than by following
``pagination.urls.next``, so every request keeps the caller's options and nothing depends on how
Discogs formats its links. Iteration stops at the last page the server reports, at an empty page, or
after ``limit`` items; pages shorter than ``per_page`` (Discogs sends them) change nothing.

Page numbers advance from the number that was *requested*, not the one the body reports, so a
server that ignores ``page`` (and keeps answering page 1) cannot send iteration into a loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["Page", "PageInfo"]

I = TypeVar("I")  # noqa: E741 - the item type


def _int_or(raw: Any, name: str, default: int) -> int:
    """``raw.name`` as an int; ``default`` when missing or not a number (0 stays 0)."""
    value = getattr(raw, name, None)
    if isinstance(value, bool):
        return default
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class PageInfo:
    """The ``pagination`` block of a Discogs page."""

    page: int
    pages: int
    per_page: int
    items: int
    urls: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_body(cls, raw: Any, page: int, count: int) -> PageInfo:
        if raw is None:  # some endpoints answer a single, unpaginated list
            return cls(page=page, pages=page, per_page=count, items=count, urls={})
        # ``urls`` is a model, None, or an empty list in bodies re-serialised by PHP clients.
        urls = getattr(raw, "urls", None)
        dumped: Any = urls.model_dump() if urls is not None and hasattr(urls, "model_dump") else urls
        url_map = {k: v for k, v in dumped.items() if isinstance(v, str)} if isinstance(dumped, dict) else {}
        return cls(
            page=_int_or(raw, "page", page),
            pages=_int_or(raw, "pages", page),
            per_page=_int_or(raw, "per_page", count),
            items=_int_or(raw, "items", count),
            urls=url_map,
        )


class Page(Generic[I]):
    """One page of results plus the means to fetch the others.

    ``items`` holds this page's items, ``pagination`` its figures and ``body`` the whole validated
    response model (for fields beside the list). Iterating yields every item of this page and the
    pages after it, requesting them as needed (each iteration requests them again); ``limit``
    stops it after that many items, without requesting a page it would not use.
    """

    def __init__(
        self,
        body: Any,
        items_field: str,
        fetch: Callable[[int], Page[I]],
        *,
        limit: int | None = None,
        page_number: int = 1,
    ) -> None:
        self.body = body
        self._items_field = items_field
        self._fetch = fetch
        self._number = page_number
        self.limit = limit
        found = getattr(body, items_field, None)
        self.items: list[I] = list(found) if found is not None else []
        self.pagination = PageInfo.from_body(getattr(body, "pagination", None), page_number, len(self.items))

    def __repr__(self) -> str:
        p = self.pagination
        return f"<Page {p.page}/{p.pages} of {p.items} items, {len(self.items)} here>"

    def has_next_page(self) -> bool:
        """Whether the server reports a page after this one (an empty page is always the last)."""
        return bool(self.items) and self._number < self.pagination.pages

    def next_page(self) -> Page[I] | None:
        """The following page, fetched now, or None after the last one."""
        if not self.has_next_page():
            return None
        return self._fetch(self._number + 1)

    def iter_pages(self) -> Iterator[Page[I]]:
        """This page and every following one, fetched lazily (``limit`` does not apply)."""
        page: Page[I] | None = self
        while page is not None:
            yield page
            page = page.next_page()

    def __iter__(self) -> Iterator[I]:
        remaining = self.limit
        if remaining is not None and remaining <= 0:
            return
        for page in self.iter_pages():
            items = page.items
            if remaining is not None and len(items) >= remaining:
                yield from items[:remaining]
                return  # before the next page is requested
            yield from items
            if remaining is not None:
                remaining -= len(items)
