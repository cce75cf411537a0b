"""The async client's limiter against a real server enforcing Discogs' moving window.

Concurrency here is tasks, not threads: many coroutines of one ``AsyncDiscogs`` share its allowance,
and a store (SQLite, Redis) shares it with sync clients too. Every test asserts the server's view:
no 429, never more than the limit in any window.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from musicagent import AsyncDiscogs, Discogs

from .conftest import TOKEN, LocalServer

pytestmark = pytest.mark.asyncio


@pytest.mark.slow
async def test_a_hundred_tasks_share_one_limit_without_a_429(server: LocalServer) -> None:
    server.limit, server.window = 20, 1.0
    async with AsyncDiscogs(base_url=server.url, token=TOKEN, rate_limit=(20, 1.0), max_retries=0, env={}) as d:
        # Open the pool's connections first, then let both windows pass: a loaded machine can take
        # longer than the limiter's margin to accept twenty new connections at once.
        await asyncio.gather(*(d.artists.get(i) for i in range(1, 21)))
        await asyncio.sleep(1.3)
        artists = await asyncio.gather(*(d.artists.get(i) for i in range(1, 101)))
        assert [a.id for a in artists] == list(range(1, 101))
        assert d.metrics.rate_limited == 0
        assert d.metrics.limiter_wait_seconds > 0  # they did have to wait
    assert server.count() == 120
    assert server.rejected == 0
    assert server.max_in_window() <= 20


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def test_a_store_shares_the_window_with_sync_clients(
    server: LocalServer, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    server.limit, server.window = 8, 1.0
    store = f"sqlite:///{tmp_path / 'limit.db'}" if kind == "sqlite" else request.getfixturevalue("redis_store")
    options = {"base_url": server.url, "token": TOKEN, "rate_limit": (8, 1.0), "rate_limit_store": store}
    sync = Discogs(max_retries=0, env={}, **options)  # type: ignore[arg-type]

    def sync_worker() -> None:
        for _ in range(12):
            sync.request("GET", "/sync")

    async with AsyncDiscogs(max_retries=0, env={}, **options) as d:  # type: ignore[arg-type]
        await d.request("GET", "/async")
        assert sync.rate_limit.local_in_window == 1  # one log for both clients
        thread = threading.Thread(target=sync_worker)
        thread.start()
        await asyncio.gather(*(d.request("GET", "/async") for _ in range(15)))
        await asyncio.to_thread(thread.join, 60)
        assert d.metrics.rate_limited == 0
    sync.close()
    assert sync.metrics.rate_limited == 0
    assert server.count() == 28
    assert server.rejected == 0
    assert server.max_in_window() <= 8
