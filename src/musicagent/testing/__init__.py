"""Test helpers: the offline Discogs (a real HTTP server) with stubs, for sync and async code and pytest.

A client wired to a fresh mock server (any test runner, scripts, notebooks)::

    from musicagent.testing import mock_discogs

    with mock_discogs() as discogs:                 # packaged cassettes, a free port
        assert discogs.artists.get(108713).name
        discogs.mock_server.stub("GET", "/artists/{id}", json={"id": 1, "name": "Stubbed", "resource_url": ""})
        assert discogs.artists.get(1).name == "Stubbed"
        discogs.mock_server.assert_requested("GET", "/artists/1", times=1)

An ``AsyncDiscogs`` wired the same way (its session closed when the block ends)::

    async with async_mock_discogs() as discogs:
        assert (await discogs.artists.get(108713)).name

Only the server, for any client, sync or async (it is an HTTP server in its own thread, so an
asyncio or aiohttp client simply talks to ``server.url``)::

    with mock_server() as server: ...               # or: async with mock_server() as server: ...

pytest: enable the plugin once (``conftest.py``) and ask for a fixture::

    pytest_plugins = ["musicagent.testing.pytest_plugin"]

    def test_artist(discogs_mock):                  # a client; discogs_mock.mock_server is its server
        assert discogs_mock.artists.get(108713).name

    async def test_async(discogs_mock_server):      # the server alone, for async clients
        ...

    async def test_async_client(async_discogs_mock):   # an AsyncDiscogs (needs pytest-asyncio)
        assert (await async_discogs_mock.artists.get(108713)).name

Override the ``discogs_mock_cassettes`` fixture (a directory or file of vcrpy cassettes) to serve
your own recordings, and ``discogs_mock_options`` (a dict of :class:`~musicagent.mock.MockServer`
keyword arguments: ``strict=True``, ``user="me"``, ...) to configure the server. Each use starts
its own server, so rate-limit windows, state and stubs never leak between tests. The client ignores
``DISCOGS_*`` variables and ``.env`` files (tests stay hermetic) and any keyword argument is passed
on to ``Discogs`` (``max_retries=0`` to see 429s at once, ...). Importing this module never imports pytest.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from ..lib.async_client import AsyncDiscogs
from ..lib.client import Discogs
from ..mock import MockServer, RecordedRequest, Stub

__all__ = [
    "MOCK_TOKEN",
    "AsyncMockDiscogs",
    "MockDiscogs",
    "MockServer",
    "RecordedRequest",
    "Stub",
    "async_mock_discogs",
    "mock_discogs",
    "mock_server",
]

MOCK_TOKEN = "mock-token"


class MockDiscogs(Discogs):
    """A ``Discogs`` client that also knows the mock server it talks to (``mock_server``)."""

    mock_server: MockServer


class AsyncMockDiscogs(AsyncDiscogs):
    """An ``AsyncDiscogs`` client that also knows the mock server it talks to (``mock_server``)."""

    mock_server: MockServer


def mock_server(cassettes: Path | str | None = None, **server_options: Any) -> MockServer:
    """A mock server on a free port, not started yet: use it with ``with`` or ``async with``.

    ``server_options`` are :class:`~musicagent.mock.MockServer`'s (``strict``, ``user``,
    ``rate_limit``, ``ssl_context``, ...).
    """
    return MockServer(cassettes, **{"port": 0, **server_options})


@contextmanager
def mock_discogs(
    cassettes: Path | str | None = None,
    *,
    rate_limit: tuple[int, float] | None = (60, 60.0),
    strict: bool = False,
    server_options: dict[str, Any] | None = None,
    **client_kwargs: Any,
) -> Iterator[MockDiscogs]:
    """Start a :class:`~musicagent.mock.MockServer` on a free port and yield a client bound to it.

    ``rate_limit`` sizes both the server's window and the client's limiter, as with the real API;
    ``strict`` makes every answer that is not a recording (or a stub, or state) a 501.
    The server stops, and the client's connections close, when the block ends.
    """
    with mock_server(cassettes, rate_limit=rate_limit, strict=strict, **(server_options or {})) as server:
        client = MockDiscogs(**_client_options(server, rate_limit, client_kwargs))
        client.mock_server = server
        try:
            yield client
        finally:
            client.close()


def _client_options(server: MockServer, rate_limit: tuple[int, float] | None, given: dict[str, Any]) -> dict[str, Any]:
    """Hermetic settings for a client of ``server`` (no DISCOGS_* variables, no .env)."""
    return {
        "token": MOCK_TOKEN,
        "rate_limit": rate_limit,
        "env": {},
        "dotenv": os.devnull,
        **given,
        "base_url": server.url,
    }


@asynccontextmanager
async def async_mock_discogs(
    cassettes: Path | str | None = None,
    *,
    rate_limit: tuple[int, float] | None = (60, 60.0),
    strict: bool = False,
    server_options: dict[str, Any] | None = None,
    **client_kwargs: Any,
) -> AsyncIterator[AsyncMockDiscogs]:
    """:func:`mock_discogs` for asyncio: an ``AsyncDiscogs`` bound to a fresh server (``.mock_server``).

    The client's session is closed, and the server stopped, when the block ends.
    """
    async with mock_server(cassettes, rate_limit=rate_limit, strict=strict, **(server_options or {})) as server:
        client = AsyncMockDiscogs(**_client_options(server, rate_limit, client_kwargs))
        client.mock_server = server
        try:
            yield client
        finally:
            await client.aclose()
