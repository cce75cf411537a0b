"""What list validation costs the garbage collector, and that it leaves the collector as it found it.

Pausing it during validation is a measured CPU lever for long lists (docs/benchmarks.md); what a
user relies on is that the collector's state after any call, answered or failed, is the one they
set.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from _sdk_server import DiscogsServer, Seen

from musicagent import Discogs, ResponseValidationError


@pytest.fixture
def server() -> Iterator[DiscogsServer]:
    with DiscogsServer() as s:
        yield s


@pytest.fixture
def discogs(server: DiscogsServer) -> Discogs:
    return Discogs(token="t0k3n-gc", base_url=server.url, rate_limit=None, max_retries=0)


@pytest.fixture
def collector_state() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def _bad_artist(seen: Seen) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, b'{"id": "not a number", "name": 5}'


@pytest.mark.usefixtures("collector_state")
def test_an_enabled_collector_is_enabled_after_calls_that_succeed_or_fail(
    discogs: Discogs, server: DiscogsServer
) -> None:
    gc.enable()
    assert len(list(discogs.artists.releases(1, per_page=100, limit=250))) == 250
    assert gc.isenabled()
    server.routes["/artists/9"] = _bad_artist
    with pytest.raises(ResponseValidationError):
        discogs.artists.get(9)
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_state")
def test_a_collector_the_application_turned_off_stays_off(discogs: Discogs) -> None:
    gc.disable()
    assert discogs.artists.get(1).id == 1
    assert len(list(discogs.artists.releases(1, per_page=100, limit=150))) == 150
    assert not gc.isenabled()


def _real_page(items: int) -> bytes:
    """A real artist-releases page (cassette 108713-page1, 50 items) grown to ``items`` by repeating them."""
    import json
    from pathlib import Path

    from musicagent.mock._cassettes import read_cassette

    cassette = Path(__file__).resolve().parents[1] / "cassettes" / "artists.releases" / "108713-page1.yaml"
    body = json.loads(read_cassette(cassette)[0].body)
    real = body["releases"]
    body["releases"] = [real[n % len(real)] for n in range(items)]
    return json.dumps(body).encode()


@pytest.mark.usefixtures("collector_state")
def test_a_100_item_page_stays_under_the_collectors_threshold() -> None:
    """A 100-item page builds fewer tracked objects than the 700 allocations that start a collection.

    Past it, every page walked would run the collector over the page being built and promote it to
    older generations, whose collections walk the whole heap: the list walk's largest CPU cost
    before the count blocks became records (docs/benchmarks.md).
    """
    from musicagent.models import ArtistReleasesPage

    body = _real_page(100)
    ArtistReleasesPage.model_validate_json(body)  # schema built outside the count
    gc.collect()
    gc.disable()
    before = len(gc.get_objects())
    page = ArtistReleasesPage.model_validate_json(body)
    built = len(gc.get_objects()) - before
    assert len(page.releases) == 100 and all(item.stats is not None for item in page.releases)
    assert built < gc.get_threshold()[0], built


def test_records_read_and_dump_like_the_models_they_replaced() -> None:
    """Counts under ``stats`` are typed attributes; a dump keeps only what the answer had."""
    import json

    from musicagent.models import ArtistRelease, ArtistReleasesPage, ItemCounts

    body = json.loads(_real_page(1))
    sent = body["releases"][0]
    sent["stats"]["community"]["in_lists"] = 3  # a key Discogs might add to the count block
    sent["flagged"] = True  # and one it might add to the item
    item = ArtistReleasesPage.model_validate_json(json.dumps(body)).releases[0]
    assert isinstance(item, ArtistRelease) and item.model_extra == {"flagged": True}
    assert item.stats is not None and isinstance(item.stats.community, ItemCounts)
    assert item.stats.community.in_collection == sent["stats"]["community"]["in_collection"]
    assert item.stats.user is None
    dumped = item.model_dump(mode="json", exclude_unset=True)
    del sent["stats"]["community"]["in_lists"]  # records keep no unknown keys (see _runtime/model.py)
    assert dumped == sent
    assert json.loads(item.model_dump_json(exclude_unset=True)) == sent
