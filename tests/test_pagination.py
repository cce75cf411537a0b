"""Pages: a list method returns a Page; iterating it walks every item of every page.

Exercised against a local server serving a synthetic ``/artists/{id}/releases`` (see _sdk_server.py),
so the request counts prove what was and was not fetched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _clients import FLAVORS, is_page, make_client
from _sdk_server import TOTAL, DiscogsServer, Reply, Seen, release_item

from musicagent import Discogs, InvalidParameterError, Page, PageInfo, models


@pytest.fixture
def server() -> Iterator[DiscogsServer]:
    with DiscogsServer() as s:
        yield s


@pytest.fixture(params=FLAVORS)
def discogs(server: DiscogsServer, request: pytest.FixtureRequest) -> Iterator[Discogs]:
    """Both clients: ``AsyncDiscogs`` behind the sync API (tests/_clients.py), its pages awaited/async-for'd."""
    client = make_client(request.param, base_url=server.url, rate_limit=None, max_retries=0)
    yield client
    client.close()


def test_a_list_method_returns_the_first_page_with_its_figures(discogs: Discogs, server: DiscogsServer) -> None:
    page = discogs.artists.releases(1)

    assert is_page(page)
    assert [r.id for r in page.items] == list(range(1, 101))
    assert all(isinstance(r, models.ArtistRelease) for r in page.items)
    assert page.pagination == PageInfo(
        page=1,
        pages=3,
        per_page=100,
        items=TOTAL,
        urls={"next": "https://api.discogs.com/artists/1/releases?page=2"},
    )
    assert isinstance(page.body, models.ArtistReleasesPage)
    assert len(server.requests) == 1  # only the first page so far
    assert server.requests[0].query["per_page"] == "100"
    assert "1/3" in repr(page)


def test_iterating_walks_every_item_of_every_page_with_per_page_100(discogs: Discogs, server: DiscogsServer) -> None:
    releases = list(discogs.artists.releases(1))

    assert [r.id for r in releases] == list(range(1, TOTAL + 1))
    assert all(isinstance(r, models.ArtistRelease) for r in releases)
    assert server.pages_requested() == [1, 2, 3]
    assert {r.query["per_page"] for r in server.requests} == {"100"}


def test_an_explicit_per_page_is_kept_on_every_page(discogs: Discogs, server: DiscogsServer) -> None:
    releases = list(discogs.artists.releases(1, per_page=30))

    assert len(releases) == TOTAL
    assert server.pages_requested() == list(range(1, 10))
    assert {r.query["per_page"] for r in server.requests} == {"30"}


@pytest.mark.parametrize(("limit", "pages"), [(1, [1]), (99, [1]), (100, [1]), (101, [1, 2]), (250, [1, 2, 3])])
def test_limit_stops_early_without_fetching_a_page_it_does_not_need(
    discogs: Discogs, server: DiscogsServer, limit: int, pages: list[int]
) -> None:
    releases = list(discogs.artists.releases(1, limit=limit))

    assert [r.id for r in releases] == list(range(1, limit + 1))
    assert server.pages_requested() == pages


def test_limit_larger_than_the_collection_yields_everything(discogs: Discogs, server: DiscogsServer) -> None:
    assert len(list(discogs.artists.releases(1, limit=1000))) == TOTAL
    assert server.pages_requested() == [1, 2, 3]


def test_a_small_limit_asks_for_a_small_page(discogs: Discogs, server: DiscogsServer) -> None:
    assert [r.id for r in discogs.artists.releases(1, limit=5)] == [1, 2, 3, 4, 5]
    assert server.requests[0].query["per_page"] == "5"


def test_pages_shorter_than_per_page_do_not_end_iteration(discogs: Discogs, server: DiscogsServer) -> None:
    first = discogs.artists.releases(2)
    assert len(first.items) == 97 and first.has_next_page()

    ids = [r.id for r in first]

    assert ids == [*range(1, 98), *range(101, 198), *range(201, 251)]
    assert server.pages_requested() == [1, 2, 3]


def test_an_empty_page_ends_iteration_even_if_more_pages_are_claimed(discogs: Discogs, server: DiscogsServer) -> None:
    releases = list(discogs.artists.releases(3))

    assert [r.id for r in releases] == list(range(1, 101))
    assert server.pages_requested() == [1, 2]


def test_an_empty_collection(discogs: Discogs, server: DiscogsServer) -> None:
    page = discogs.artists.releases(4)

    assert page.items == []
    assert not page.has_next_page()
    assert page.next_page() is None
    assert list(page) == []
    assert len(server.requests) == 1


def test_next_page_and_has_next_page(discogs: Discogs, server: DiscogsServer) -> None:
    first = discogs.artists.releases(1)
    second = first.next_page()
    assert second is not None
    third = second.next_page()
    assert third is not None

    assert second.pagination.page == 2 and [r.id for r in second.items] == list(range(101, 201))
    assert third.pagination.page == 3 and [r.id for r in third.items] == list(range(201, 251))
    assert first.has_next_page() and second.has_next_page()
    assert not third.has_next_page()
    assert third.next_page() is None
    assert server.pages_requested() == [1, 2, 3]


def test_iter_pages_yields_this_page_and_the_following_ones(discogs: Discogs, server: DiscogsServer) -> None:
    pages = list(discogs.artists.releases(1).iter_pages())

    assert [p.pagination.page for p in pages] == [1, 2, 3]
    assert [len(p.items) for p in pages] == [100, 100, 50]
    assert server.pages_requested() == [1, 2, 3]


def test_iterating_from_a_later_page_starts_there(discogs: Discogs, server: DiscogsServer) -> None:
    releases = list(discogs.artists.releases(1, page=2))

    assert [r.id for r in releases] == list(range(101, TOTAL + 1))
    assert server.pages_requested() == [2, 3]


