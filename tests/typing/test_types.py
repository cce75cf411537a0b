"""Static typing of the public API, checked by ``mypy --strict src tests/typing``.

``assert_type`` lines fail the mypy run if an inferred type drifts. Lines marked
``# type: ignore[<code>]`` are calls mypy must reject: the project runs mypy with
``warn_unused_ignores = true``, so if mypy stopped reporting the error the ignore would become
unused and the check would fail. Pytest also runs this module: the same wrong calls are refused at
run time, before any request (the client points at Discogs, but nothing is ever sent).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, assert_type

import pytest

import musicagent
from musicagent import Discogs, InvalidParameterError, Page, PageInfo, RateLimitState, RawResponse, models


def check_results(discogs: Discogs) -> None:
    """Never called: it exists to be type-checked."""
    artist = discogs.artists.get(108713)
    assert_type(artist, models.Artist)
    assert_type(artist.id, int)
    assert_type(artist.name, str)  # identifying fields every live body carries are required
    name: str = artist.name
    assert_type(name, str)
    assert_type(discogs.releases.get(1).resource_url, str | None)  # the id identifies; Various has it empty
    assert_type(artist.realname, str | None)  # the rest stay optional: Discogs omits empty keys

    for release in discogs.artists.releases(108713):
        assert_type(release, models.ArtistRelease)
        if release.stats is not None and release.stats.community is not None:  # records: typed like models
            assert_type(release.stats, models.ItemStats)
            assert_type(release.stats.community.in_collection, int | None)
        assert_type(release.title, str)

    page = discogs.artists.releases(108713, sort="year", limit=10)
    assert_type(page, Page[models.ArtistRelease])
    assert_type(page.items, list[models.ArtistRelease])
    assert_type(page.pagination, PageInfo)
    assert_type(page.next_page(), Page[models.ArtistRelease] | None)
    assert_type(page.iter_pages(), Iterator[Page[models.ArtistRelease]])
    assert_type(page.has_next_page(), bool)

    results = discogs.search(q="x")
    assert_type(results, Page[models.SearchResult])
    for result in results:
        assert_type(result, models.SearchResult)

    assert_type(discogs.releases.rating.get(1, "a/b?c"), models.ReleaseRating)
    suggestions = discogs.marketplace.price_suggestions(1)
    assert_type(suggestions["Mint (M)"], models.Price)
    assert_type([condition for condition in suggestions], list[str])
    assert_type(discogs.inventory.exports.download(1, Path("export.csv")), Path)
    assert_type(discogs.request("GET", "/brand/new"), Any)  # decoded JSON of an unknown shape
    assert_type(discogs.last_response, RawResponse | None)
    assert_type(discogs.rate_limit, RateLimitState)
    assert_type(musicagent.__version__, str)

    with Discogs(token="t") as client:
        assert_type(client, Discogs)
        assert_type(client.artists.get(1), models.Artist)


def wrong_calls(discogs: Discogs) -> None:
    """Every line is an error mypy must report (see the module docstring)."""
    discogs.artists.get("108713")  # type: ignore[arg-type]
    discogs.artists.get(1.5)  # type: ignore[arg-type]
    discogs.artists.releases(1, sort="popularity")  # type: ignore[arg-type]
    discogs.artists.releases(1, per_page="100")  # type: ignore[arg-type]
    discogs.search(type="song")  # type: ignore[arg-type]
    discogs.releases.rating.get(1, 42)  # type: ignore[arg-type]
    discogs.artists.get(1, timeout="5")  # type: ignore[arg-type]
    discogs.artists.get(1, colour="red")  # type: ignore[call-arg]
    Discogs(token=123)  # type: ignore[arg-type]
    Discogs(rate_limit=(60, "60"))  # type: ignore[arg-type]
    Discogs(tokn="t")  # type: ignore[arg-type]  # a misspelt keyword: nothing fits `**unknown: Never`
    musicagent.enable_logging("LOUD")  # type: ignore[arg-type]
    # Not a static error, as bool is a subtype of int for type checkers: only run time refuses it.
    discogs.artists.get(True)


def test_the_wrong_calls_are_also_refused_at_run_time() -> None:
    discogs = Discogs(rate_limit=None, max_retries=0)
    with pytest.raises(InvalidParameterError, match=r"^artist_id: "):
        discogs.artists.get("108713")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"^sort: "):
        discogs.artists.releases(1, sort="popularity")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"^type: "):
        discogs.search(type="song")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"^artist_id: "):
        discogs.artists.get(True)
    with pytest.raises(TypeError):
        discogs.artists.get(1, colour="red")  # type: ignore[call-arg]
