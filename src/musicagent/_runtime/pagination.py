"""Pages of a list endpoint: iterate one to walk every item of every page.

The next page is requested by number with the same arguments, rather than by following
``pagination.urls.next``, so every request keeps the caller's options and nothing depends on how
Discogs formats its links. Iteration stops at the last page the server reports, at an empty page, or
after ``limit`` items; pages shorter than ``per_page`` (Discogs sends them) change nothing.

``Page`` (sync) and ``AsyncPage`` share everything but the fetching: the figures, when there is a
next page, and how ``limit`` cuts the items (:func:`_portion`).

Page numbers advance from the number that was *requested*, not the one the body reports, so a
server that ignores ``page`` (and keeps answering page 1) cannot send iteration into a loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["AsyncPage", "AsyncPaginator", "Page", "PageInfo", "explain_cap", "plan", "query_for"]

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
        # ``urls`` is a model or None (an empty array where Discogs means no links reads as an empty model).
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


def plan(query: dict[str, Any], limit: int | None) -> int:
    """Fill in ``per_page`` (100, or fewer when ``limit`` needs fewer) and return the first page's number."""
    if query.get("per_page") is None:
        query["per_page"] = 100 if limit is None else max(1, min(100, limit))
    return int(query.get("page") or 1)


def query_for(query: dict[str, Any], first: int, number: int) -> dict[str, Any]:
    """The query of page ``number``: the first request goes out exactly as asked (no page= unless given)."""
    return query if number == first else {**query, "page": number}


def explain_cap(exc: Any, number: int, page_cap: int | None, hint: str) -> None:
    """A 403 past the spec's page cap (``x-musicagent-page-cap``) gets the spec's explanation."""
    if page_cap is not None and number > page_cap:
        exc.message += f" (page {number}: {hint})"


def _portion(items: list[I], remaining: int | None) -> tuple[list[I], int | None]:
    """The items of one page to yield under ``limit`` and what is left of it (0: stop, fetch nothing more)."""
    if remaining is None:
        return items, None
    if len(items) >= remaining:
        return items[:remaining], 0
    return items, remaining - len(items)


class _PageBase(Generic[I]):
    """One page of results: its items, its figures, and whether another follows."""

    def __init__(self, body: Any, items_field: str, *, limit: int | None = None, page_number: int = 1) -> None:
        self.body = body
        self._number = page_number
        self.limit = limit
        found = getattr(body, items_field, None)
        self.items: list[I] = list(found) if found is not None else []
        self.pagination = PageInfo.from_body(getattr(body, "pagination", None), page_number, len(self.items))

    def __repr__(self) -> str:
        p = self.pagination
        return f"<{type(self).__name__} {p.page}/{p.pages} of {p.items} items, {len(self.items)} here>"

    def has_next_page(self) -> bool:
        """Whether the server reports a page after this one (an empty page is always the last)."""
        return bool(self.items) and self._number < self.pagination.pages


class Page(_PageBase[I]):
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
        super().__init__(body, items_field, limit=limit, page_number=page_number)
        self._fetch = fetch

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
            items, remaining = _portion(page.items, remaining)
            yield from items
            if remaining == 0:
                return  # before the next page is requested


class AsyncPage(_PageBase[I]):
    """The asyncio twin of :class:`Page`: ``await page.next_page()``, ``async for item in page``."""

    def __init__(
        self,
        body: Any,
        items_field: str,
        fetch: Callable[[int], Awaitable[AsyncPage[I]]],
        *,
        limit: int | None = None,
        page_number: int = 1,
    ) -> None:
        super().__init__(body, items_field, limit=limit, page_number=page_number)
        self._fetch = fetch

    async def next_page(self) -> AsyncPage[I] | None:
        """The following page, fetched now, or None after the last one."""
        if not self.has_next_page():
            return None
        return await self._fetch(self._number + 1)

    async def iter_pages(self) -> AsyncIterator[AsyncPage[I]]:
        """This page and every following one, fetched lazily (``limit`` does not apply)."""
        page: AsyncPage[I] | None = self
        while page is not None:
            yield page
            page = await page.next_page()

    def __aiter__(self) -> AsyncIterator[I]:
        return _walk(self, self.limit)


async def _walk(start: AsyncPage[I] | Callable[[], Awaitable[AsyncPage[I]]], limit: int | None) -> AsyncIterator[I]:
    """Every item from ``start`` on, fetching a page only when more items are wanted.

    One generator for the whole walk (not one per page or per layer): each item costs one async step.
    """
    remaining = limit
    if remaining is not None and remaining <= 0:
        return
    page: AsyncPage[I] | None = start if isinstance(start, AsyncPage) else await start()
    while page is not None:
        items, remaining = _portion(page.items, remaining)
        for item in items:
            yield item
        if remaining == 0:
            return  # before the next page is requested
        page = await page.next_page()


class AsyncPaginator(Generic[I]):
    """What an async list method returns: ``await`` it for the first :class:`AsyncPage`, or
    ``async for`` it to walk every item of every page.

    Nothing is sent until it is awaited or iterated (the arguments were checked when the method was
    called); each await or iteration sends its own requests.
    """

    __slots__ = ("_fetch", "_first", "limit")

    def __init__(self, fetch: Callable[[int], Awaitable[AsyncPage[I]]], first: int, limit: int | None) -> None:
        self._fetch = fetch
        self._first = first
        self.limit = limit

    def __repr__(self) -> str:
        return f"<AsyncPaginator from page {self._first}, limit={self.limit}>"

    def __await__(self) -> Generator[Any, None, AsyncPage[I]]:
        return self._fetch(self._first).__await__()

    async def iter_pages(self) -> AsyncIterator[AsyncPage[I]]:
        """Every page from the first, fetched lazily (``limit`` does not apply)."""
        first = await self
        async for page in first.iter_pages():
            yield page

    def __aiter__(self) -> AsyncIterator[I]:
        return _walk(lambda: self._fetch(self._first), self.limit)