def test_following_pages_keep_the_query_and_per_call_options(discogs: Discogs, server: DiscogsServer) -> None:
    list(discogs.artists.releases(1, sort="year", sort_order="desc", extra_headers={"X-Trace": "abc"}))

    assert len(server.requests) == 3
    for seen in server.requests:
        assert seen.query["sort"] == "year" and seen.query["sort_order"] == "desc"
        assert seen.headers["X-Trace"] == "abc"


def test_each_iteration_walks_from_the_start_again(discogs: Discogs) -> None:
    page = discogs.artists.releases(1, limit=150)

    assert [r.id for r in page] == [r.id for r in page] == list(range(1, 151))


def test_a_server_that_ignores_the_page_parameter_cannot_loop_forever(discogs: Discogs, server: DiscogsServer) -> None:
    def always_page_one(seen: Seen) -> Reply:
        body = {
            "pagination": {"page": 1, "pages": 3, "per_page": 2, "items": 6, "urls": {}},
            "releases": [release_item(1), release_item(2)],
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    server.routes["/artists/9/releases"] = always_page_one

    releases = list(discogs.artists.releases(9))

    assert len(releases) == 6
    assert server.pages_requested() == [1, 2, 3]


def test_pagination_urls_sent_as_an_empty_list_are_accepted(discogs: Discogs, server: DiscogsServer) -> None:
    """Bodies re-serialised by PHP clients carry ``"urls": []``."""

    def php_style(seen: Seen) -> Reply:
        body = {
            "pagination": {"page": 1, "pages": 1, "per_page": 50, "items": 1, "urls": []},
            "releases": [release_item(7)],
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    server.routes["/artists/9/releases"] = php_style

    page = discogs.artists.releases(9)

    assert page.pagination.urls == {}
    assert [r.id for r in page] == [7]


def test_search_returns_a_page_of_search_results(discogs: Discogs, server: DiscogsServer) -> None:
    page = discogs.search(q="nirvana", type="release")

    results = list(page)
    assert len(results) == 7 and all(isinstance(r, models.SearchResult) for r in results)
    assert server.requests[0].query == {"q": "nirvana", "type": "release", "per_page": "100"}


def test_an_invalid_limit_is_refused_before_any_request(discogs: Discogs, server: DiscogsServer) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        discogs.artists.releases(1, limit=0)
    assert caught.value.parameter == "limit"
    assert server.requests == []


# -- Page and PageInfo on their own -------------------------------------------------------------------


class _Body:
    def __init__(self, items: list[int], pagination: Any = None) -> None:
        self.things = items
        self.pagination = pagination


class _Pagination:
    def __init__(self, page: int, pages: int, per_page: int, items: int, urls: Any = None) -> None:
        self.page, self.pages, self.per_page, self.items, self.urls = page, pages, per_page, items, urls


def _book(pages: list[list[int]], calls: list[int], *, limit: int | None = None) -> Page[int]:
    """A Page over in-memory pages; ``calls`` records every fetch."""

    def fetch(number: int) -> Page[int]:
        calls.append(number)
        return make(number)

    def make(number: int) -> Page[int]:
        body = _Body(pages[number - 1], _Pagination(number, len(pages), 3, sum(map(len, pages))))
        return Page(body, "things", fetch, limit=limit, page_number=number)

    return make(1)


def test_limit_ending_inside_a_page_stops_there() -> None:
    calls: list[int] = []
    assert list(_book([[1, 2, 3], [4, 5, 6]], calls, limit=2)) == [1, 2]
    assert calls == []


def test_a_non_positive_limit_yields_nothing() -> None:
    calls: list[int] = []
    assert list(_book([[1, 2, 3], [4]], calls, limit=0)) == []
    assert calls == []


def test_a_partly_consumed_iteration_fetches_only_what_was_consumed() -> None:
    calls: list[int] = []
    iterator = iter(_book([[1, 2, 3], [4, 5, 6], [7]], calls))

    assert [next(iterator) for _ in range(4)] == [1, 2, 3, 4]
    assert calls == [2]


def test_a_body_without_pagination_is_a_single_page() -> None:
    def fetch(number: int) -> Page[int]:
        raise AssertionError(f"page {number} must not be fetched")

    page: Page[int] = Page(_Body([1, 2]), "things", fetch)

    assert page.pagination == PageInfo(page=1, pages=1, per_page=2, items=2, urls={})
    assert not page.has_next_page() and list(page) == [1, 2]


def test_a_body_without_the_items_field_is_an_empty_page() -> None:
    def fetch(number: int) -> Page[int]:
        raise AssertionError(f"page {number} must not be fetched")

    page: Page[int] = Page(_Body([], _Pagination(1, 4, 50, 0)), "missing", fetch)

    assert page.items == [] and list(page) == []


def test_pageinfo_keeps_real_zeros_and_tolerates_garbage() -> None:
    empty = PageInfo.from_body(_Pagination(1, 0, 50, 0), page=1, count=0)
    assert (empty.pages, empty.items, empty.per_page) == (0, 0, 50)

    odd = PageInfo.from_body(_Pagination(page="x", pages=None, per_page=True, items="12"), page=4, count=3)  # type: ignore[arg-type]
    assert (odd.page, odd.pages, odd.per_page, odd.items) == (4, 4, 3, 12)


def test_pageinfo_urls_from_a_dict_keep_only_strings() -> None:
    info = PageInfo.from_body(_Pagination(1, 2, 50, 60, {"next": "https://x/2", "prev": None}), page=1, count=50)
    assert info.urls == {"next": "https://x/2"}
