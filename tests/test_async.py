"""What only the async client has: awaitable and async-iterable lists, tasks, cancellation, sessions.

Everything both clients share (calls, errors, pages, retries, limits) runs for both in the other test
modules through tests/_clients.py; these tests drive ``AsyncDiscogs`` directly with pytest-asyncio,
against the same real local servers.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from _sdk_server import TOTAL, DiscogsServer, Reply, Seen, artist_body

from musicagent import APITimeoutError, AsyncDiscogs, AsyncPage, AsyncPaginator, Discogs, models
from musicagent.export import to_csv, to_jsonl

pytestmark = pytest.mark.asyncio


@pytest.fixture
def server() -> Iterator[DiscogsServer]:
    with DiscogsServer() as s:
        yield s


@pytest_asyncio.fixture
async def discogs(server: DiscogsServer) -> AsyncIterator[AsyncDiscogs]:
    async with AsyncDiscogs(base_url=server.url, rate_limit=None, max_retries=0, env={}) as client:
        yield client


# -- lists: await for the first page, async for every item ---------------------------------------


async def test_a_list_method_sends_nothing_until_awaited_or_iterated(
    discogs: AsyncDiscogs, server: DiscogsServer
) -> None:
    paginator = discogs.artists.releases(1)
    assert isinstance(paginator, AsyncPaginator)
    await asyncio.sleep(0.05)
    assert server.requests == []

    page = await paginator
    assert isinstance(page, AsyncPage)
    assert [r.id for r in page.items] == list(range(1, 101))
    assert server.pages_requested() == [1]
    following = await page.next_page()
    assert following is not None and following.items[0].id == 101
    assert server.pages_requested() == [1, 2]


@pytest.mark.parametrize(("limit", "pages"), [(None, [1, 2, 3]), (100, [1]), (101, [1, 2]), (250, [1, 2, 3])])
async def test_async_for_over_the_call_walks_every_page_only_as_needed(
    discogs: AsyncDiscogs, server: DiscogsServer, limit: int | None, pages: list[int]
) -> None:
    seen: list[int] = []
    async for release in discogs.artists.releases(1, limit=limit):
        assert isinstance(release, models.ArtistRelease)
        seen.append(release.id)
    assert seen == list(range(1, (limit or TOTAL) + 1))
    assert server.pages_requested() == pages


async def test_breaking_out_early_fetches_no_further_page(discogs: AsyncDiscogs, server: DiscogsServer) -> None:
    async for release in discogs.artists.releases(1):
        if release.id == 100:
            break
    assert server.pages_requested() == [1]


async def test_iter_pages_of_the_paginator(discogs: AsyncDiscogs) -> None:
    numbers = [page.pagination.page async for page in discogs.artists.releases(1).iter_pages()]
    assert numbers == [1, 2, 3]


async def test_concurrent_calls_share_one_client(discogs: AsyncDiscogs, server: DiscogsServer) -> None:
    artists = await asyncio.gather(*(discogs.artists.get(i) for i in range(1, 51)))
    assert [a.id for a in artists] == list(range(1, 51))
    assert len(server.requests) == 50
    assert discogs.metrics.requests == 50


async def test_last_response_is_per_task(discogs: AsyncDiscogs) -> None:
    async def fetch(artist_id: int) -> str:
        await discogs.artists.get(artist_id)
        assert discogs.last_response is not None
        return discogs.last_response.url

    urls = await asyncio.gather(*(fetch(i) for i in (1, 2, 3)))
    assert [u.rsplit("/", 1)[1] for u in urls] == ["1", "2", "3"]
    await discogs.artists.get(9)
    assert discogs.last_response is not None and discogs.last_response.url.endswith("/artists/9")


# -- export takes an async iterable ---------------------------------------------------------------


async def test_export_of_an_async_list_equals_the_sync_export(
    discogs: AsyncDiscogs, server: DiscogsServer, tmp_path: Path
) -> None:
    written = await to_csv(discogs.artists.releases(1, limit=150), tmp_path / "async.csv")
    assert written == 150
    assert server.pages_requested() == [1, 2]
    with Discogs(base_url=server.url, rate_limit=None, env={}) as sync:
        to_csv(sync.artists.releases(1, limit=150), tmp_path / "sync.csv")
    assert (tmp_path / "async.csv").read_bytes() == (tmp_path / "sync.csv").read_bytes()


async def test_an_export_that_fails_midway_leaves_no_file(
    discogs: AsyncDiscogs, server: DiscogsServer, tmp_path: Path
) -> None:
    def third_page_fails(seen: Seen) -> Reply:
        if seen.query.get("page") == "2":
            return 404, {"Content-Type": "application/json"}, b'{"message": "gone"}'
        return server.reply(Seen(seen.method, seen.target.replace("/artists/7/", "/artists/1/"), {}, b""))

    server.routes["/artists/7/releases"] = third_page_fails
    target = tmp_path / "out.jsonl"
    with pytest.raises(Exception, match="gone"):
        await to_jsonl(discogs.artists.releases(7), target)
    assert list(tmp_path.iterdir()) == []


async def test_a_cancelled_export_leaves_no_file_and_stops_fetching(
    discogs: AsyncDiscogs, server: DiscogsServer, tmp_path: Path
) -> None:
    release_second_page = threading.Event()

    def slow_second_page(seen: Seen) -> Reply:
        if seen.query.get("page") == "2":
            release_second_page.wait(5)
        return server.reply(Seen(seen.method, seen.target.replace("/artists/8/", "/artists/1/"), {}, b""))

    server.routes["/artists/8/releases"] = slow_second_page
    task = asyncio.create_task(to_jsonl(discogs.artists.releases(8), tmp_path / "out.jsonl"))
    while server.pages_requested() != [1, 2]:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release_second_page.set()
    await asyncio.sleep(0.2)
    assert list(tmp_path.iterdir()) == []
    assert server.pages_requested() == [1, 2]


# -- cancellation, deadline, closing --------------------------------------------------------------


class CountingServer:
    """A raw asyncio HTTP server that knows how many connections are open and can hold answers."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.open = 0
        self.requests = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CountingServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        if hasattr(self._server, "close_clients"):  # Python 3.13+
            self._server.close_clients()
        await asyncio.sleep(0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                artist_id = int(head.split(b" ", 2)[1].rsplit(b"/", 1)[1])
                if self.delay:
                    try:  # hold the answer, but notice a client that hangs up meanwhile
                        if await asyncio.wait_for(reader.read(1), self.delay) == b"":
                            return
                    except TimeoutError:
                        pass
                body = json.dumps(artist_body(artist_id)).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.open -= 1
            writer.close()


async def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_a_cancelled_call_closes_its_connection() -> None:
    async with CountingServer(delay=10) as server:
        client = AsyncDiscogs(base_url=server.url, rate_limit=None, max_retries=0, env={})
        task = asyncio.create_task(client.artists.get(1))
        await _until(lambda: server.requests == 1)
        assert server.open == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _until(lambda: server.open == 0)  # not left half-read in the pool
        await client.aclose()


async def test_closing_the_client_closes_its_connections() -> None:
    async with CountingServer() as server:
        async with AsyncDiscogs(base_url=server.url, rate_limit=None, env={}) as client:
            await asyncio.gather(*(client.artists.get(i) for i in range(1, 6)))
            assert server.open >= 1  # kept alive for the next call
        await _until(lambda: server.open == 0)
        # the client stays usable: a new session opens on demand (and is closed again)
        assert (await client.artists.get(7)).id == 7
        await client.aclose()
        await _until(lambda: server.open == 0)


async def test_the_deadline_bounds_the_whole_call() -> None:
    async with CountingServer(delay=30) as server:
        client = AsyncDiscogs(base_url=server.url, rate_limit=None, timeout=20, deadline=0.5, env={})
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            await client.artists.get(1)
        assert time.monotonic() - started < 3.0  # 0.5 s, with room for a loaded machine
        await client.aclose()


async def test_concurrent_attempts_are_each_cut_at_their_own_timeout() -> None:
    """One timer keeps every attempt's bound: a later, shorter bound is kept first, a longer one still after it."""
    async with CountingServer(delay=4) as server:
        client = AsyncDiscogs(base_url=server.url, rate_limit=None, max_retries=0, timeout=20, env={})
        started = time.monotonic()
        ended: dict[str, float] = {}

        async def call(name: str, timeout: float | None) -> object:
            try:
                return await client.artists.get(1, timeout=timeout)
            finally:
                ended[name] = time.monotonic() - started

        patient = asyncio.create_task(call("patient", None))  # its 20 s bound is set first
        await _until(lambda: server.requests == 1)
        short = asyncio.create_task(call("short", 0.3))
        longer = asyncio.create_task(call("longer", 1.5))
        with pytest.raises(APITimeoutError):
            await short
        with pytest.raises(APITimeoutError):
            await longer
        assert (await patient).id == 1  # answered after 4 s: no other bound cut it
        assert ended["short"] < ended["longer"] < ended["patient"]
        assert ended["short"] < 2.5 and ended["longer"] < 3.5  # well before the 4 s answer, with room for load
        await client.aclose()


async def test_a_call_cancelled_while_bounded_stays_cancelled_and_the_next_is_bounded() -> None:
    """Cancelling a task is not turned into a timeout, and leaves nothing behind that cuts a later call."""
    async with CountingServer(delay=2) as server:
        client = AsyncDiscogs(base_url=server.url, rate_limit=None, max_retries=0, timeout=0.5, env={})
        task = asyncio.create_task(client.artists.get(1, timeout=10))
        await _until(lambda: server.requests == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            await client.artists.get(2)  # the client's 0.5 s timeout
        assert time.monotonic() - started < 1.8  # the 2 s answer is not waited for
        await client.aclose()


async def test_static_headers_are_sent_and_extra_headers_replace_them(
    discogs: AsyncDiscogs, server: DiscogsServer
) -> None:
    await discogs.artists.get(1)
    await discogs.artists.get(1, extra_headers={"accept": "application/vnd.discogs.v2.plaintext+json"})
    first, second = server.requests[-2].headers, server.requests[-1].headers
    assert first["User-Agent"].startswith("musicagent/") and first["Accept"] == "application/json"
    assert first["Accept-Encoding"] == "gzip, deflate"
    assert [v for k, v in second.items() if k.lower() == "accept"] == ["application/vnd.discogs.v2.plaintext+json"]
    assert first["X-Request-Id"] != second["X-Request-Id"]


async def test_waiting_for_the_limiter_can_be_cancelled_without_taking_a_slot() -> None:
    async with CountingServer() as server, AsyncDiscogs(base_url=server.url, rate_limit=(2, 1.5), env={}) as client:
        await client.artists.get(1)
        await client.artists.get(2)  # the window is full now
        waiting = [asyncio.create_task(client.artists.get(i)) for i in range(3, 8)]
        await asyncio.sleep(0.2)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        assert all(task.cancelled() for task in waiting)
        assert server.requests == 2
        assert client.rate_limit.local_in_window == 2  # the cancelled waits took no slot
        # The turn was handed back: the next call gets the next free slot (a turn still held
        # by a cancelled task would leave it waiting forever).
        await asyncio.wait_for(client.artists.get(9), 10)
        assert server.requests == 3


# -- import cost ----------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The test <Function")
def test_aiohttp_is_imported_only_when_the_async_client_sends() -> None:
    code = (
        "import sys, musicagent\n"
        "assert 'aiohttp' not in sys.modules and 'musicagent._runtime.async_transport' not in sys.modules\n"
        "from musicagent import AsyncDiscogs\n"
        "AsyncDiscogs(token='t')\n"
        "assert 'aiohttp' not in sys.modules, 'built, nothing sent: aiohttp not needed yet'\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.filterwarnings("ignore:The test <Function")
def test_one_client_serves_successive_event_loops(server: DiscogsServer) -> None:
    """asyncio.run() twice (a script, a notebook cell): the session and the limiter's turn follow the loop."""
    client = AsyncDiscogs(base_url=server.url, rate_limit=(100, 60.0), env={})

    async def twice() -> list[int]:
        return [(await client.artists.get(i)).id for i in (1, 2)]

    assert asyncio.run(twice()) == [1, 2]
    assert asyncio.run(twice()) == [1, 2]
    asyncio.run(client.aclose())
