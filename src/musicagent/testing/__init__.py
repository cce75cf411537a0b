"""Test helpers: a ``Discogs`` client wired to a fresh mock server, as a context manager or pytest fixture.

Context manager (any test runner, scripts, notebooks)::

    from musicagent.testing import mock_discogs

    with mock_discogs() as discogs:                 # packaged cassettes, a free port
        assert discogs.artists.get(108713).name
        discogs.mock_server.url                     # the MockServer behind it

pytest: enable the plugin once (``conftest.py``) and ask for the fixture::

    pytest_plugins = ["musicagent.testing.pytest_plugin"]

    def test_artist(discogs_mock):
        assert discogs_mock.artists.get(108713).name

asyncio: ``async with async_mock_discogs() as discogs`` gives an ``AsyncDiscogs`` bound to a fresh mock
server (its session is closed when the block ends), and the plugin's ``async_discogs_mock`` fixture does
the same for ``async def`` tests when pytest-asyncio is installed.

Override the ``discogs_mock_cassettes`` fixture (a directory or file of vcrpy cassettes) to serve
your own recordings. Each use starts its own server, so rate-limit windows never leak between
tests. The client ignores ``DISCOGS_*`` variables and ``.env`` files (tests stay hermetic) and
any keyword argument is passed on to ``Discogs`` (``max_retries=0`` to see 429s at once, ...).
Importing this module never imports pytest.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from ..lib.async_client import AsyncDiscogs
from ..lib.client import Discogs
from ..mock import MockServer

__all__ = ["MOCK_TOKEN", "AsyncMockDiscogs", "MockDiscogs", "async_mock_discogs", "mock_discogs"]

MOCK_TOKEN = "mock-token"


class MockDiscogs(Discogs):
    """A ``Discogs`` client that also knows the mock server it talks to (``mock_server``)."""

    mock_server: MockServer


class AsyncMockDiscogs(AsyncDiscogs):
    """An ``AsyncDiscogs`` client that also knows the mock server it talks to (``mock_server``)."""

    mock_server: MockServer


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


@contextmanager
def mock_discogs(
    cassettes: Path | str | None = None,
    *,
    rate_limit: tuple[int, float] | None = (60, 60.0),
    **client_kwargs: Any,
) -> Iterator[MockDiscogs]:
    """Start a :class:`~musicagent.mock.MockServer` on a free port and yield a client bound to it.

    ``rate_limit`` sizes both the server's window and the client's limiter, as with the real API.
    The server stops, and the client's connections close, when the block ends.
    """
    with MockServer(cassettes, rate_limit=rate_limit) as server:
        client = MockDiscogs(**_client_options(server, rate_limit, client_kwargs))
        client.mock_server = server
        try:
            yield client
        finally:
            client.close()


@asynccontextmanager
async def async_mock_discogs(
    cassettes: Path | str | None = None,
    *,
    rate_limit: tuple[int, float] | None = (60, 60.0),
    **client_kwargs: Any,
) -> AsyncIterator[AsyncMockDiscogs]:
    """:func:`mock_discogs` for asyncio: ``async with async_mock_discogs() as discogs: await ...``."""
    with MockServer(cassettes, rate_limit=rate_limit) as server:
        client = AsyncMockDiscogs(**_client_options(server, rate_limit, client_kwargs))
        client.mock_server = server
        try:
            yield client
        finally:
            await client.aclose()
