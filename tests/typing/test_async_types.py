"""Static typing of ``AsyncDiscogs``, checked by ``mypy --strict src tests/typing`` (see test_types.py).

``assert_type`` lines fail the mypy run if an inferred type drifts: ``await discogs.artists.get(1)``
must be an ``Artist``, a list method an ``AsyncPaginator`` whose await is an ``AsyncPage`` and whose
``async for`` yields the item model. ``# type: ignore[<code>]`` lines are calls mypy must reject
(``warn_unused_ignores`` makes a missing error fail the run). Pytest also runs this module: the same
wrong calls are refused at run time, before anything is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import assert_type

import pytest

from musicagent import AsyncDiscogs, AsyncPage, AsyncPaginator, InvalidParameterError, PageInfo, models
from musicagent._runtime.core import RawResponse
from musicagent._runtime.ratelimit import RateLimitState


async def check_results(discogs: AsyncDiscogs) -> None:
    """Never called: it exists to be type-checked."""
    artist = await discogs.artists.get(108713)
    assert_type(artist, models.Artist)
    assert_type(artist.name, str)

    paginator = discogs.artists.releases(108713, sort="year", limit=10)
    assert_type(paginator, AsyncPaginator[models.ArtistRelease])
    page = await paginator
    assert_type(page, AsyncPage[models.ArtistRelease])
    assert_type(page.items, list[models.ArtistRelease])
    assert_type(page.pagination, PageInfo)
    assert_type(await page.next_page(), AsyncPage[models.ArtistRelease] | None)
    assert_type(page.iter_pages(), AsyncIterator[AsyncPage[models.ArtistRelease]])
    async for release in discogs.artists.releases(108713, limit=250):
        assert_type(release, models.ArtistRelease)
    async for result in discogs.search(q="x"):
        assert_type(result, models.SearchResult)

    releases = await asyncio.gather(*(discogs.releases.get(i) for i in (1, 2)))
    assert_type(releases, list[models.Release])
    assert_type(await discogs.releases.rating.get(1, "a/b?c"), models.ReleaseRating)
    assert_type(await discogs.inventory.exports.download(1, Path("export.csv")), Path)
    assert_type(await discogs.users.wants.delete("me", 1), None)
    assert_type(discogs.last_response, RawResponse | None)
    assert_type(discogs.rate_limit, RateLimitState)

    async with AsyncDiscogs(token="t") as client:
        assert_type(client, AsyncDiscogs)
        assert_type(await client.artists.get(1), models.Artist)


async def wrong_calls(discogs: AsyncDiscogs) -> None:
    """Every line is an error mypy must report."""
    await discogs.artists.get("108713")  # type: ignore[arg-type]
    discogs.artists.releases(1, sort="popularity")  # type: ignore[arg-type]
    await discogs.artists.get(1, colour="red")  # type: ignore[call-arg]
    label: models.Label = await discogs.artists.get(1)  # type: ignore[assignment]
    print(label)
    AsyncDiscogs(token=123)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_the_wrong_calls_are_also_refused_at_run_time() -> None:
    async with AsyncDiscogs(rate_limit=None, max_retries=0) as discogs:
        with pytest.raises(InvalidParameterError, match=r"^artist_id: "):
            await discogs.artists.get("108713")  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match=r"^sort: "):  # at the call, before any await
            discogs.artists.releases(1, sort="popularity")  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match=r"^limit: "):
            discogs.search(limit=0)
        with pytest.raises(TypeError):
            await discogs.artists.get(1, colour="red")  # type: ignore[call-arg]
        assert discogs.metrics.requests == 0
