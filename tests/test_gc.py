"""Validation pauses the cyclic garbage collector and leaves it as it found it.

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
